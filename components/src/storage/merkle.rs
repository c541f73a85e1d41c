//! 0G storage's file commitment, bit for bit as the official SDKs compute it: 256-byte chunks,
//! 1024-chunk segments, flow padding, keccak256 trees whose odd last node is promoted, the Flow
//! submission's power-of-two pieces, and segment proofs.
//! (`../shared/0g/storage-sdk.md` §2; vectors in `storage-merkle-vectors.json`.)

use alloy_primitives::{B256, keccak256};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub const CHUNK_SIZE: usize = 256;
pub const SEGMENT_CHUNKS: usize = 1024;
pub const SEGMENT_SIZE: usize = CHUNK_SIZE * SEGMENT_CHUNKS;

/// `floor((n-1)/u) + 1`, and 0 for 0.
pub fn num_splits(n: u64, unit: u64) -> u64 {
    if n == 0 { 0 } else { (n - 1) / unit + 1 }
}

/// Chunks a file of `size` bytes occupies (the last one zero-padded).
pub fn chunk_count(size: u64) -> u64 {
    num_splits(size, CHUNK_SIZE as u64)
}

/// The chunk count after flow padding (`computePaddedSize`).
pub fn padded_chunks(chunks: u64) -> u64 {
    if chunks == 0 {
        return 0;
    }
    let np2 = chunks.next_power_of_two();
    if np2 == chunks {
        return chunks;
    }
    let min_chunk = if np2 >= 16 { np2 / 16 } else { 1 };
    num_splits(chunks, min_chunk) * min_chunk
}

/// Segments of the padded file (padding-only segments count).
pub fn padded_segments(size: u64) -> u64 {
    num_splits(padded_chunks(chunk_count(size)), SEGMENT_CHUNKS as u64)
}

/// Segments that carry file data (what uploads send).
pub fn data_segments(size: u64) -> u64 {
    num_splits(chunk_count(size), SEGMENT_CHUNKS as u64)
}

pub fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

pub fn empty_chunk_hash() -> B256 {
    keccak256([0u8; CHUNK_SIZE])
}

/// A tree over leaf hashes: parent = keccak(left ‖ right), an odd last node promoted unchanged.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    levels: Vec<Vec<B256>>,
}

impl MerkleTree {
    pub fn build(leaves: Vec<B256>) -> Self {
        Self::build_with(leaves, |pair| if pair.len() == 2 { hash_pair(&pair[0], &pair[1]) } else { pair[0] })
    }

    /// A tree whose parents are `parent(pair)` of each pair of a level (the last one alone
    /// when the level is odd): the level structure other trees (DA's) share.
    pub fn build_with(leaves: Vec<B256>, parent: impl Fn(&[B256]) -> B256) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let level = levels.last().expect("non-empty");
            let next: Vec<B256> = level.chunks(2).map(&parent).collect();
            levels.push(next);
        }
        Self { levels }
    }

    /// The root; zero for an empty tree.
    pub fn root(&self) -> B256 {
        self.levels.last().and_then(|l| l.first()).copied().unwrap_or_default()
    }

    pub fn leaves(&self) -> usize {
        self.levels[0].len()
    }

    /// Node `index` of `level` (0 = leaves); a promoted node keeps its child's hash.
    pub fn node(&self, level: usize, index: usize) -> Option<B256> {
        self.levels.get(level)?.get(index).copied()
    }

    /// Nodes at `level`.
    pub fn width(&self, level: usize) -> usize {
        self.levels.get(level).map_or(0, Vec::len)
    }

    /// Levels, leaves and root included.
    pub fn depth(&self) -> usize {
        self.levels.len()
    }

    /// The SDK's `proofAt`: `lemma = [leaf, siblings…, root]`, `path[k]` true when the node is
    /// a left child at that level; promoted levels have no entry.
    pub fn proof(&self, index: usize) -> Option<Proof> {
        let leaf = *self.levels[0].get(index)?;
        if self.leaves() == 1 {
            return Some(Proof { lemma: vec![leaf], path: vec![] });
        }
        let mut lemma = vec![leaf];
        let mut path = Vec::new();
        let mut position = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let is_left = position.is_multiple_of(2);
            let sibling = if is_left { position + 1 } else { position - 1 };
            if let Some(hash) = level.get(sibling) {
                lemma.push(*hash);
                path.push(is_left);
            }
            position /= 2;
        }
        lemma.push(self.root());
        Some(Proof { lemma, path })
    }
}

/// A segment (or chunk) proof in the SDK's JSON shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub lemma: Vec<B256>,
    pub path: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof is malformed: {0}")]
    Malformed(&'static str),
    #[error("the proof is for another leaf")]
    WrongLeaf,
    #[error("the proof is for another root")]
    WrongRoot,
    #[error("the proof is for another position")]
    WrongPosition,
    #[error("the proof does not hash to the root")]
    Mismatch,
}

/// The path bits a proof for `position` among `leaves` must have.
pub fn expected_path(position: usize, leaves: usize) -> Vec<bool> {
    let mut path = Vec::new();
    let (mut position, mut width) = (position, leaves);
    while width > 1 {
        let promoted = position == width - 1 && width % 2 == 1;
        if !promoted {
            path.push(position % 2 == 0);
        }
        position /= 2;
        width = width.div_ceil(2);
    }
    path
}

impl Proof {
    /// Checks that this proof shows `leaf` at `position` of a `leaves`-leaf tree with `root`.
    pub fn validate(&self, root: &B256, leaf: &B256, position: usize, leaves: usize) -> Result<(), ProofError> {
        if self.lemma.len() != if self.path.is_empty() { 1 } else { self.path.len() + 2 } {
            return Err(ProofError::Malformed("lemma length must be path length + 2 (or 1)"));
        }
        if position >= leaves {
            return Err(ProofError::WrongPosition);
        }
        if self.lemma[0] != *leaf {
            return Err(ProofError::WrongLeaf);
        }
        if self.lemma.last() != Some(root) {
            return Err(ProofError::WrongRoot);
        }
        if self.path != expected_path(position, leaves) {
            return Err(ProofError::WrongPosition);
        }
        let mut current = *leaf;
        let siblings = if self.lemma.len() >= 2 { &self.lemma[1..self.lemma.len() - 1] } else { &[][..] };
        for (sibling, is_left) in siblings.iter().zip(&self.path) {
            current = if *is_left { hash_pair(&current, sibling) } else { hash_pair(sibling, &current) };
        }
        if current == *root { Ok(()) } else { Err(ProofError::Mismatch) }
    }
}

/// keccak256 of each 256-byte chunk of `data` (the last zero-padded), in parallel.
pub fn chunk_hashes(data: &[u8]) -> Vec<B256> {
    data.par_chunks(CHUNK_SIZE)
        .map(|chunk| {
            if chunk.len() == CHUNK_SIZE {
                keccak256(chunk)
            } else {
                let mut padded = [0u8; CHUNK_SIZE];
                padded[..chunk.len()].copy_from_slice(chunk);
                keccak256(padded)
            }
        })
        .collect()
}

/// The root of segment `index` of a file of `size` bytes whose chunk hashes (of the segment's
/// data chunks only) are `data_hashes`: the flow padding's empty chunks are added here.
pub fn segment_root(size: u64, index: u64, data_hashes: &[B256]) -> B256 {
    let padded = padded_chunks(chunk_count(size));
    let start = index * SEGMENT_CHUNKS as u64;
    let width = (padded.saturating_sub(start)).min(SEGMENT_CHUNKS as u64) as usize;
    let mut leaves = data_hashes.to_vec();
    leaves.resize(width.max(leaves.len()), empty_chunk_hash());
    MerkleTree::build(leaves).root()
}

/// What the Flow contract is given for a file: its exact length and power-of-two pieces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub length: u64,
    /// (root, height) per piece, covering consecutive chunk ranges.
    pub nodes: Vec<(B256, u64)>,
}

/// The whole commitment of a file held in memory.
#[derive(Clone, Debug)]
pub struct FileCommitment {
    pub size: u64,
    pub segment_roots: Vec<B256>,
    pub tree: MerkleTree,
    pub submission: Submission,
}

impl FileCommitment {
    pub fn of(data: &[u8]) -> Self {
        let size = data.len() as u64;
        let padded = padded_chunks(chunk_count(size)) as usize;
        let mut hashes = chunk_hashes(data);
        hashes.resize(padded, empty_chunk_hash());
        let segment_roots: Vec<B256> =
            hashes.par_chunks(SEGMENT_CHUNKS).map(|segment| MerkleTree::build(segment.to_vec()).root()).collect();
        let tree = MerkleTree::build(segment_roots.clone());
        let mut nodes = Vec::new();
        let mut offset = 0usize;
        let mut piece = padded.next_power_of_two();
        while offset < padded {
            while piece > padded - offset {
                piece /= 2;
            }
            // Pieces of a segment or more start on a segment boundary and cover whole segments
            // (only pieces after them can be shorter), so their roots come from segment roots.
            let root = if piece >= SEGMENT_CHUNKS {
                let first = offset / SEGMENT_CHUNKS;
                MerkleTree::build(segment_roots[first..first + piece / SEGMENT_CHUNKS].to_vec()).root()
            } else {
                MerkleTree::build(hashes[offset..offset + piece].to_vec()).root()
            };
            nodes.push((root, piece.trailing_zeros() as u64));
            offset += piece;
        }
        Self { size, segment_roots, tree, submission: Submission { length: size, nodes } }
    }

    pub fn root(&self) -> B256 {
        self.tree.root()
    }

    /// Segment `index` of `data` (the file this commits to) as a node stores it, last chunk
    /// zero-padded, with its proof to the file root. None past the file's segments.
    pub fn stored_segment(&self, data: &[u8], index: usize) -> Option<(Vec<u8>, Proof)> {
        let start = index.checked_mul(SEGMENT_SIZE).filter(|start| *start < data.len())?;
        let mut bytes = data[start..(start + SEGMENT_SIZE).min(data.len())].to_vec();
        bytes.resize(bytes.len().div_ceil(CHUNK_SIZE) * CHUNK_SIZE, 0);
        Some((bytes, self.tree.proof(index)?))
    }
}

/// The file root from a submission's pieces alone: `H(n0, H(n1, … H(n_{k-2}, n_{k-1})))`.
pub fn root_of_submission(nodes: &[(B256, u64)]) -> B256 {
    let mut iter = nodes.iter().rev();
    let Some((last, _)) = iter.next() else { return B256::ZERO };
    iter.fold(*last, |acc, (root, _)| hash_pair(root, &acc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Vector {
        size: u64,
        chunks: u64,
        #[serde(rename = "paddedChunks")]
        padded_chunks: u64,
        segments: u64,
        root: B256,
        submission: VectorSubmission,
    }

    #[derive(Deserialize)]
    struct VectorSubmission {
        length: u64,
        nodes: Vec<VectorNode>,
    }

    #[derive(Deserialize)]
    struct VectorNode {
        height: u64,
        root: B256,
    }

    fn vectors() -> Vec<Vector> {
        serde_json::from_str(include_str!("../../../assets/storage/merkle-vectors.json")).expect("vectors")
    }

    fn data(size: u64) -> Vec<u8> {
        (0..size).map(|i| ((i * 131 + 7) % 251) as u8).collect()
    }

    #[test]
    fn roots_and_submissions_match_both_sdks() {
        for vector in vectors() {
            assert_eq!(chunk_count(vector.size), vector.chunks, "size {}", vector.size);
            assert_eq!(padded_chunks(vector.chunks), vector.padded_chunks, "size {}", vector.size);
            assert_eq!(padded_segments(vector.size), vector.segments, "size {}", vector.size);
            let commitment = FileCommitment::of(&data(vector.size));
            assert_eq!(commitment.root(), vector.root, "root of {} bytes", vector.size);
            assert_eq!(commitment.submission.length, vector.submission.length);
            let nodes: Vec<(B256, u64)> = vector.submission.nodes.iter().map(|n| (n.root, n.height)).collect();
            assert_eq!(commitment.submission.nodes, nodes, "submission of {} bytes", vector.size);
            assert_eq!(root_of_submission(&nodes), vector.root, "identity for {} bytes", vector.size);
        }
    }

    #[test]
    fn segment_proofs_validate_only_where_they_belong() {
        let commitment = FileCommitment::of(&data(8_388_609));
        let leaves = commitment.segment_roots.len();
        for index in [0, 1, 17, 34, 35] {
            let proof = commitment.tree.proof(index).unwrap();
            let leaf = commitment.segment_roots[index];
            proof.validate(&commitment.root(), &leaf, index, leaves).unwrap();
            assert_eq!(proof.validate(&commitment.root(), &leaf, (index + 1) % leaves, leaves), Err(ProofError::WrongPosition));
            assert_eq!(proof.validate(&B256::repeat_byte(1), &leaf, index, leaves), Err(ProofError::WrongRoot));
            assert_eq!(proof.validate(&commitment.root(), &B256::repeat_byte(2), index, leaves), Err(ProofError::WrongLeaf));
            let mut tampered = proof.clone();
            tampered.lemma[1] = B256::repeat_byte(3);
            assert_eq!(tampered.validate(&commitment.root(), &leaf, index, leaves), Err(ProofError::Mismatch));
        }
        let single = FileCommitment::of(&data(10));
        let proof = single.tree.proof(0).unwrap();
        assert_eq!(proof, Proof { lemma: vec![single.root()], path: vec![] });
        proof.validate(&single.root(), &single.root(), 0, 1).unwrap();
    }

    proptest::proptest! {
        /// Whatever a peer sends as a proof, validation answers and never panics.
        #[test]
        fn hostile_proofs_never_panic(
            lemma in proptest::collection::vec(proptest::prelude::any::<[u8; 32]>(), 0..8),
            path in proptest::collection::vec(proptest::prelude::any::<bool>(), 0..8),
            position in 0usize..20,
            leaves in 0usize..20,
        ) {
            let proof = Proof { lemma: lemma.into_iter().map(B256::from).collect(), path };
            let _ = proof.validate(&B256::ZERO, &B256::ZERO, position, leaves);
        }
    }

    #[test]
    fn a_segment_root_from_its_data_chunks_adds_the_padding() {
        let bytes = data(1_060_921);
        let commitment = FileCommitment::of(&bytes);
        let hashes = chunk_hashes(&bytes);
        for index in 0..data_segments(1_060_921) {
            let start = (index as usize) * SEGMENT_CHUNKS;
            let end = (start + SEGMENT_CHUNKS).min(hashes.len());
            assert_eq!(segment_root(1_060_921, index, &hashes[start..end]), commitment.segment_roots[index as usize]);
        }
    }
}
