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

/// Whose fault a refusal is, for scoring the peer that relayed the transaction (as reth's pool
/// errors tell a bad transaction from a bad moment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// No honest node sends it: it could never have entered an honest node's pool (bad
    /// signature or encoding, another chain, too big, not enough gas to even start).
    Invalid,
    /// Honest nodes send it when their view differs from ours: a nonce just used, a fee just
    /// outbid, a balance just spent, a full pool, a transaction already seen.
    Stale,
}

impl PoolError {
    pub fn kind(&self) -> RefusalKind {
        match self {
            Self::WrongChainId { .. }
            | Self::NotReplayProtected
            | Self::UnsupportedType
            | Self::InvalidSignature(_)
            | Self::Decode(_)
            | Self::Oversized { .. }
            | Self::TipAboveFeeCap
            | Self::IntrinsicGasTooLow { .. }
            | Self::GasLimitExceeded => RefusalKind::Invalid,
            Self::NonceTooLow { .. }
            | Self::InsufficientFunds { .. }
            | Self::ReplacementUnderpriced
            | Self::AlreadyKnown
            | Self::PoolFull
            | Self::NonceGapTooLarge { .. } => RefusalKind::Stale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_no_honest_pool_would_hold_counts_against_the_relaying_peer() {
        let invalid = [
            PoolError::InvalidSignature("bad".into()),
            PoolError::Decode("rlp".into()),
            PoolError::WrongChainId { expected: 1, got: 2 },
            PoolError::Oversized { size: 2, limit: 1 },
            PoolError::IntrinsicGasTooLow { gas: 1, needed: 21_000 },
        ];
        assert!(invalid.iter().all(|e| e.kind() == RefusalKind::Invalid));
        let stale = [
            PoolError::NonceTooLow { expected: 2, got: 1 },
            PoolError::AlreadyKnown,
            PoolError::PoolFull,
            PoolError::ReplacementUnderpriced,
            PoolError::NonceGapTooLarge { expected: 1, got: 90, max_gap: 64 },
        ];
        assert!(stale.iter().all(|e| e.kind() == RefusalKind::Stale));
    }
}
