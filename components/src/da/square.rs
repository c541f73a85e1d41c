//! The square's layout, its commitments (axis roots, data root) and the proofs that point into it.

use alloy_primitives::B256;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::merkle::{self, DaTree};
use crate::storage::merkle::{Proof, ProofError};

/// Bytes of one share: one 0G storage chunk, so a share's leaf is a storage leaf.
pub const SHARE_SIZE: usize = 256;
/// The largest blob, as 0G's disperser allows (31 MiB less the 4 length bytes).
pub const MAX_BLOB_SIZE: usize = 32_505_852;
/// The blob's length sits in the original square's last bytes (little-endian u32).
pub const LENGTH_BYTES: usize = 4;

pub type Share = [u8; SHARE_SIZE];

/// A row or a column of the extended square.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Axis {
    Row,
    Column,
}

impl Axis {
    pub fn other(self) -> Axis {
        match self {
            Axis::Row => Axis::Column,
            Axis::Column => Axis::Row,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DaError {
    #[error("the blob is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("the square is {got} bytes; a {k}×{k} square holds {expected}")]
    SquareSize { k: usize, got: usize, expected: usize },
    #[error("the square's length field says {length} bytes, more than its {capacity} bytes hold")]
    BadLength { length: usize, capacity: usize },
    #[error("share ({row}, {column}) is outside a {width}×{width} square")]
    OutOfSquare { row: usize, column: usize, width: usize },
    #[error("share proof: {0}")]
    Proof(#[from] ProofError),
    #[error("a share is {got} bytes, not {SHARE_SIZE}")]
    ShareSize { got: usize },
    #[error("{0}")]
    Malformed(&'static str),
}

/// How big a blob's square is: `k × k` original shares, extended to `2k × 2k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SquareLayout {
    pub k: usize,
}

impl SquareLayout {
    /// The smallest square that holds a blob of `len` bytes and its length.
    pub fn for_blob(len: usize) -> Result<Self, DaError> {
        if len > MAX_BLOB_SIZE {
            return Err(DaError::TooLarge { size: len, max: MAX_BLOB_SIZE });
        }
        let shares = (len + LENGTH_BYTES).div_ceil(SHARE_SIZE);
        let mut k = (shares as f64).sqrt() as usize;
        while k * k < shares {
            k += 1;
        }
        Ok(Self { k: k.max(1) })
    }

    /// Shares along one side of the extended square.
    pub fn width(&self) -> usize {
        2 * self.k
    }

    /// Bytes of the original `k × k` square.
    pub fn original_bytes(&self) -> usize {
        self.k * self.k * SHARE_SIZE
    }

    /// Bytes of the extended `2k × 2k` square.
    pub fn extended_bytes(&self) -> usize {
        4 * self.original_bytes()
    }

    /// Leaves of the data root's tree: `2k` rows, then `2k` columns.
    pub fn axes(&self) -> usize {
        2 * self.width()
    }

    /// Where axis `index` sits among the data root's leaves.
    pub fn axis_position(&self, axis: Axis, index: usize) -> usize {
        match axis {
            Axis::Row => index,
            Axis::Column => self.width() + index,
        }
    }
}

/// The original square of a blob: the blob, zero padding, its length in the last 4 bytes.
pub fn original_square(blob: &[u8]) -> Result<(SquareLayout, Vec<u8>), DaError> {
    let layout = SquareLayout::for_blob(blob.len())?;
    let mut square = vec![0u8; layout.original_bytes()];
    square[..blob.len()].copy_from_slice(blob);
    let at = square.len() - LENGTH_BYTES;
    square[at..].copy_from_slice(&(blob.len() as u32).to_le_bytes());
    Ok((layout, square))
}

/// The blob back from its original square's bytes.
pub fn blob_from_original(layout: SquareLayout, original: &[u8]) -> Result<Vec<u8>, DaError> {
    if original.len() != layout.original_bytes() {
        return Err(DaError::SquareSize { k: layout.k, got: original.len(), expected: layout.original_bytes() });
    }
    let capacity = original.len() - LENGTH_BYTES;
    let mut length = [0u8; LENGTH_BYTES];
    length.copy_from_slice(&original[capacity..]);
    let length = u32::from_le_bytes(length) as usize;
    if length > capacity {
        return Err(DaError::BadLength { length, capacity });
    }
    Ok(original[..length].to_vec())
}

/// The `2k × 2k` extended square, row-major: the original square is its top-left quarter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendedSquare {
    pub layout: SquareLayout,
    pub data: Vec<u8>,
}

impl ExtendedSquare {
    fn offset(&self, row: usize, column: usize) -> usize {
        (row * self.layout.width() + column) * SHARE_SIZE
    }

    /// Share (row, column); `None` outside the square.
    pub fn share(&self, row: usize, column: usize) -> Option<&[u8]> {
        let width = self.layout.width();
        (row < width && column < width).then(|| &self.data[self.offset(row, column)..self.offset(row, column) + SHARE_SIZE])
    }

    /// Row `index`'s `2k` shares, contiguous.
    pub fn row(&self, index: usize) -> &[u8] {
        let width = self.layout.width();
        &self.data[index * width * SHARE_SIZE..(index + 1) * width * SHARE_SIZE]
    }

    /// Column `index`'s `2k` shares, copied out.
    pub fn column(&self, index: usize) -> Vec<u8> {
        // Share by share, not byte by byte: a byte-wise gather was 4 % of a dispersal's CPU.
        let mut column = Vec::with_capacity(self.layout.width() * SHARE_SIZE);
        for row in 0..self.layout.width() {
            column.extend_from_slice(&self.data[self.offset(row, index)..self.offset(row, index) + SHARE_SIZE]);
        }
        column
    }

    /// The original square's bytes (its top-left quarter).
    pub fn original(&self) -> Vec<u8> {
        let half = self.layout.k * SHARE_SIZE;
        let mut original = Vec::with_capacity(self.layout.k * half);
        for row in 0..self.layout.k {
            original.extend_from_slice(&self.row(row)[..half]);
        }
        original
    }

    /// The leaf hash of every share, row-major (each leaf serves its row's tree and its column's).
    pub fn leaf_hashes(&self) -> Vec<B256> {
        self.data.par_chunks(SHARE_SIZE).map(merkle::leaf_hash).collect()
    }

    /// The square's commitments.
    pub fn commit(&self) -> AxisRoots {
        AxisRoots::from_leaf_hashes(self.layout, &self.leaf_hashes())
    }
}

/// The Merkle root of one axis's shares (given as their leaf hashes).
pub fn axis_root(leaves: Vec<B256>) -> B256 {
    DaTree::build(leaves).root()
}

/// The Merkle root of one axis given as its `2k` shares back to back.
pub fn axis_root_of_shares(shares: &[u8]) -> B256 {
    merkle::root_of_shares(shares, SHARE_SIZE)
}

/// Checks that `axis_root` is axis `index`'s root in the square of `layout` under `data_root`:
/// the proof climbs the axis tree (its first lemma entry the axis root's leaf hash) to a root
/// that, bound with `k`, is the data root.
pub fn verify_axis_root(data_root: &B256, layout: SquareLayout, axis: Axis, index: usize, axis_root: &B256, proof: &Proof) -> Result<(), DaError> {
    let width = layout.width();
    if index >= width {
        let (row, column) = match axis {
            Axis::Row => (index, 0),
            Axis::Column => (0, index),
        };
        return Err(DaError::OutOfSquare { row, column, width });
    }
    let top = merkle::climb(proof, &merkle::leaf_hash(axis_root.as_slice()), layout.axis_position(axis, index), layout.axes())?;
    if merkle::data_root_of(layout.k, &top) != *data_root {
        return Err(ProofError::WrongRoot.into());
    }
    Ok(())
}

/// The root of every row and every column of a square, and over them the data root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxisRoots {
    pub layout: SquareLayout,
    pub rows: Vec<B256>,
    pub columns: Vec<B256>,
}

impl AxisRoots {
    /// From the leaf hashes of every share, row-major.
    pub fn from_leaf_hashes(layout: SquareLayout, leaves: &[B256]) -> Self {
        let width = layout.width();
        let rows = (0..width).into_par_iter().map(|r| axis_root(leaves[r * width..(r + 1) * width].to_vec())).collect();
        let columns = (0..width).into_par_iter().map(|c| axis_root((0..width).map(|r| leaves[r * width + c]).collect())).collect();
        Self { layout, rows, columns }
    }

    /// The `4k` roots as they travel: rows, then columns.
    pub fn to_wire(&self) -> Vec<[u8; 32]> {
        self.rows.iter().chain(&self.columns).map(|r| r.0).collect()
    }

    /// The tree over the `2k` row roots followed by the `2k` column roots (as leaves).
    pub fn tree(&self) -> DaTree {
        DaTree::build(self.rows.iter().chain(&self.columns).map(|root| merkle::leaf_hash(root.as_slice())).collect())
    }

    /// What the chain and the DA nodes know a blob by: the axis tree's root bound with `k`.
    pub fn data_root(&self) -> B256 {
        self.data_root_with(&self.tree())
    }

    /// [`Self::data_root`] from the tree already built.
    pub fn data_root_with(&self, tree: &DaTree) -> B256 {
        merkle::data_root_of(self.layout.k, &tree.root())
    }

    pub fn root_of(&self, axis: Axis, index: usize) -> Option<B256> {
        match axis {
            Axis::Row => self.rows.get(index).copied(),
            Axis::Column => self.columns.get(index).copied(),
        }
    }

    /// The proof that axis `index`'s root is in the data root.
    pub fn axis_proof(&self, axis: Axis, index: usize) -> Option<Proof> {
        self.tree().proof(self.layout.axis_position(axis, index))
    }
}

/// A share's place in a square committed by a data root: the share in an axis (a row or a
/// column) at `position`, and that axis's root in the data root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareProof {
    pub axis: Axis,
    pub axis_index: u32,
    pub position: u32,
    pub axis_root: B256,
    pub to_axis: Proof,
    pub to_data_root: Proof,
}

impl ShareProof {
    /// The (row, column) the proof places its share at.
    pub fn coordinates(&self) -> (usize, usize) {
        match self.axis {
            Axis::Row => (self.axis_index as usize, self.position as usize),
            Axis::Column => (self.position as usize, self.axis_index as usize),
        }
    }

    /// Checks that `share` is at this place of the square `layout` committed by `data_root`.
    pub fn verify(&self, data_root: &B256, layout: SquareLayout, share: &[u8]) -> Result<(), DaError> {
        if share.len() != SHARE_SIZE {
            return Err(DaError::ShareSize { got: share.len() });
        }
        let width = layout.width();
        let (row, column) = self.coordinates();
        if row >= width || column >= width {
            return Err(DaError::OutOfSquare { row, column, width });
        }
        merkle::validate(&self.to_axis, &self.axis_root, &merkle::leaf_hash(share), self.position as usize, width)?;
        verify_axis_root(data_root, layout, self.axis, self.axis_index as usize, &self.axis_root, &self.to_data_root)
    }
}

/// Evidence that axis `index` of the square under `data_root` is not the codeword its root
/// commits to: `k` of its shares, each proven through the other axis (so the data root vouches
/// for them independently of the accused root), and the accused root proven in the data root.
/// Decoding the axis from those shares and re-encoding it gives a root other than the accused
/// one — which no honest encoder can produce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadEncodingProof {
    pub data_root: B256,
    pub layout: SquareLayout,
    pub axis: Axis,
    pub index: u32,
    pub accused_root: B256,
    pub accused_proof: Proof,
    /// `k` shares of the axis with their proofs through the other axis.
    pub shares: Vec<(Vec<u8>, ShareProof)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_is_the_smallest_that_holds_the_blob_and_its_length() {
        assert_eq!(SquareLayout::for_blob(0).unwrap().k, 1);
        assert_eq!(SquareLayout::for_blob(252).unwrap().k, 1);
        assert_eq!(SquareLayout::for_blob(253).unwrap().k, 2, "253 + 4 bytes need a second share");
        assert_eq!(SquareLayout::for_blob(4 * 256 - 4).unwrap().k, 2);
        assert_eq!(SquareLayout::for_blob(4 * 256 - 3).unwrap().k, 3);
        let largest = SquareLayout::for_blob(MAX_BLOB_SIZE).unwrap();
        assert!(largest.original_bytes() >= MAX_BLOB_SIZE + LENGTH_BYTES);
        assert!((largest.k - 1) * (largest.k - 1) * SHARE_SIZE < MAX_BLOB_SIZE + LENGTH_BYTES);
        assert_eq!(SquareLayout::for_blob(MAX_BLOB_SIZE + 1), Err(DaError::TooLarge { size: MAX_BLOB_SIZE + 1, max: MAX_BLOB_SIZE }));
    }

    #[test]
    fn a_blob_comes_back_out_of_its_original_square() {
        for len in [0, 1, 252, 253, 1000, 70_000] {
            let blob: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let (layout, square) = original_square(&blob).unwrap();
            assert_eq!(blob_from_original(layout, &square).unwrap(), blob);
        }
    }

    #[test]
    fn a_square_whose_length_field_overruns_it_is_refused() {
        let (layout, mut square) = original_square(b"hello").unwrap();
        let at = square.len() - LENGTH_BYTES;
        square[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(blob_from_original(layout, &square), Err(DaError::BadLength { .. })));
        assert!(matches!(blob_from_original(layout, &square[1..]), Err(DaError::SquareSize { .. })));
    }
}
