//! The DA square's Merkle trees: domain-separated and of fixed shape, so a proof can only be
//! read one way.
//!
//! 0G's storage tree (keccak(left ‖ right) for leaves and inner nodes alike, an odd last node
//! promoted unchanged) let a fraud proof that claimed another `k` read real inner nodes as axis
//! roots and real shares at claimed positions, all still reaching the real data root. Here:
//! - a leaf is `sha256(0x00 ‖ bytes)` (a share's 256 bytes, or an axis root's 32), an inner node
//!   `sha256(0x01 ‖ left ‖ right)`: no inner node is ever a leaf;
//! - an odd level is padded with the zero hash (never promoted), so every leaf of a `n`-leaf
//!   tree sits exactly `ceil(log2 n)` levels down and a proof's length is fixed by `n`;
//! - the data root is `sha256(0x02 ‖ k (u32, big-endian) ‖ root of the axis tree)`: it commits
//!   to the square's size, so a proof claiming another `k` cannot reach it.
//!
//! Storage keeps 0G's own format (`crate::storage::merkle`), which the SDKs need; nothing outside
//! the node reads the DA trees.
//!
//! SHA-256, not keccak: every DA node hashes each share it keeps (a 32 MB blob is half a million
//! leaves per node), and with the CPU's SHA extensions SHA-256 hashes a 257-byte leaf in 0.19 µs
//! against keccak's 0.55 µs (an inner node 0.08 against 0.28 µs; this 2-core box). Keccak was
//! 36 % of a dispersal's CPU. On chain the DA entrance climbs proofs through the SHA-256
//! precompile (as Celestia's square trees are SHA-256 too).

use alloy_primitives::B256;
use sha2::{Digest, Sha256};

use crate::storage::merkle::{MerkleTree, Proof, ProofError};

const LEAF_TAG: u8 = 0x00;
const NODE_TAG: u8 = 0x01;
const DATA_ROOT_TAG: u8 = 0x02;
/// What pads an odd level: the zero hash, which no SHA-256 output is known to equal.
pub const PAD: B256 = B256::ZERO;

/// A leaf's hash: `sha256(0x00 ‖ bytes)`.
pub fn leaf_hash(bytes: &[u8]) -> B256 {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_TAG]);
    hasher.update(bytes);
    B256::from(<[u8; 32]>::from(hasher.finalize()))
}

fn sha256(bytes: &[u8]) -> B256 {
    B256::from(<[u8; 32]>::from(Sha256::digest(bytes)))
}

/// An inner node's hash: `sha256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = NODE_TAG;
    buf[1..33].copy_from_slice(left.as_slice());
    buf[33..].copy_from_slice(right.as_slice());
    sha256(&buf)
}

/// The data root of a square of size `k` whose axis tree has `axes_root`.
pub fn data_root_of(k: usize, axes_root: &B256) -> B256 {
    let mut buf = [0u8; 37];
    buf[0] = DATA_ROOT_TAG;
    buf[1..5].copy_from_slice(&(k as u32).to_be_bytes());
    buf[5..].copy_from_slice(axes_root.as_slice());
    sha256(&buf)
}

/// Levels between a leaf and the root of an `n`-leaf tree.
pub fn depth(leaves: usize) -> usize {
    leaves.max(1).next_power_of_two().trailing_zeros() as usize
}

/// A tree over leaf hashes (already `leaf_hash`ed), odd levels padded with [`PAD`]; its
/// levels read as a [`MerkleTree`]'s (root, node, width, depth), its proofs are DA's own.
#[derive(Clone, Debug)]
pub struct DaTree(MerkleTree);

impl std::ops::Deref for DaTree {
    type Target = MerkleTree;

    fn deref(&self) -> &MerkleTree {
        &self.0
    }
}

impl DaTree {
    pub fn build(leaves: Vec<B256>) -> Self {
        Self(MerkleTree::build_with(leaves, |pair| node_hash(&pair[0], pair.get(1).unwrap_or(&PAD))))
    }

    /// `lemma = [leaf, siblings…, root]` (a padded sibling is [`PAD`]), `path[i]` true when the
    /// node is a left child at level `i`: always `depth(leaves)` entries.
    pub fn proof(&self, index: usize) -> Option<Proof> {
        let leaf = self.node(0, index)?;
        let mut lemma = vec![leaf];
        let mut path = Vec::new();
        let mut position = index;
        for level in 0..self.depth() - 1 {
            let is_left = position.is_multiple_of(2);
            let sibling = if is_left { position + 1 } else { position - 1 };
            lemma.push(self.node(level, sibling).unwrap_or(PAD));
            path.push(is_left);
            position /= 2;
        }
        lemma.push(self.root());
        Some(Proof { lemma, path })
    }
}

/// The root of a tree over the leaf hashes of `shares` (256 bytes each, back to back).
pub fn root_of_shares(shares: &[u8], share_size: usize) -> B256 {
    DaTree::build(shares.chunks(share_size).map(leaf_hash).collect()).root()
}

/// The root `proof` climbs to from `leaf` (a leaf hash) at `position` of an `n`-leaf tree,
/// after checking its shape: exactly `depth(n)` siblings, the path bits `position`'s, the
/// lemma's first entry `leaf`. The lemma's last entry must be that root.
pub fn climb(proof: &Proof, leaf: &B256, position: usize, leaves: usize) -> Result<B256, ProofError> {
    let levels = depth(leaves);
    if position >= leaves {
        return Err(ProofError::WrongPosition);
    }
    if proof.lemma.len() != levels + 2 || proof.path.len() != levels {
        return Err(ProofError::Malformed("a DA proof has one sibling per level"));
    }
    if proof.lemma[0] != *leaf {
        return Err(ProofError::WrongLeaf);
    }
    let mut current = *leaf;
    for (level, (sibling, is_left)) in proof.lemma[1..=levels].iter().zip(&proof.path).enumerate() {
        if *is_left != ((position >> level) & 1 == 0) {
            return Err(ProofError::WrongPosition);
        }
        current = if *is_left { node_hash(&current, sibling) } else { node_hash(sibling, &current) };
    }
    if proof.lemma[levels + 1] != current {
        return Err(ProofError::Mismatch);
    }
    Ok(current)
}

/// Checks that `proof` shows `leaf` at `position` of an `n`-leaf tree with `root`.
pub fn validate(proof: &Proof, root: &B256, leaf: &B256, position: usize, leaves: usize) -> Result<(), ProofError> {
    if climb(proof, leaf, position, leaves)? == *root { Ok(()) } else { Err(ProofError::WrongRoot) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n).map(|i| leaf_hash(&(i as u32).to_be_bytes())).collect()
    }

    #[test]
    fn every_leaf_proves_at_its_place_only() {
        for n in [1, 2, 3, 5, 6, 12, 16, 17] {
            let tree = DaTree::build(leaves(n));
            for i in 0..n {
                let proof = tree.proof(i).unwrap();
                assert_eq!(proof.path.len(), depth(n));
                validate(&proof, &tree.root(), &leaves(n)[i], i, n).unwrap();
                if n > 1 {
                    assert!(validate(&proof, &tree.root(), &leaves(n)[i], (i + 1) % n, n).is_err(), "n {n} i {i}");
                }
                assert!(validate(&proof, &tree.root(), &leaves(n)[i], i, 2 * n + 1).is_err(), "another width");
            }
        }
    }

    #[test]
    fn an_inner_node_is_never_a_leaf_and_the_data_root_binds_k() {
        let tree = DaTree::build(leaves(4));
        let inner = node_hash(&leaves(4)[0], &leaves(4)[1]);
        assert_ne!(leaf_hash(inner.as_slice()), inner);
        assert_ne!(data_root_of(3, &tree.root()), data_root_of(4, &tree.root()));
        // A two-leaf tree whose leaves are the inner nodes has another root.
        let lifted = DaTree::build(vec![inner, node_hash(&leaves(4)[2], &leaves(4)[3])]);
        assert_eq!(lifted.root(), tree.root(), "the same nodes, the same root...");
        assert!(validate(&lifted.proof(0).unwrap(), &tree.root(), &leaves(4)[0], 0, 4).is_err(), "...but not at a leaf's depth");
    }

    proptest! {
        #[test]
        fn hostile_proofs_never_panic(lemma in proptest::collection::vec(any::<[u8; 32]>(), 0..8), path in proptest::collection::vec(any::<bool>(), 0..8), position in 0usize..40, n in 0usize..40) {
            let proof = Proof { lemma: lemma.into_iter().map(B256::from).collect(), path };
            let _ = validate(&proof, &B256::ZERO, &B256::ZERO, position, n);
        }
    }
}
