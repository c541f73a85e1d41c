//! 0G-compatible storage data: the file commitment (chunks, segments, Merkle roots, submissions,
//! proofs) and the files published on the Flow contract.

pub mod file;
pub mod kv;
pub mod merkle;
pub mod shard;

pub use file::{FileIndex, FileRecord, FilePublished, HeldSegment, StorageEvent, StorageInbox, StoredFile};
pub use merkle::{FileCommitment, MerkleTree, Proof, ProofError, Submission};
