//! Erasure-coded shards across storage nodes, kept as entities: the holders (the network's
//! storage nodes, with their PoRA standing), and the shards this node is responsible for. The
//! tick decides what to encode, place and rebuild; the work itself runs off the tick (rayon for
//! coding, the network for fetching) and reports back through `StorageEvent`s, so a large upload
//! or a long repair never stalls block production.
//!
//! Placement: shard `i` of segment `s` goes to member `(i + s) mod n` of the ring (members
//! ordered by key). A holder penalized by the PoRA contract drops out: each of its shards goes to
//! the next member in ring order that is in good standing, and that node rebuilds it from any `k`
//! others.

use alloy_primitives::{Address, Log, U256};
use alloy_sol_types::SolEvent;
use bevy_ecs::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use zg_components::chain::SealedBlocks;
use zg_components::node::TickClock;
use zg_components::storage::shard::{
    HolderKey, MinerRecord, MinerRecords, OwnedShard, PlacementView, ShardHolder, ShardIndex, ShardSetup, ShardWork, Standing,
};
use zg_components::storage::{FileRecord, HeldSegment, NewFiles, StoredFile};

use super::pora::{IPoraMine, MINE_ADDRESS};

/// Runs shard work off the tick; what it achieves comes back as `StorageEvent`s.
pub trait ShardExecutor: Send + Sync + 'static {
    fn run(&self, work: ShardWork);
}

#[derive(Resource, Clone)]
pub struct ShardExecutorHandle(pub Arc<dyn ShardExecutor>);

/// Wait before the first rebuild of a shard of a new file: the uploading node pushes it first.
pub const FIRST_REPAIR_DELAY_MS: u64 = 2_000;
/// Longest wait between rebuild attempts of a shard no node can restore yet.
pub const MAX_REPAIR_BACKOFF_MS: u64 = 60_000;
/// Segments whose rebuild may start in one tick.
pub const MAX_REPAIRS_PER_TICK: usize = 32;

/// The member holding shard `index` of `segment`: `(index + segment) mod n`, or, when that
/// member is out of placement, the next one in ring order that is in. None without members.
pub fn holder_for(segment: u64, index: usize, members: &[HolderKey], out: &BTreeSet<HolderKey>) -> Option<HolderKey> {
    let n = members.len();
    if n == 0 {
        return None;
    }
    let base = (index + (segment % n as u64) as usize) % n;
    (0..n).map(|step| members[(base + step) % n]).find(|key| !out.contains(key)).or(Some(members[base]))
}

/// The holder of every shard of `segment`, in shard order.
pub fn holders_of(segment: u64, setup: &ShardSetup, out: &BTreeSet<HolderKey>) -> Vec<HolderKey> {
    (0..setup.total()).filter_map(|index| holder_for(segment, index, &setup.members, out)).collect()
}

/// Turns erasure coding on: holder entities for the ring, and an entity for each shard of the
/// tracked files this node is responsible for; `held` says which it has on disk.
pub fn install_sharding(
    world: &mut World,
    setup: ShardSetup,
    executor: Arc<dyn ShardExecutor>,
    held: impl Fn(u64, u64, u8) -> bool,
) {
    let mut index = ShardIndex::default();
    let records = world.get_resource::<MinerRecords>().cloned().unwrap_or_default();
    for (ring, key) in setup.members.iter().enumerate() {
        let entity = world.spawn(ShardHolder { key: *key, ring, standing: standing_of(&records, key) }).id();
        index.holders.insert(*key, entity);
    }
    world.insert_resource(index);
    world.init_resource::<PlacementView>();
    // Standings recorded before a restart hold until the chain says otherwise.
    let out: BTreeSet<HolderKey> = world
        .query::<&ShardHolder>()
        .iter(world)
        .filter(|h| matches!(h.standing, Standing::Penalized { .. }))
        .map(|h| h.key)
        .collect();
    if let Ok(mut view) = world.resource::<PlacementView>().0.write() {
        *view = out.clone();
    }
    let files: Vec<FileRecord> = world.query::<&StoredFile>().iter(world).map(|f| f.record.clone()).collect();
    let now = world.get_resource::<TickClock>().map(|c| c.now_ms).unwrap_or(0);
    for record in &files {
        assign(world, &setup, &out, record, now, &held);
    }
    world.insert_resource(setup);
    world.insert_resource(ShardExecutorHandle(executor));
}

/// Spawns an entity for each shard of `record` placement gives this node and it does not track.
fn assign(
    world: &mut World,
    setup: &ShardSetup,
    out: &BTreeSet<HolderKey>,
    record: &FileRecord,
    retry_at: u64,
    held: &dyn Fn(u64, u64, u8) -> bool,
) -> usize {
    let mut spawned = Vec::new();
    for segment in 0..record.data_segments() {
        for index in 0..setup.total() {
            if holder_for(segment, index, &setup.members, out) != Some(setup.own) {
                continue;
            }
            let key = (record.tx_seq, segment, index as u8);
            if world.resource::<ShardIndex>().owned.contains_key(&key) {
                continue;
            }
            let is_held = held(record.tx_seq, segment, index as u8);
            let shard = OwnedShard {
                tx_seq: record.tx_seq,
                segment,
                index: index as u8,
                held: is_held,
                repairing: false,
                failures: 0,
                retry_at,
            };
            spawned.push((key, world.spawn(shard).id()));
        }
    }
    let count = spawned.len();
    world.resource_mut::<ShardIndex>().owned.extend(spawned);
    count
}

/// Shards of newly published files this node is to keep. Runs in `Storage`, after
/// `index_submissions`.
pub fn assign_new_files(world: &mut World) {
    let Some(setup) = world.get_resource::<ShardSetup>().cloned() else { return };
    let files = world.resource::<NewFiles>().files.clone();
    if files.is_empty() {
        return;
    }
    let out = placement_out(world);
    let now = world.resource::<TickClock>().now_ms;
    for record in &files {
        assign(world, &setup, &out, record, now + FIRST_REPAIR_DELAY_MS, &|_, _, _| false);
    }
}

fn placement_out(world: &World) -> BTreeSet<HolderKey> {
    world.resource::<PlacementView>().out()
}

/// A PoRA event that changes a holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MinerEvent {
    Registered { miner: Address, node: HolderKey },
    Settled { miner: Address, epoch: u64, missed: u64 },
}

pub fn decode_miner_event(log: &Log) -> Option<MinerEvent> {
    if log.address != MINE_ADDRESS {
        return None;
    }
    match *log.topics().first()? {
        topic if topic == IPoraMine::Registered::SIGNATURE_HASH => {
            let event = IPoraMine::Registered::decode_log(log).ok()?.data;
            Some(MinerEvent::Registered { miner: event.miner, node: event.nodeId.0 })
        }
        topic if topic == IPoraMine::Settled::SIGNATURE_HASH => {
            let event = IPoraMine::Settled::decode_log(log).ok()?.data;
            let small = |v: U256| u64::try_from(v).ok();
            Some(MinerEvent::Settled { miner: event.miner, epoch: small(event.epoch)?, missed: small(event.missed)? })
        }
        _ => None,
    }
}

/// Applies a PoRA event to the miner records; the record it changed, if any. A settlement older
/// than one already applied changes nothing (epochs may be settled out of order).
pub fn apply_miner_event(records: &mut MinerRecords, event: MinerEvent) -> Option<MinerRecord> {
    match event {
        MinerEvent::Registered { miner, node } => {
            let record = MinerRecord { miner: miner.0.0, node, settled: None };
            records.0.insert(miner.0.0, record.clone());
            Some(record)
        }
        MinerEvent::Settled { miner, epoch, missed } => {
            let record = records.0.get_mut(&miner.0.0)?;
            if record.settled.is_some_and(|(latest, _)| latest > epoch) {
                return None;
            }
            record.settled = Some((epoch, missed > 0));
            Some(record.clone())
        }
    }
}

/// A holder's standing: penalized when a miner registered for it missed challenges in its
/// latest settled epoch.
pub fn standing_of(records: &MinerRecords, key: &HolderKey) -> Standing {
    records
        .0
        .values()
        .filter(|record| record.node == *key)
        .filter_map(MinerRecord::penalized_in)
        .max()
        .map_or(Standing::Good, |epoch| Standing::Penalized { epoch })
}

/// Follows PoRA registrations and settlements in this tick's blocks (recorded for `Persist`):
/// a holder that missed challenges leaves placement and its shards are taken over (and rebuilt)
/// by the next holders in the ring; one that passes a later epoch comes back. Runs in `Storage`.
pub fn follow_pora_standing(world: &mut World) {
    let events: Vec<MinerEvent> = world
        .resource::<SealedBlocks>()
        .0
        .iter()
        .flat_map(|block| block.receipts.iter().flat_map(|r| r.logs.iter()))
        .filter_map(decode_miner_event)
        .collect();
    if events.is_empty() {
        return;
    }
    let changed: Vec<MinerRecord> = {
        let mut records = world.resource_mut::<MinerRecords>();
        events.into_iter().filter_map(|event| apply_miner_event(&mut records, event)).collect()
    };
    if changed.is_empty() {
        return;
    }
    world.resource_mut::<NewFiles>().miners.extend(changed);
    refresh_standings(world);
}

/// Sets every holder's standing from the miner records; when that changes who is out of
/// placement, publishes it and spawns the shards this node takes over.
fn refresh_standings(world: &mut World) {
    let Some(setup) = world.get_resource::<ShardSetup>().cloned() else { return };
    let records = world.resource::<MinerRecords>().clone();
    let mut holders = world.query::<&mut ShardHolder>();
    for mut holder in holders.iter_mut(world) {
        let standing = standing_of(&records, &holder.key);
        if holder.standing != standing {
            tracing::warn!(holder = %alloy_primitives::hex::encode(holder.key), "storage node standing changed: {standing:?}");
            holder.standing = standing;
        }
    }
    let out: BTreeSet<HolderKey> = holders
        .iter(world)
        .filter(|h| matches!(h.standing, Standing::Penalized { .. }))
        .map(|h| h.key)
        .collect();
    if out == placement_out(world) {
        return;
    }
    if let Ok(mut view) = world.resource::<PlacementView>().0.write() {
        *view = out.clone();
    }
    let now = world.resource::<TickClock>().now_ms;
    let files: Vec<FileRecord> = world.query::<&StoredFile>().iter(world).map(|f| f.record.clone()).collect();
    let taken_over: usize = files.iter().map(|record| assign(world, &setup, &out, record, now, &|_, _, _| false)).sum();
    if taken_over > 0 {
        tracing::info!(shards = taken_over, "taking over shards of penalized storage nodes; rebuilding them");
    }
}

/// Starts rebuilds of shards this node should keep and lacks, a bounded number of segments per
/// tick, each retried with growing waits while too few shards can be reached. Runs in `Storage`.
pub fn schedule_repairs(
    setup: Option<Res<ShardSetup>>,
    executor: Option<Res<ShardExecutorHandle>>,
    view: Option<Res<PlacementView>>,
    clock: Res<TickClock>,
    mut shards: Query<&mut OwnedShard>,
) {
    let (Some(setup), Some(executor), Some(view)) = (setup, executor, view) else { return };
    let mut due: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    for shard in shards.iter() {
        if repair_due(shard, clock.now_ms) {
            let key = (shard.tx_seq, shard.segment);
            if due.len() < MAX_REPAIRS_PER_TICK || due.contains_key(&key) {
                due.entry(key).or_default().push(shard.index);
            }
        }
    }
    if due.is_empty() {
        return;
    }
    let out = view.out();
    for mut shard in shards.iter_mut() {
        if due.get(&(shard.tx_seq, shard.segment)).is_some_and(|wanted| wanted.contains(&shard.index)) {
            shard.repairing = true;
            // From now on `retry_at` is when the rebuild started (see `repair_due`).
            shard.retry_at = clock.now_ms;
        }
    }
    for ((tx_seq, segment), wanted) in due {
        executor.0.run(ShardWork::Repair { tx_seq, segment, wanted, holders: holders_of(segment, &setup, &out) });
    }
}

/// A rebuild that has not reported back within this long is started again (its task died).
pub const REPAIR_TIMEOUT_MS: u64 = 120_000;

fn repair_due(shard: &OwnedShard, now_ms: u64) -> bool {
    match (shard.held, shard.repairing) {
        (true, _) => false,
        (false, false) => shard.retry_at <= now_ms,
        (false, true) => shard.retry_at.saturating_add(REPAIR_TIMEOUT_MS) <= now_ms,
    }
}

/// Wait after `failures` failed rebuilds in a row: 1 s doubling, at most a minute.
pub fn repair_backoff_ms(failures: u32) -> u64 {
    (1_000u64 << failures.min(6)).min(MAX_REPAIR_BACKOFF_MS)
}

/// Segments handed out for placement in one tick (the rest wait for the next).
pub const MAX_PLACEMENTS_PER_TICK: usize = 256;

/// Hands segments this node stored whole to the shard worker: encoded on rayon and their shards
/// sent to the holders placement names. Runs in `Storage`.
pub fn place_held_segments(
    setup: Option<Res<ShardSetup>>,
    executor: Option<Res<ShardExecutorHandle>>,
    view: Option<Res<PlacementView>>,
    mut segments: Query<&mut HeldSegment>,
) {
    let (Some(setup), Some(executor), Some(view)) = (setup, executor, view) else { return };
    let mut out = None;
    for mut segment in segments.iter_mut().filter(|s| !s.placed).take(MAX_PLACEMENTS_PER_TICK) {
        let out = out.get_or_insert_with(|| view.out());
        executor.0.run(ShardWork::Place { tx_seq: segment.tx_seq, segment: segment.index, holders: holders_of(segment.index, &setup, out) });
        segment.placed = true;
    }
}

/// A shard is on this node's disk now.
pub fn mark_held(index: &ShardIndex, shards: &mut Query<&mut OwnedShard>, tx_seq: u64, segment: u64, shard: u8) {
    if let Some(mut owned) = index.owned.get(&(tx_seq, segment, shard)).and_then(|e| shards.get_mut(*e).ok()) {
        owned.held = true;
        owned.repairing = false;
        owned.failures = 0;
    }
}

/// A rebuild of a segment's shards could not finish: try again later.
pub fn mark_repair_failed(index: &ShardIndex, shards: &mut Query<&mut OwnedShard>, tx_seq: u64, segment: u64, wanted: &[u8], now_ms: u64) {
    for shard in wanted {
        if let Some(mut owned) = index.owned.get(&(tx_seq, segment, *shard)).and_then(|e| shards.get_mut(*e).ok())
            && !owned.held
        {
            owned.repairing = false;
            owned.failures += 1;
            owned.retry_at = now_ms + repair_backoff_ms(owned.failures);
        }
    }
}

#[cfg(test)]
mod tests;
