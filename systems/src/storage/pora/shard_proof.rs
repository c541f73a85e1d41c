//! PoRA from an erasure-coded data shard: a node that keeps shard `j` of a segment (whole
//! chunks, see `ErasureConfig::data_shard_chunks`) proves any of its chunks with the chunk tree
//! nodes outside its range that the placing node computed and sent with the shard.

use alloy_primitives::{B256, keccak256};
use std::collections::BTreeMap;
use std::ops::Range;

use zg_components::storage::merkle::{self, CHUNK_SIZE, MerkleTree, SEGMENT_CHUNKS};
use zg_components::storage::FileRecord;

use super::SectorProof;

/// A node of a segment's chunk tree: (level, index, hash).
pub type TreeNode = (u8, u16, [u8; 32]);

/// Leaves of the segment tree of segment `segment` of `record`: its data chunks plus flow padding.
pub fn segment_width(record: &FileRecord, segment: u64) -> usize {
    (record.sectors.saturating_sub(segment * SEGMENT_CHUNKS as u64)).min(SEGMENT_CHUNKS as u64) as usize
}

fn covered(level: usize, index: usize, width: usize) -> Range<usize> {
    (index << level).min(width)..((index + 1) << level).min(width)
}

fn inside(level: usize, index: usize, width: usize, range: &Range<usize>) -> bool {
    let span = covered(level, index, width);
    range.start <= span.start && span.end <= range.end
}

/// The tree nodes a holder of chunks `range` needs, beyond its own chunks, to prove any of them.
pub fn boundary(tree: &MerkleTree, range: &Range<usize>) -> Vec<TreeNode> {
    let width = tree.leaves();
    let mut out = BTreeMap::new();
    for chunk in range.clone() {
        let mut position = chunk;
        for level in 0..tree.depth().saturating_sub(1) {
            let sibling = position ^ 1;
            if sibling < tree.width(level) && !inside(level, sibling, width, range)
                && let Some(hash) = tree.node(level, sibling)
            {
                out.insert((level as u8, sibling as u16), hash.0);
            }
            position /= 2;
        }
    }
    out.into_iter().map(|((level, index), hash)| (level, index, hash)).collect()
}

/// The segment tree seen from one data shard: its own chunks' hashes and the boundary nodes.
struct PartialTree<'a> {
    first: usize,
    leaves: Vec<B256>,
    widths: Vec<usize>,
    boundary: BTreeMap<(u8, u16), &'a [u8; 32]>,
    range: Range<usize>,
}

impl<'a> PartialTree<'a> {
    /// The tree of segment `segment` of `record` as a data shard holding chunks `range` sees it;
    /// None when the shard is shorter than its chunks.
    fn new(record: &FileRecord, segment: u64, range: Range<usize>, shard: &[u8], boundary: &'a [TreeNode]) -> Option<Self> {
        if shard.len() < range.len() * CHUNK_SIZE {
            return None;
        }
        let mut widths = vec![segment_width(record, segment)];
        while *widths.last()? > 1 {
            widths.push(widths.last()?.div_ceil(2));
        }
        Some(Self {
            first: range.start,
            leaves: shard[..range.len() * CHUNK_SIZE].chunks(CHUNK_SIZE).map(keccak256).collect(),
            widths,
            boundary: boundary.iter().map(|(level, index, hash)| ((*level, *index), hash)).collect(),
            range,
        })
    }
}

/// Proves chunk `chunk_index` (file-relative) of `record` from a data shard holding chunks
/// `range` of its segment (`shard` = their bytes), the shard's boundary nodes, and the
/// segment's proof to the file root. None when the chunk is not in the shard or a node is
/// missing.
pub fn prove_from_shard(
    record: &FileRecord,
    chunk_index: u64,
    range: Range<usize>,
    shard: &[u8],
    boundary: &[TreeNode],
    segment_proof_lemma: &[[u8; 32]],
) -> Option<SectorProof> {
    let segment = chunk_index / SEGMENT_CHUNKS as u64;
    let within = (chunk_index % SEGMENT_CHUNKS as u64) as usize;
    if !range.contains(&within) || shard.len() < range.len() * CHUNK_SIZE {
        return None;
    }
    let tree = PartialTree::new(record, segment, range.clone(), shard, boundary)?;
    let mut siblings = Vec::new();
    let mut position = within;
    for level in 0..tree.widths.len() - 1 {
        let sibling = position ^ 1;
        if sibling < tree.widths[level] {
            siblings.push(tree.combined(level, sibling)?);
        }
        position /= 2;
    }
    if segment_proof_lemma.len() >= 2 {
        siblings.extend(segment_proof_lemma[1..segment_proof_lemma.len() - 1].iter().map(|h| B256::from(*h)));
    }
    let offset = (within - range.start) * CHUNK_SIZE;
    Some(SectorProof { chunk: shard[offset..offset + CHUNK_SIZE].to_vec(), siblings })
}

/// The root of segment `segment`'s chunk tree as a data shard holding chunks `range` (their
/// bytes in `shard`) and its boundary nodes make it: what a holder checks a placed shard with,
/// against the segment's proof to the file root. None when the shard is short or a node is
/// missing.
pub fn segment_root_from_shard(record: &FileRecord, segment: u64, range: Range<usize>, shard: &[u8], boundary: &[TreeNode]) -> Option<B256> {
    if range.is_empty() || range.end > segment_width(record, segment) {
        return None;
    }
    let tree = PartialTree::new(record, segment, range, shard, boundary)?;
    tree.combined(tree.widths.len() - 1, 0)
}

impl PartialTree<'_> {
    /// A node computed from every chunk of the shard it covers: only nodes wholly outside the
    /// shard come from the boundary. (A boundary node may also cover some of the shard's chunks,
    /// as a proof sibling; taking it for those would leave them unchecked.)
    fn combined(&self, level: usize, index: usize) -> Option<B256> {
        let span = covered(level, index, self.widths[0]);
        if span.end <= self.range.start || span.start >= self.range.end {
            let key = (u8::try_from(level).ok()?, u16::try_from(index).ok()?);
            return self.boundary.get(&key).map(|hash| B256::from(**hash));
        }
        if level == 0 {
            return self.leaves.get(index - self.first).copied();
        }
        let left = self.combined(level - 1, 2 * index)?;
        if 2 * index + 1 < self.widths[level - 1] {
            Some(merkle::hash_pair(&left, &self.combined(level - 1, 2 * index + 1)?))
        } else {
            Some(left)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::erasure::{ErasureConfig, data_shard};
    use zg_components::storage::merkle::{FileCommitment, SEGMENT_SIZE};

    fn record_of(commitment: &FileCommitment) -> FileRecord {
        FileRecord::from_commitment(0, commitment)
    }

    #[test]
    fn a_shard_root_covers_every_chunk_of_the_shard() {
        // 12 chunks, k = 2: shard 0 holds chunks 0..6, and the proof sibling covering chunks
        // 4..8 is in its boundary; changing chunk 4 or 5 must still change the root.
        let data: Vec<u8> = (0..SEGMENT_SIZE + 3_000).map(|i| ((i * 31 + 7) % 251) as u8).collect();
        let commitment = FileCommitment::of(&data);
        let record = record_of(&commitment);
        let config = ErasureConfig { data_shards: 2, parity_shards: 2 };
        let mut bytes = data[SEGMENT_SIZE..].to_vec();
        bytes.resize(bytes.len().div_ceil(CHUNK_SIZE) * CHUNK_SIZE, 0);
        let chunks = bytes.len() / CHUNK_SIZE;
        let mut hashes = merkle::chunk_hashes(&bytes);
        hashes.resize(segment_width(&record, 1), merkle::empty_chunk_hash());
        let tree = MerkleTree::build(hashes);
        let range = config.data_shard_chunks(chunks, 0);
        let nodes = boundary(&tree, &range);
        let shard = data_shard(config, &bytes, 0);
        assert_eq!(segment_root_from_shard(&record, 1, range.clone(), &shard, &nodes), Some(tree.root()));
        for chunk in range.clone() {
            let mut forged = shard.clone();
            forged[chunk * CHUNK_SIZE + 9] ^= 1;
            assert_ne!(segment_root_from_shard(&record, 1, range.clone(), &forged, &nodes), Some(tree.root()), "chunk {chunk} unchecked");
        }
    }

    #[test]
    fn data_shard_chunks_prove_like_the_whole_segment() {
        // 2.3 segments: a full segment, then a last one with flow padding; k = 3 splits unevenly.
        let data: Vec<u8> = (0..2 * SEGMENT_SIZE + 77_777).map(|i| ((i * 31 + 5) % 253) as u8).collect();
        let commitment = FileCommitment::of(&data);
        let record = record_of(&commitment);
        for config in [ErasureConfig { data_shards: 3, parity_shards: 2 }, ErasureConfig { data_shards: 2, parity_shards: 2 }] {
            for segment in 0..record.data_segments() {
                let start = segment as usize * SEGMENT_SIZE;
                let mut bytes = data[start..(start + SEGMENT_SIZE).min(data.len())].to_vec();
                bytes.resize(bytes.len().div_ceil(CHUNK_SIZE) * CHUNK_SIZE, 0);
                let chunks = bytes.len() / CHUNK_SIZE;
                let mut hashes = merkle::chunk_hashes(&bytes);
                hashes.resize(segment_width(&record, segment), merkle::empty_chunk_hash());
                let tree = MerkleTree::build(hashes);
                let segment_proof = commitment.tree.proof(segment as usize).unwrap();
                let lemma: Vec<[u8; 32]> = segment_proof.lemma.iter().map(|h| h.0).collect();
                for shard in 0..config.data_shards {
                    let range = config.data_shard_chunks(chunks, shard);
                    let nodes = boundary(&tree, &range);
                    assert!(nodes.len() <= 2 * tree.depth(), "a shard needs at most two outside nodes per level");
                    let shard_bytes = data_shard(config, &bytes, shard);
                    // The edges of the shard and a spread in between.
                    let sample = range.clone().filter(|c| *c == range.start || *c + 1 == range.end || c % 37 == 0);
                    for within in sample {
                        let chunk = segment * SEGMENT_CHUNKS as u64 + within as u64;
                        let from_shard = prove_from_shard(&record, chunk, range.clone(), &shard_bytes, &nodes, &lemma).expect("provable");
                        let whole = super::super::prove(&record, chunk, |_| Some((bytes.clone(), segment_proof.clone()))).unwrap();
                        assert_eq!(from_shard, whole, "segment {segment} shard {shard} chunk {within}");
                    }
                    // Chunks of other shards, or without the boundary: not provable from this one.
                    if let Some(outside) = (0..chunks).find(|c| !range.contains(c)) {
                        let chunk = segment * SEGMENT_CHUNKS as u64 + outside as u64;
                        assert!(prove_from_shard(&record, chunk, range.clone(), &shard_bytes, &nodes, &lemma).is_none());
                    }
                    if !nodes.is_empty() {
                        let without = |c: usize| prove_from_shard(&record, segment * SEGMENT_CHUNKS as u64 + c as u64, range.clone(), &shard_bytes, &[], &lemma);
                        assert!(range.clone().all(|c| without(c).is_none()), "every chunk needs some outside node");
                    }
                }
            }
        }
    }
}
