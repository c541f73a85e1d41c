//! 0G-compatible storage data: the file commitment (chunks, segments, Merkle roots, submissions,
//! proofs).

pub mod merkle;

pub use merkle::{FileCommitment, MerkleTree, Proof, ProofError, Submission};
