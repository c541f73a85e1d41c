//! An in-memory Merkle Patricia trie with cached node hashes.
//!
//! Why our own: the state root must cost what changed, not the size of the state. alloy-trie's
//! `HashBuilder` rebuilds from a sorted stream of every leaf; here each node keeps its RLP
//! encoding until a write passes through it, so recomputing the root after `k` writes touches
//! `O(k · depth)` nodes. Node encoding itself is alloy-trie's, so roots are Ethereum's.
//!
//! Keys are always 32-byte hashes (64 nibbles), so a branch never carries a value.

use alloy_primitives::{B256, keccak256};
use alloy_trie::{
    EMPTY_ROOT_HASH, Nibbles, TrieMask,
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode},
};

const KEY_NIBBLES: usize = 64;

#[derive(Clone, Debug)]
enum Node {
    Leaf { path: Vec<u8>, value: Vec<u8>, cached: Option<RlpNode> },
    Extension { path: Vec<u8>, child: Box<Node>, cached: Option<RlpNode> },
    Branch { children: Box<[Option<Node>; 16]>, cached: Option<RlpNode> },
}

/// A secure-keyed trie: callers pass the keccak of the account address or storage slot.
#[derive(Clone, Debug, Default)]
pub struct MerkleTrie {
    root: Option<Node>,
    len: usize,
}

fn key_nibbles(key: &B256) -> [u8; KEY_NIBBLES] {
    let mut out = [0u8; KEY_NIBBLES];
    for (i, byte) in key.iter().enumerate() {
        out[2 * i] = byte >> 4;
        out[2 * i + 1] = byte & 0x0f;
    }
    out
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn empty_children() -> Box<[Option<Node>; 16]> {
    Box::default()
}

impl Node {
    fn invalidate(&mut self) {
        match self {
            Node::Leaf { cached, .. } | Node::Extension { cached, .. } | Node::Branch { cached, .. } => {
                *cached = None
            }
        }
    }

    /// Puts `child` under a path prefix, merging with the child's own path where the trie's
    /// canonical form requires it (no extension points at a leaf or another extension).
    fn prefixed(prefix: Vec<u8>, child: Node) -> Node {
        if prefix.is_empty() {
            return child;
        }
        match child {
            Node::Leaf { path, value, .. } => {
                Node::Leaf { path: [prefix, path].concat(), value, cached: None }
            }
            Node::Extension { path, child, .. } => {
                Node::Extension { path: [prefix, path].concat(), child, cached: None }
            }
            branch @ Node::Branch { .. } => {
                Node::Extension { path: prefix, child: Box::new(branch), cached: None }
            }
        }
    }

    /// Returns whether the key was new.
    fn insert(self, key: &[u8], value: Vec<u8>) -> (Node, bool) {
        match self {
            Node::Leaf { path, value: old, .. } => {
                if path == key {
                    return (Node::Leaf { path, value, cached: None }, false);
                }
                let shared = common_prefix(&path, key);
                let mut children = empty_children();
                children[path[shared] as usize] = Some(Node::Leaf {
                    path: path[shared + 1..].to_vec(),
                    value: old,
                    cached: None,
                });
                children[key[shared] as usize] =
                    Some(Node::Leaf { path: key[shared + 1..].to_vec(), value, cached: None });
                let branch = Node::Branch { children, cached: None };
                (Node::prefixed(key[..shared].to_vec(), branch), true)
            }
            Node::Extension { path, child, .. } => {
                let shared = common_prefix(&path, key);
                if shared == path.len() {
                    let (child, added) = child.insert(&key[shared..], value);
                    return (Node::Extension { path, child: Box::new(child), cached: None }, added);
                }
                let mut children = empty_children();
                let rest = Node::prefixed(path[shared + 1..].to_vec(), *child);
                children[path[shared] as usize] = Some(rest);
                children[key[shared] as usize] =
                    Some(Node::Leaf { path: key[shared + 1..].to_vec(), value, cached: None });
                let branch = Node::Branch { children, cached: None };
                (Node::prefixed(key[..shared].to_vec(), branch), true)
            }
            Node::Branch { mut children, .. } => {
                let slot = &mut children[key[0] as usize];
                let (child, added) = match slot.take() {
                    Some(child) => child.insert(&key[1..], value),
                    None => (Node::Leaf { path: key[1..].to_vec(), value, cached: None }, true),
                };
                *slot = Some(child);
                (Node::Branch { children, cached: None }, added)
            }
        }
    }

    /// Returns the node left after removing `key` (None when it became empty) and whether the
    /// key was present.
    fn remove(mut self, key: &[u8]) -> (Option<Node>, bool) {
        match self {
            Node::Leaf { ref path, .. } => {
                if path.as_slice() == key { (None, true) } else { (Some(self), false) }
            }
            Node::Extension { path, child, cached } => {
                if !key.starts_with(&path) {
                    return (Some(Node::Extension { path, child, cached }), false);
                }
                match child.remove(&key[path.len()..]) {
                    (Some(child), false) => {
                        (Some(Node::Extension { path, child: Box::new(child), cached }), false)
                    }
                    (None, _) => (None, true),
                    (Some(child), true) => (Some(Node::prefixed(path, child)), true),
                }
            }
            Node::Branch { ref mut children, .. } => {
                let index = key[0] as usize;
                let Some(child) = children[index].take() else { return (Some(self), false) };
                let (rest, removed) = child.remove(&key[1..]);
                children[index] = rest;
                if !removed {
                    return (Some(self), false);
                }
                self.invalidate();
                let Node::Branch { mut children, .. } = self else { unreachable!() };
                let mut remaining = children.iter().enumerate().filter(|(_, c)| c.is_some());
                let only = match (remaining.next(), remaining.next()) {
                    (Some((i, _)), None) => i,
                    _ => return (Some(Node::Branch { children, cached: None }), true),
                };
                let child = children[only].take().expect("counted above");
                (Some(Node::prefixed(vec![only as u8], child)), true)
            }
        }
    }

    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        match self {
            Node::Leaf { path, value, .. } => (path.as_slice() == key).then_some(value.as_slice()),
            Node::Extension { path, child, .. } => {
                key.strip_prefix(path.as_slice()).and_then(|rest| child.get(rest))
            }
            Node::Branch { children, .. } => children[key[0] as usize].as_ref()?.get(&key[1..]),
        }
    }

    /// This node's full RLP encoding (what its hash is taken over).
    fn encoding(&mut self, buf: &mut Vec<u8>) -> Vec<u8> {
        self.encode_into(buf);
        buf.clone()
    }

    /// Encodes this node into `buf` (cleared first); returns its reference (hash or inline).
    fn encode_into(&mut self, buf: &mut Vec<u8>) -> RlpNode {
        match self {
            Node::Leaf { path, value, .. } => {
                let path = Nibbles::from_nibbles_unchecked(&path[..]);
                buf.clear();
                LeafNodeRef::new(&path, value).rlp(buf)
            }
            Node::Extension { path, child, .. } => {
                let child_rlp = child.rlp(buf);
                let path = Nibbles::from_nibbles_unchecked(&path[..]);
                buf.clear();
                ExtensionNodeRef::new(&path, &child_rlp).rlp(buf)
            }
            Node::Branch { children, .. } => {
                let mut stack = Vec::with_capacity(16);
                let mut mask = TrieMask::default();
                for (index, child) in children.iter_mut().enumerate() {
                    if let Some(child) = child {
                        stack.push(child.rlp(buf));
                        mask.set_bit(index as u8);
                    }
                }
                buf.clear();
                BranchNodeRef::new(&stack, mask).rlp(buf)
            }
        }
    }

    fn rlp(&mut self, buf: &mut Vec<u8>) -> RlpNode {
        match self {
            Node::Leaf { cached: Some(rlp), .. }
            | Node::Extension { cached: Some(rlp), .. }
            | Node::Branch { cached: Some(rlp), .. } => rlp.clone(),
            _ => {
                let rlp = self.encode_into(buf);
                match self {
                    Node::Leaf { cached, .. } | Node::Extension { cached, .. } | Node::Branch { cached, .. } => {
                        *cached = Some(rlp.clone())
                    }
                }
                rlp
            }
        }
    }
}

impl MerkleTrie {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts or replaces the value under a hashed key. An empty value removes the key,
    /// because Ethereum tries never hold empty values.
    pub fn insert(&mut self, hashed_key: B256, value: Vec<u8>) {
        if value.is_empty() {
            self.remove(hashed_key);
            return;
        }
        let key = key_nibbles(&hashed_key);
        let (root, added) = match self.root.take() {
            Some(root) => root.insert(&key, value),
            None => (Node::Leaf { path: key.to_vec(), value, cached: None }, true),
        };
        self.root = Some(root);
        self.len += added as usize;
    }

    pub fn remove(&mut self, hashed_key: B256) {
        let key = key_nibbles(&hashed_key);
        if self.get(hashed_key).is_none() {
            return;
        }
        if let Some(root) = self.root.take() {
            let (root, removed) = root.remove(&key);
            self.root = root;
            self.len -= removed as usize;
        }
    }

    pub fn get(&self, hashed_key: B256) -> Option<&[u8]> {
        self.root.as_ref()?.get(&key_nibbles(&hashed_key))
    }

    /// The nodes on the path to `hashed_key`, root first, each as its RLP encoding (EIP-1186's
    /// proof: nodes embedded in their parent, under 32 bytes, are not listed on their own). It
    /// proves the key's value, or its absence where the path ends.
    pub fn proof(&mut self, hashed_key: B256) -> Vec<Vec<u8>> {
        self.root();
        let key = key_nibbles(&hashed_key);
        let mut rest: &[u8] = &key;
        let mut out = Vec::new();
        let mut node = self.root.as_mut();
        let mut buf = Vec::with_capacity(600);
        while let Some(current) = node {
            let encoded = current.encoding(&mut buf);
            if out.is_empty() || encoded.len() >= 32 {
                out.push(encoded);
            }
            node = match current {
                Node::Leaf { .. } => None,
                Node::Extension { path, child, .. } => match rest.strip_prefix(path.as_slice()) {
                    Some(after) => {
                        rest = after;
                        Some(child.as_mut())
                    }
                    None => None,
                },
                Node::Branch { children, .. } => match rest.split_first() {
                    Some((index, after)) => {
                        rest = after;
                        children[*index as usize].as_mut()
                    }
                    None => None,
                },
            };
        }
        out
    }

    /// The root hash; recomputes only nodes on paths written since the last call. The root
    /// branch's sixteen subtrees are hashed in parallel: they share nothing.
    pub fn root(&mut self) -> B256 {
        let Some(root) = self.root.as_mut() else { return EMPTY_ROOT_HASH };
        let mut buf = Vec::with_capacity(600);
        if let Node::Branch { children, cached: None } = root {
            use rayon::prelude::*;
            children.par_iter_mut().flatten().for_each(|child| {
                child.rlp(&mut Vec::with_capacity(600));
            });
        }
        let rlp = root.rlp(&mut buf);
        // The root is always referenced by hash, even when its encoding is under 32 bytes.
        match rlp.as_hash() {
            Some(hash) => hash,
            None => keccak256(rlp.as_slice()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_trie::HashBuilder;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn reference_root(entries: &BTreeMap<B256, Vec<u8>>) -> B256 {
        let mut builder = HashBuilder::default();
        for (key, value) in entries {
            builder.add_leaf(Nibbles::unpack(key), value);
        }
        builder.root()
    }

    #[test]
    fn proofs_verify_against_the_root_for_present_and_absent_keys() {
        let mut trie = MerkleTrie::new();
        for i in 0u16..300 {
            trie.insert(keccak256(i.to_be_bytes()), alloy_rlp::encode(u64::from(i) + 1));
        }
        let root = trie.root();
        for i in [0u16, 7, 299] {
            let key = keccak256(i.to_be_bytes());
            let proof: Vec<alloy_primitives::Bytes> = trie.proof(key).into_iter().map(Into::into).collect();
            let value = alloy_rlp::encode(u64::from(i) + 1);
            alloy_trie::proof::verify_proof(root, Nibbles::unpack(key), Some(value.clone()), &proof).unwrap();
            assert!(alloy_trie::proof::verify_proof(root, Nibbles::unpack(key), Some(vec![0x42]), &proof).is_err());
        }
        let absent = keccak256(b"absent");
        let proof: Vec<alloy_primitives::Bytes> = trie.proof(absent).into_iter().map(Into::into).collect();
        alloy_trie::proof::verify_proof(root, Nibbles::unpack(absent), None, &proof).unwrap();
    }

    #[test]
    fn empty_trie_has_the_empty_root() {
        assert_eq!(MerkleTrie::new().root(), EMPTY_ROOT_HASH);
    }

    #[test]
    fn removing_every_key_returns_to_the_empty_root() {
        let mut trie = MerkleTrie::new();
        for i in 0u8..50 {
            trie.insert(keccak256([i]), vec![i + 1]);
        }
        assert_ne!(trie.root(), EMPTY_ROOT_HASH);
        for i in 0u8..50 {
            trie.remove(keccak256([i]));
        }
        assert!(trie.is_empty());
        assert_eq!(trie.root(), EMPTY_ROOT_HASH);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// After any sequence of inserts and removes, with roots taken in between (so cached
        /// hashes are exercised), the root equals alloy-trie's from-scratch root.
        #[test]
        fn incremental_root_matches_from_scratch_root(
            ops in prop::collection::vec((0u16..300, prop::option::of(prop::collection::vec(any::<u8>(), 1..40)), any::<bool>()), 1..200)
        ) {
            let mut trie = MerkleTrie::new();
            let mut model = BTreeMap::new();
            for (key, value, take_root) in ops {
                let key = keccak256(key.to_be_bytes());
                match value {
                    Some(value) => { trie.insert(key, value.clone()); model.insert(key, value); }
                    None => { trie.remove(key); model.remove(&key); }
                }
                if take_root {
                    prop_assert_eq!(trie.root(), reference_root(&model));
                }
            }
            prop_assert_eq!(trie.len(), model.len());
            prop_assert_eq!(trie.root(), reference_root(&model));
        }
    }
}
