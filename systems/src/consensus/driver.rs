//! The consensus systems: feed the engine what arrived (votes, proposals, bodies, synced blocks,
//! elapsed timeouts), carry out what it decides, execute decided blocks, and hand messages to the
//! network.
//!
//! One decision per tick: once a block is decided, further input waits until `Execute` ran it,
//! so every proposal for the next height is checked against the executed head.

use alloy_primitives::B256;
use bevy_ecs::prelude::*;
use malachite_consensus::{Input, LocallyProposedValue, ProposedValue};
use malachite_types::{Round, Validity, ValueOrigin};
use std::sync::Arc;

use zg_components::chain::{ChainHead, ChainSpec, SealedBlock};
use zg_components::consensus::{
    BlockValue, ConsensusProgress, ConsensusSettings, ConsensusTimers, DecidedBlock, DecidedQueue, DeferredEvents,
    Height, NetEvent, NetInbox, NetMessage, NetOutbox, PendingEvidence, ReceivedBlocks, SignedBlock, SyncProgress,
    TxGossip, ValidatorSet, WireCertificate,
};
use zg_components::node::TickClock;

use super::blocks::{self, BlockCheck};
use super::engine::{Effects, Engine};
use super::{evidence, verify};
use crate::chain::fault::{Fault, NodeFault};
use super::staking;
use crate::chain::producer::{self, BlockContext, RewardPlan};
use crate::profile::timed;

/// The engine as a resource.
#[derive(Resource)]
pub struct ConsensusEngine(pub Engine);

/// Most network events handled in one tick.
pub const MAX_EVENTS_PER_TICK: usize = 20_000;
/// Most blocks asked for in one sync request.
pub const SYNC_BATCH: u64 = 32;
/// Bodies kept per height and round (an honest proposer sends one; a faulty one a few).
pub const MAX_BODIES_PER_ROUND: usize = 2;
/// Most bodies kept at once (current and two next heights, a few rounds each).
pub const MAX_KEPT_BODIES: usize = 256;
/// How far beyond the current round a body may be (Malachite's own look-ahead is 10).
pub const MAX_ROUNDS_AHEAD: i64 = 10;
/// Most transactions in one gossip message.
pub const GOSSIP_BATCH: usize = 2_000;

pub fn drive_consensus(world: &mut World) {
    timed(world, "consensus", |world| {
        if world.resource::<ConsensusProgress>().awaiting_execution || world.resource::<NodeFault>().0.is_some() {
            return;
        }
        world.resource_scope(|world, mut engine: Mut<ConsensusEngine>| drive(world, &mut engine.0));
    })
}

fn drive(world: &mut World, engine: &mut Engine) {
    let head = world.resource::<ChainHead>().number();
    if !engine.started() || engine.height().0 <= head {
        start_next_height(world, engine, Height(head + 1));
        if world.resource::<ConsensusProgress>().awaiting_execution {
            return;
        }
    }
    if apply_buffered_sync(world) {
        return;
    }
    let inbox = world.get_resource::<NetInbox>().cloned();
    for handled in 0..MAX_EVENTS_PER_TICK {
        let deferred = world.resource_mut::<DeferredEvents>().0.pop_front();
        let Some(event) = deferred.or_else(|| inbox.as_ref().and_then(|i| i.0.try_recv().ok())) else { break };
        handle_event(world, engine, event);
        if world.resource::<ConsensusProgress>().awaiting_execution {
            // Whatever else arrived waits for the next tick, after execution; the rest stays in
            // the (bounded) inbox, so deferred events never pile up past one tick's worth.
            if let Some(inbox) = &inbox {
                let room = MAX_EVENTS_PER_TICK.saturating_sub(world.resource::<DeferredEvents>().0.len());
                let rest: Vec<NetEvent> = inbox.0.try_iter().take(room.min(MAX_EVENTS_PER_TICK - handled)).collect();
                world.resource_mut::<DeferredEvents>().0.extend(rest);
            }
            return;
        }
    }
    fire_timeouts(world, engine);
    if !world.resource::<ConsensusProgress>().awaiting_execution {
        propose_when_due(world, engine);
    }
}

fn start_next_height(world: &mut World, engine: &mut Engine, height: Height) {
    let set = world.resource::<ValidatorSet>().clone();
    let mut effects = Effects::default();
    match engine.start_height(height, set, &mut effects) {
        Ok(replayed) if replayed > 0 => tracing::info!(%height, replayed, "resumed height from the consensus WAL"),
        Ok(_) => tracing::debug!(%height, "started height"),
        Err(error) => tracing::error!(%height, %error, "cannot start height"),
    }
    {
        let mut progress = world.resource_mut::<ConsensusProgress>();
        progress.pending_proposal = None;
    }
    apply(world, effects);
    // Bodies that arrived early for this height (their signatures were checked then).
    let early: Vec<SignedBlock> =
        world.resource::<ReceivedBlocks>().0.values().filter(|b| b.block.height == height.0).cloned().collect();
    for body in early {
        offer_block(world, engine, body, true);
    }
}

fn handle_event(world: &mut World, engine: &mut Engine, event: NetEvent) {
    let NetEvent { from, message } = event;
    match message {
        NetMessage::Status { genesis, height } => {
            if B256::from(genesis) != world.resource::<ConsensusSettings>().genesis_hash {
                tracing::debug!(peer = %hex_key(&from), "peer is on another chain");
                return;
            }
            world.resource_mut::<SyncProgress>().peer_heights.insert(from, height);
            request_sync_if_behind(world, from, height);
        }
        NetMessage::Vote(vote) => process(world, engine, Input::Vote(vote.to_signed())),
        NetMessage::Proposal(proposal) => process(world, engine, Input::Proposal(proposal.to_signed())),
        NetMessage::Block(body) => {
            let hash = body.block.hash();
            let known = world.resource::<ReceivedBlocks>().0.contains_key(&hash);
            if !known {
                offer_block(world, engine, body, false);
            }
        }
        NetMessage::SyncResponse(blocks) => {
            let head = world.resource::<ChainHead>().number();
            {
                let mut sync = world.resource_mut::<SyncProgress>();
                // Only the range this node asks for: a peer cannot park far-future blocks here.
                let window = head + 1..=head + 2 * SYNC_BATCH;
                for decided in blocks.into_iter().filter(|d| window.contains(&d.block.height)).take(SYNC_BATCH as usize * 2) {
                    sync.buffered.insert(decided.block.height, decided);
                }
            }
            apply_buffered_sync(world);
        }
        // Served by the network layer from the database; transactions go through the pool inbox,
        // storage shards to the storage store, DA pieces to the DA service.
        NetMessage::SyncRequest { .. }
        | NetMessage::Transactions(_)
        | NetMessage::StoreShard(_)
        | NetMessage::ShardRequest { .. }
        | NetMessage::ShardReply { .. }
        | NetMessage::DaRequest { .. }
        | NetMessage::DaReply { .. } => {}
    }
}

fn hex_key(key: &[u8; 32]) -> String {
    key.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Checks a block body and, when it is for the height under way, tells the engine whether it
/// can be voted for. `verified`: its signature was checked when it first arrived.
fn offer_block(world: &mut World, engine: &mut Engine, body: SignedBlock, verified: bool) {
    let now = world.resource::<TickClock>().now_ms;
    let chain_id = engine.chain_id;
    let set = world.resource::<ValidatorSet>().clone();
    let block = &body.block;
    // Only the proposer of the round a body names may have built it, and only its signature
    // proves that: a body anyone else made is dropped before it can take a place in the round.
    let rightful = set.proposer(Height(block.height), Round::new(block.round));
    let round_ahead = (block.round as i64) > engine.round().as_i64().max(0) + MAX_ROUNDS_AHEAD;
    if block.proposer() != rightful.address || round_ahead {
        tracing::debug!(height = block.height, round = block.round, "ignoring a body from someone not proposing that round");
        return;
    }
    if !verified && !body.verify(chain_id, &rightful.public_key) {
        tracing::debug!(height = block.height, round = block.round, "ignoring a body its proposer did not sign");
        return;
    }
    // Only the proposer itself can fill its round (an equivocating proposer spoils its own
    // round, no one else's).
    let in_round = |b: &SignedBlock| (b.block.height, b.block.round) == (block.height, block.round);
    if world.resource::<ReceivedBlocks>().0.values().filter(|b| in_round(b)).count() >= MAX_BODIES_PER_ROUND {
        return;
    }
    let check = blocks::check_block(world, block, &set, chain_id, now);
    let hash = block.hash();
    let validity = match check {
        BlockCheck::Stale => return,
        BlockCheck::Future => {
            let head = world.resource::<ChainHead>().number();
            // Keep a bounded look-ahead only: a peer cannot fill memory with far-future bodies.
            if block.height <= head + 2 && world.resource::<ReceivedBlocks>().0.len() < MAX_KEPT_BODIES {
                world.resource_mut::<ReceivedBlocks>().0.insert(hash, body);
            }
            return;
        }
        BlockCheck::Valid => Validity::Valid,
        BlockCheck::Invalid(reason) => {
            tracing::warn!(height = block.height, %hash, %reason, "rejecting proposed block");
            Validity::Invalid
        }
    };
    let (height, round, proposer) = (Height(block.height), Round::new(block.round), block.proposer());
    if world.resource::<ReceivedBlocks>().0.len() < MAX_KEPT_BODIES {
        world.resource_mut::<ReceivedBlocks>().0.insert(hash, body);
    }
    if height == engine.height() {
        let value = ProposedValue { height, round, valid_round: Round::Nil, proposer, value: BlockValue(hash), validity };
        process(world, engine, Input::ProposedValue(value, ValueOrigin::Consensus));
    }
}

/// Feeds one input to the engine and carries out its effects.
fn process(world: &mut World, engine: &mut Engine, input: Input<zg_components::consensus::ZgContext>) {
    let mut effects = Effects::default();
    if let Err(error) = engine.process(input, &mut effects) {
        tracing::debug!(%error, "consensus input refused");
    }
    apply(world, effects);
}

fn apply(world: &mut World, effects: Effects) {
    if let Some(failure) = effects.wal_failure {
        // Nothing produced after a failed log write may leave the node: it could contradict
        // what a restart replays.
        tracing::error!(%failure, "stopping: the consensus WAL could not be written");
        world.resource_mut::<NodeFault>().0 = Some(Fault::ConsensusWal(failure));
        return;
    }
    let now = world.resource::<TickClock>().now_ms;
    let timeouts = world.resource::<ConsensusSettings>().timeouts;
    {
        let mut timers = world.resource_mut::<ConsensusTimers>();
        if effects.cancel_all {
            timers.0.clear();
        }
        timers.0.retain(|(t, _)| !effects.cancel.contains(t));
        for timeout in effects.schedule {
            let deadline = now + timeouts.duration_for(timeout).as_millis() as u64;
            timers.0.retain(|(t, _)| *t != timeout);
            timers.0.push((timeout, deadline));
        }
    }
    {
        let mut progress = world.resource_mut::<ConsensusProgress>();
        for (height, round, proposer) in &effects.rounds {
            progress.rounds_started += 1;
            progress.current_round = round.as_i64();
            tracing::debug!(%height, %round, %proposer, "round started");
        }
        if let Some(request) = effects.get_value {
            progress.pending_proposal = Some(request);
        }
    }
    for hash in effects.restream {
        if let Some(block) = world.resource::<ReceivedBlocks>().0.get(&hash).cloned() {
            world.resource_mut::<NetOutbox>().0.push((None, NetMessage::Block(block)));
        }
    }
    world.resource_mut::<NetOutbox>().0.extend(effects.messages);
    if !effects.evidence.is_empty() {
        let mut pending = world.resource_mut::<PendingEvidence>();
        for found in effects.evidence {
            tracing::warn!(validator = %found.first.to_signed().message.validator, height = found.first.height, "double vote detected");
            if !pending.0.iter().any(|e| evidence::same(e, &found)) {
                pending.0.push(found);
            }
        }
    }
    if let Some(certificate) = effects.decided {
        let hash = certificate.value_id;
        let Some(block) = world.resource::<ReceivedBlocks>().0.get(&hash).map(|b| b.block.clone()) else {
            // The engine only decides values it holds a valid body for.
            tracing::error!(%hash, "decided a block whose body is missing");
            return;
        };
        let Ok(certificate) = WireCertificate::from_certificate(&certificate) else { return };
        tracing::debug!(height = block.height, %hash, round = certificate.round, "decided");
        world.resource_mut::<DecidedQueue>().0.push_back(DecidedBlock { block, certificate });
        world.resource_mut::<ConsensusProgress>().awaiting_execution = true;
    }
}

fn fire_timeouts(world: &mut World, engine: &mut Engine) {
    let now = world.resource::<TickClock>().now_ms;
    loop {
        let due = {
            let mut timers = world.resource_mut::<ConsensusTimers>();
            let position = timers.0.iter().position(|(_, deadline)| *deadline <= now);
            position.map(|i| timers.0.swap_remove(i).0)
        };
        let Some(timeout) = due else { break };
        process(world, engine, Input::TimeoutElapsed(timeout));
        if world.resource::<ConsensusProgress>().awaiting_execution {
            break;
        }
    }
}

fn propose_when_due(world: &mut World, engine: &mut Engine) {
    let now = world.resource::<TickClock>().now_ms;
    let progress = world.resource::<ConsensusProgress>().clone();
    let Some((height, round)) = progress.pending_proposal else { return };
    if height != engine.height() {
        world.resource_mut::<ConsensusProgress>().pending_proposal = None;
        return;
    }
    let block_time = world.resource::<ConsensusSettings>().block_time_ms;
    // A later round means the first proposer failed: propose at once.
    if round.as_i64() == 0 && now < progress.last_commit_ms + block_time {
        return;
    }
    world.resource_mut::<ConsensusProgress>().pending_proposal = None;
    let set = world.resource::<ValidatorSet>().clone();
    // Evidence against someone who left the set can no longer be carried.
    let evidence: Vec<_> =
        world.resource::<PendingEvidence>().0.iter().filter(|e| evidence::check(e, &set, engine.chain_id).is_ok()).cloned().collect();
    let block = blocks::build_block(world, height, round, engine.address(), now, evidence);
    let hash = block.hash();
    tracing::debug!(%height, %round, %hash, txs = block.transactions.len(), "proposing");
    let body = engine.sign_body(block);
    world.resource_mut::<ReceivedBlocks>().0.insert(hash, body.clone());
    // The body goes out before the proposal that names it.
    world.resource_mut::<NetOutbox>().0.push((None, NetMessage::Block(body)));
    process(world, engine, Input::Propose(LocallyProposedValue::new(height, round, BlockValue(hash))));
}

fn request_sync_if_behind(world: &mut World, peer: [u8; 32], peer_height: u64) {
    let now = world.resource::<TickClock>().now_ms;
    let head = world.resource::<ChainHead>().number();
    let progress = world.resource::<ConsensusProgress>();
    let block_time = world.resource::<ConsensusSettings>().block_time_ms;
    // One block behind is normal while a decision travels; more, or stuck, means catch up.
    let stuck = now > progress.last_commit_ms + 4 * block_time.max(250);
    if peer_height <= head || (peer_height == head + 1 && !stuck) {
        return;
    }
    let mut sync = world.resource_mut::<SyncProgress>();
    if now < sync.next_request_ms {
        return;
    }
    sync.next_request_ms = now + 1_000;
    let request = NetMessage::SyncRequest { from: head + 1, to: peer_height.min(head + SYNC_BATCH) };
    world.resource_mut::<NetOutbox>().0.push((Some(peer), request));
}

/// Applies the next synced block if it is the one after the head and its certificate holds.
/// Returns whether one was queued for execution.
fn apply_buffered_sync(world: &mut World) -> bool {
    let head = world.resource::<ChainHead>().number();
    let next = {
        let mut sync = world.resource_mut::<SyncProgress>();
        sync.buffered.retain(|height, _| *height > head);
        sync.buffered.remove(&(head + 1))
    };
    let Some(decided) = next else { return false };
    let chain_id = world.resource::<ChainSpec>().chain_id;
    let set = world.resource::<ValidatorSet>().clone();
    let now = world.resource::<TickClock>().now_ms;
    let certificate = decided.certificate.to_certificate();
    let hash = decided.block.hash();
    if certificate.height.0 != decided.block.height || certificate.value_id != hash {
        tracing::warn!(height = decided.block.height, "synced block does not match its certificate");
        return false;
    }
    if let Err(error) = verify::commit_certificate(chain_id, &certificate, &set, Default::default()) {
        tracing::warn!(height = decided.block.height, %error, "synced block's certificate does not verify");
        return false;
    }
    // The certificate makes it final; the check still guards the executed head it extends.
    match blocks::check_block(world, &decided.block, &set, chain_id, now.max(decided.block.timestamp_ms)) {
        BlockCheck::Valid => {}
        other => {
            tracing::error!(height = decided.block.height, ?other, "a certified block does not extend this node's head");
            return false;
        }
    }
    tracing::info!(height = decided.block.height, %hash, "synced block");
    world.resource_mut::<DecidedQueue>().0.push_back(decided);
    world.resource_mut::<ConsensusProgress>().awaiting_execution = true;
    true
}

/// Executes decided blocks in order. Runs in `Execute`.
pub fn execute_decided_blocks(world: &mut World) {
    timed(world, "execute_decided", |world| {
        while let Some(decided) = world.resource_mut::<DecidedQueue>().0.pop_front() {
            let head = world.resource::<ChainHead>().number();
            if decided.block.height != head + 1 {
                continue;
            }
            let chain_id = world.resource::<ChainSpec>().chain_id;
            let set = world.resource::<ValidatorSet>().clone();
            let settings = world.resource::<ConsensusSettings>().clone();
            let height = head + 1;
            let mut system_calls: Vec<_> = decided
                .block
                .evidence
                .iter()
                .filter_map(|e| set.get(&e.first.to_signed().message.validator))
                .map(|v| staking::slash_call(v.public_key.as_bytes()))
                .collect();
            let closes_epoch = settings.epoch_length > 0 && height % settings.epoch_length == 0;
            if closes_epoch {
                system_calls.push(staking::close_epoch_call());
            }
            let rewards = RewardPlan {
                recipients: set.validators().iter().map(|v| (v.reward_address, v.voting_power)).collect(),
                block_reward: settings.block_reward,
                reward_source: settings.reward_source,
            };
            let candidates = blocks::candidates(world, &decided.block, chain_id);
            let context = BlockContext {
                timestamp_s: decided.block.timestamp_ms / 1000,
                coinbase: staking::FEE_POOL_ADDRESS,
                system_calls,
                rewards: Some(rewards),
                edits: Vec::new(),
            };
            let mut committed = producer::execute_block(world, context, candidates);
            let carried = decided.block.evidence.clone();
            committed.decided = Some(Arc::new(decided));
            world.write_message(SealedBlock(Arc::new(committed)));
            if closes_epoch {
                update_validator_set(world, &set, height);
            }
            let now = world.resource::<TickClock>().now_ms;
            {
                let mut progress = world.resource_mut::<ConsensusProgress>();
                progress.awaiting_execution = false;
                progress.last_commit_ms = now;
            }
            world.resource_mut::<ReceivedBlocks>().0.retain(|_, b| b.block.height > height);
            world.resource_mut::<PendingEvidence>().0.retain(|e| !carried.iter().any(|c| evidence::same(c, e)));
        }
    })
}

/// Takes the set for the next epoch from the staking contract. A contract that yields no usable
/// set (everyone jailed) leaves the old one in place rather than halting with an empty set.
fn update_validator_set(world: &mut World, old: &ValidatorSet, height: u64) {
    match staking::current_validator_set(world) {
        Ok(new) if new != *old => {
            tracing::info!(height, validators = new.validators().len(), power = new.total_power(), "validator set changed");
            if let Some(sink) = world.get_resource::<NetSinkHandle>() {
                sink.0.validators_changed(&new);
            }
            world.insert_resource(new);
        }
        Ok(_) => {}
        Err(error) => tracing::error!(height, %error, "keeping the previous validator set"),
    }
}

/// Hands this tick's messages to the network, with a status heartbeat and pool gossip. Runs in
/// `Egress`, after the block and the WAL are on disk.
pub fn send_network_messages(world: &mut World) {
    timed(world, "network_egress", |world| {
        let now = world.resource::<TickClock>().now_ms;
        let gossip = std::mem::take(&mut world.resource_mut::<TxGossip>().0);
        let mut outbox = std::mem::take(&mut world.resource_mut::<NetOutbox>().0);
        for batch in gossip.chunks(GOSSIP_BATCH) {
            outbox.push((None, NetMessage::Transactions(batch.to_vec())));
        }
        let settings = world.resource::<ConsensusSettings>().clone();
        if now >= world.resource::<ConsensusProgress>().next_status_ms {
            world.resource_mut::<ConsensusProgress>().next_status_ms = now + settings.status_interval_ms;
            let height = world.resource::<ChainHead>().number();
            outbox.push((None, NetMessage::Status { genesis: settings.genesis_hash.0, height }));
        }
        if world.resource::<NodeFault>().0.is_some() {
            return;
        }
        if let Some(sink) = world.get_resource::<NetSinkHandle>() {
            for (to, message) in outbox {
                sink.0.send(to, message);
            }
        }
    })
}

pub use crate::ports::{NetSink, NetSinkHandle};
