//! # zg-components — zgnode's plain data
//!
//! Components, resources, events and wire types, grouped by domain. Nothing here performs I/O or
//! knows about systems; the only behaviour is construction, encoding and invariants (such as the
//! Merkle trie's node encoding, which *is* the state commitment's format).
//!
//! ## Layout
//! - [`alignment`]: an alignment node's audits as entities of its tick (targets, states, the
//!   orders to check and report).
//! - [`chain`]: accounts, blocks, transactions, receipts, genesis, the chain spec, the state trie
//!   and the index resources that map addresses and hashes to entities.
//! - [`consensus`]: the Malachite context (validators, votes, proposals), ordered blocks and
//!   the validator wire format.
//! - [`da`]: a blob's 2D Reed–Solomon square: layout, axis roots, data root, share proofs, the
//!   bad-encoding fraud proof and its bytes.
//! - [`storage`]: 0G storage's file commitment (chunks, segments, roots, submissions, proofs).
//! - [`compute`]: fine-tuning tasks as 0G's provider API shows them, their phases, and the task
//!   entities of the provider's tick.
//! - [`verifiable`]: quantized models, their canonical bytes and proof jobs' data.
//! - [`node`]: what every domain shares: the tick clock and profile, the inbox the I/O shell
//!   fills and the events it receives back.

pub mod alignment;
pub mod chain;
pub mod compute;
pub mod consensus;
pub mod da;
pub mod node;
pub mod storage;
pub mod verifiable;
