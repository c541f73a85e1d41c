//! The consensus working set the tick keeps between runs: bodies received, decisions waiting
//! for execution, timers, sync progress.

use alloy_primitives::{Address, B256, U256};
use bevy_ecs::prelude::*;
use malachite_types::{LinearTimeouts, Round, Timeout};
use std::collections::{BTreeMap, HashMap, VecDeque};

use super::net::{NetEvent, PeerKey};
use super::types::Height;
use super::wire::{DecidedBlock, DoubleSignEvidence, SignedBlock};

/// Fixed parameters of this validator's consensus.
#[derive(Resource, Clone, Debug)]
pub struct ConsensusSettings {
    pub genesis_hash: B256,
    pub timeouts: LinearTimeouts,
    /// The proposer waits this long after the previous decision before proposing, so blocks come
    /// at a steady pace rather than as fast as votes travel.
    pub block_time_ms: u64,
    pub status_interval_ms: u64,
    /// Blocks per epoch: validator set changes take effect after a block whose number is a
    /// multiple of this.
    pub epoch_length: u64,
    /// Wei paid out per block on top of the fees, from `reward_source`.
    pub block_reward: U256,
    pub reward_source: Address,
}

/// Where consensus stands between ticks.
#[derive(Resource, Clone, Debug, Default)]
pub struct ConsensusProgress {
    /// A block was decided and waits for `Execute`; no input is processed until it ran.
    pub awaiting_execution: bool,
    /// When the last block was executed (tick clock).
    pub last_commit_ms: u64,
    /// The engine asked for a value to propose at this height and round.
    pub pending_proposal: Option<(Height, Round)>,
    pub next_status_ms: u64,
    pub rounds_started: u64,
    pub current_round: i64,
}

/// Bodies of proposed blocks by hash, with their proposer's signature (to pass them on), kept
/// until their height is decided. Only bodies whose signature verified are kept.
#[derive(Resource, Clone, Debug, Default)]
pub struct ReceivedBlocks(pub HashMap<B256, SignedBlock>);

/// Decided blocks (by consensus or sync) waiting for `Execute`, in height order.
#[derive(Resource, Clone, Debug, Default)]
pub struct DecidedQueue(pub VecDeque<DecidedBlock>);

/// Running timeouts and their deadlines (tick clock, ms).
#[derive(Resource, Clone, Debug, Default)]
pub struct ConsensusTimers(pub Vec<(Timeout, u64)>);

/// Double-sign proofs seen and not yet carried by a decided block.
#[derive(Resource, Clone, Debug, Default)]
pub struct PendingEvidence(pub Vec<DoubleSignEvidence>);

/// Block sync: what peers report and what they sent ahead of time.
#[derive(Resource, Clone, Debug, Default)]
pub struct SyncProgress {
    pub peer_heights: HashMap<PeerKey, u64>,
    pub next_request_ms: u64,
    /// Synced blocks beyond the next one, applied in order.
    pub buffered: BTreeMap<u64, DecidedBlock>,
}

/// Network events that arrived after this tick's decision; handled first next tick.
#[derive(Resource, Clone, Debug, Default)]
pub struct DeferredEvents(pub VecDeque<NetEvent>);

/// Transactions admitted to the pool that peers should hear about.
#[derive(Resource, Clone, Debug, Default)]
pub struct TxGossip(pub Vec<Vec<u8>>);
