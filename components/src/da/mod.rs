//! Data availability: a blob's layout as a 2D Reed–Solomon square and the commitments to it.
//!
//! A blob of `n` bytes fills a `k × k` square of 256-byte shares (row-major; the blob, then zero
//! padding, then its length in the square's last 4 bytes, little-endian, as 0G's encoder does),
//! `k` the smallest that fits. Extended with reed-solomon-simd's GF(2^16) code to `2k × 2k`:
//! every row and every column of the extended square is a codeword of `k` data and `k` parity
//! shares. Each row and column is committed by a Merkle root over its shares, and the data root
//! binds `k` to a tree over the `2k` row roots followed by the `2k` column roots (domain-separated
//! trees of fixed shape, see [`merkle`]: 0G's storage tree let a fraud proof lie about `k`).
//!
//! The square's commitment format lives here (data and its invariants); extending, repairing and
//! checking fraud proofs, which need the codec, are behaviour: the systems crate's `da` module.

pub mod blob;
pub mod merkle;
pub mod piece;
pub mod square;
pub mod wire;

pub use blob::{BlobReport, BlobStatus, DaBlob, DaIndex, DaView, DaWindows, DispersalPhase, DispersalReports, LocalDispersal};
pub use square::{
    Axis, AxisRoots, BadEncodingProof, DaError, ExtendedSquare, Share, ShareProof, SquareLayout, LENGTH_BYTES, MAX_BLOB_SIZE,
    SHARE_SIZE,
};
