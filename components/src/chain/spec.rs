//! The chain's fixed parameters, from genesis and config.

use alloy_primitives::Address;
use bevy_ecs::prelude::*;

#[derive(Resource, Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    pub chain_id: u64,
    pub block_gas_limit: u64,
    /// Milliseconds between sealed blocks.
    pub block_time_ms: u64,
    /// Seal a block every `block_time_ms` even with an empty mempool.
    pub seal_empty_blocks: bool,
    /// The block producer's address: gas fees go here.
    pub coinbase: Address,
    /// Most pooled transactions before the pool refuses new ones.
    pub max_pool_size: usize,
    /// How far ahead of its account nonce a sender may queue transactions.
    pub max_nonce_gap: u64,
    /// Largest accepted encoded transaction, in bytes (geth's 128 KiB).
    pub max_tx_bytes: usize,
}

impl ChainSpec {
    pub const DEFAULT_BLOCK_GAS_LIMIT: u64 = 60_000_000;

    pub fn dev(chain_id: u64, coinbase: Address) -> Self {
        Self {
            chain_id,
            block_gas_limit: Self::DEFAULT_BLOCK_GAS_LIMIT,
            block_time_ms: 250,
            seal_empty_blocks: true,
            coinbase,
            max_pool_size: 100_000,
            max_nonce_gap: 1024,
            max_tx_bytes: 128 * 1024,
        }
    }
}

/// Present when blocks are ordered by consensus: the single producer's timer then stays idle.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct ExternalOrdering;
