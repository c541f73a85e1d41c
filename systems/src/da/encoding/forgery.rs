//! A forger who knows every node of an honest blob's commitments (its axis tree and every
//! share tree) and claims another `k`: each claimed position is walked down the real trees from
//! the real axis tree's root, so each claimed axis root and share is some real node. Against
//! 0G's storage tree (no domain separation, odd nodes promoted, `k` not committed) this found a
//! proof for every blob tried; it returns the fraud proofs it could assemble.

use super::*;
use std::collections::HashMap;
use zg_components::da::merkle::{DaTree, depth, leaf_hash};
use zg_components::storage::merkle::Proof;

pub struct Forger {
    children: HashMap<B256, (B256, B256)>,
    shares: HashMap<B256, Vec<u8>>,
    /// Leaf hashes of axis roots, back to the roots.
    axis_leaves: HashMap<B256, B256>,
    top: B256,
    data_root: B256,
}

fn index_tree(children: &mut HashMap<B256, (B256, B256)>, tree: &DaTree) {
    for level in 1..tree.depth() {
        for i in 0..tree.width(level) {
            let left = tree.node(level - 1, 2 * i).unwrap();
            let right = tree.node(level - 1, 2 * i + 1).unwrap_or(zg_components::da::merkle::PAD);
            children.insert(tree.node(level, i).unwrap(), (left, right));
        }
    }
}

impl Forger {
    pub fn new(square: &ExtendedSquare) -> Self {
        let roots = square.commit();
        let width = square.layout.width();
        let mut children = HashMap::new();
        let axes = roots.tree();
        index_tree(&mut children, &axes);
        for index in 0..width {
            index_tree(&mut children, &DaTree::build(square.row(index).chunks(SHARE_SIZE).map(leaf_hash).collect()));
            index_tree(&mut children, &DaTree::build(square.column(index).chunks(SHARE_SIZE).map(leaf_hash).collect()));
        }
        let shares = square.data.chunks(SHARE_SIZE).map(|s| (leaf_hash(s), s.to_vec())).collect();
        let axis_leaves = roots.rows.iter().chain(&roots.columns).map(|r| (leaf_hash(r.as_slice()), *r)).collect();
        Self { children, shares, axis_leaves, top: axes.root(), data_root: roots.data_root() }
    }

    /// The node a claimed `width`-leaf tree rooted at `top` has at `position`, and the proof.
    fn walk(&self, top: B256, position: usize, width: usize) -> Option<(B256, Proof)> {
        let levels = depth(width);
        let path: Vec<bool> = (0..levels).map(|level| (position >> level) & 1 == 0).collect();
        let mut node = top;
        let mut siblings = Vec::new();
        for is_left in path.iter().rev() {
            let (l, r) = *self.children.get(&node)?;
            let (next, sibling) = if *is_left { (l, r) } else { (r, l) };
            siblings.push(sibling);
            node = next;
        }
        siblings.reverse();
        let mut lemma = vec![node];
        lemma.extend(siblings);
        lemma.push(top);
        Some((node, Proof { lemma, path }))
    }

    /// Every fraud proof with a claimed `k'` it can assemble.
    pub fn forge(&self, claimed_k: usize) -> Vec<BadEncodingProof> {
        let layout = SquareLayout { k: claimed_k };
        let width = layout.width();
        let axis_root_at = |position| {
            let (leaf, proof) = self.walk(self.top, position, layout.axes())?;
            // A real axis root where one sits; any other real node is claimed as it is.
            Some((self.axis_leaves.get(&leaf).copied().unwrap_or(leaf), proof))
        };
        let mut found = Vec::new();
        for axis in [Axis::Row, Axis::Column] {
            for index in 0..width {
                let Some((accused_root, accused_proof)) = axis_root_at(layout.axis_position(axis, index)) else { continue };
                let mut shares = Vec::new();
                for cross in 0..width {
                    let Some((cross_root, to_data_root)) = axis_root_at(layout.axis_position(axis.other(), cross)) else { continue };
                    let Some((leaf, to_axis)) = self.walk(cross_root, index, width) else { continue };
                    let Some(share) = self.shares.get(&leaf) else { continue };
                    let proof = ShareProof { axis: axis.other(), axis_index: cross as u32, position: index as u32, axis_root: cross_root, to_axis, to_data_root };
                    shares.push((share.clone(), proof));
                }
                if shares.len() >= claimed_k {
                    shares.truncate(claimed_k);
                    let data_root = self.data_root;
                    found.push(BadEncodingProof { data_root, layout, axis, index: index as u32, accused_root, accused_proof: accused_proof.clone(), shares });
                }
            }
        }
        found
    }
}
