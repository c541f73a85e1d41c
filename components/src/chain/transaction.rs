//! Mempool transactions and the reasons the pool refuses one.

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256};
use bevy_ecs::prelude::*;

/// A transaction waiting in the mempool, its sender already recovered.
#[derive(Component, Clone, Debug)]
pub struct PooledTx {
    pub envelope: TxEnvelope,
    pub sender: Address,
    pub hash: B256,
    /// Arrival order, to break fee ties deterministically.
    pub arrival: u64,
}

impl PooledTx {
    pub fn new(envelope: TxEnvelope, sender: Address, arrival: u64) -> Self {
        let hash = envelope.trie_hash();
        Self { envelope, sender, hash, arrival }
    }

    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    /// The tip per gas this transaction pays a producer at `base_fee`, or None when its fee cap
    /// is below the base fee (it cannot be included yet).
    pub fn tip_at(&self, base_fee: u64) -> Option<u128> {
        self.envelope.effective_tip_per_gas(base_fee)
    }
}

/// Why the pool refused a transaction. Messages are geth's, because Ethereum clients match on them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow { expected: u64, got: u64 },
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds { balance: alloy_primitives::U256, cost: alloy_primitives::U256 },
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    #[error("already known")]
    AlreadyKnown,
    #[error("exceeds block gas limit")]
    GasLimitExceeded,
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow { gas: u64, needed: u64 },
    #[error("invalid chain id: have {got}, want {expected}")]
    WrongChainId { expected: u64, got: u64 },
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    NotReplayProtected,
    #[error("transaction type not supported")]
    UnsupportedType,
    #[error("invalid sender: {0}")]
    InvalidSignature(String),
    #[error("rlp: {0}")]
    Decode(String),
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized { size: usize, limit: usize },
    #[error("max fee per gas less than max priority fee per gas")]
    TipAboveFeeCap,
    #[error("txpool is full")]
    PoolFull,
    #[error("nonce too high: next nonce {expected}, tx nonce {got}, max gap {max_gap}")]
    NonceGapTooLarge { expected: u64, got: u64, max_gap: u64 },
}
