//! Erasure-coded shards across storage nodes: the holders (the network's storage nodes, with
//! their PoRA standing) as entities, and this node's part in each file as one entity per file.
//! The tick decides what to audit, encode, place and rebuild; the work itself runs off the tick
//! (redb lookups for audits, rayon for coding, the network for fetching) and reports back through
//! `StorageEvent`s, so a large upload, a long repair or a huge file never stalls block production.
//!
//! What tracking costs follows the work done, not the size of the files: a file is one entity;
//! audits walk it a bounded range at a time off the tick; only segments found lacking a shard
//! enter the bounded repair queue, ordered by when each is due, so an idle tick looks at the
//! first entry of two ordered sets and nothing else.
//!
//! Placement: shard `i` of segment `s` goes to member `(i + s) mod n` of the ring (members
//! ordered by key). A holder penalized by the PoRA contract drops out: each of its shards goes to
//! the next member in ring order that is in good standing, and that node rebuilds it from any `k`
//! others.

use alloy_primitives::{Address, Log, U256};
use alloy_sol_types::SolEvent;
use bevy_ecs::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;

use zg_components::chain::SealedBlock;
use zg_components::node::TickClock;
use zg_components::storage::shard::{
    FileShards, HolderKey, MinerChanged, MinerRecord, MinerRecords, PlacementView, RepairQueue, ShardHolder, ShardIndex, ShardSetup, ShardWork,
    Standing,
};
use zg_components::storage::{FilePublished, FileRecord, HeldSegment, StoredFile};

use super::pora::{IPoraMine, MINE_ADDRESS};

pub use crate::ports::{ShardExecutor, ShardExecutorHandle};

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

/// Segments one audit examines.
pub const AUDIT_SEGMENTS: u64 = 16_384;
/// Audits running off the tick at once.
pub const MAX_AUDITS_IN_FLIGHT: usize = 2;

/// Files waiting for an audit, by when it may start; and how many audits are running.
#[derive(Resource, Clone, Debug, Default)]
pub struct AuditSchedule {
    pub due: BTreeSet<(u64, u64)>,
    pub in_flight: usize,
    /// File entities by tx seq.
    pub files: std::collections::HashMap<u64, Entity>,
}

/// Turns erasure coding on: holder entities for the ring, and one entity per tracked file,
/// each to be audited (off the tick) for the shards this node lacks.
pub fn install_sharding(world: &mut World, setup: ShardSetup, executor: Arc<dyn ShardExecutor>) {
    let mut index = ShardIndex::default();
    let records = world.get_resource::<MinerRecords>().cloned().unwrap_or_default();
    for (ring, key) in setup.members.iter().enumerate() {
        let entity = world.spawn(ShardHolder { key: *key, ring, standing: standing_of(&records, key) }).id();
        index.holders.insert(*key, entity);
    }
    world.insert_resource(index);
    world.init_resource::<PlacementView>();
    world.init_resource::<RepairQueue>();
    world.init_resource::<AuditSchedule>();
    // Standings recorded before a restart hold until the chain says otherwise.
    let out = out_of_placement(world.query::<&ShardHolder>().iter(world));
    if let Ok(mut view) = world.resource::<PlacementView>().0.write() {
        *view = out;
    }
    let files: Vec<FileRecord> = world.query::<&StoredFile>().iter(world).map(|f| f.record.clone()).collect();
    let now = world.get_resource::<TickClock>().map(|c| c.now_ms).unwrap_or(0);
    world.resource_scope(|world, mut schedule: Mut<AuditSchedule>| {
        for record in &files {
            if schedule.files.contains_key(&record.tx_seq) {
                continue;
            }
            let entity = world.spawn(shards_of(record)).id();
            track_shards(&mut schedule, entity, record.tx_seq, now);
        }
    });
    world.insert_resource(setup);
    world.insert_resource(ShardExecutorHandle(executor));
}

/// The holders out of placement: those penalized by the PoRA contract.
fn out_of_placement<'a>(holders: impl Iterator<Item = &'a ShardHolder>) -> BTreeSet<HolderKey> {
    holders.filter(|h| matches!(h.standing, Standing::Penalized { .. })).map(|h| h.key).collect()
}

/// This node's part in a file: one entity, nothing per segment.
fn shards_of(record: &FileRecord) -> FileShards {
    FileShards { tx_seq: record.tx_seq, segments: record.data_segments(), audited_to: 0, auditing: false }
}

/// Starts tracking a file's shards entity, its first audit due at `audit_at`.
fn track_shards(schedule: &mut AuditSchedule, entity: Entity, tx_seq: u64, audit_at: u64) {
    schedule.files.insert(tx_seq, entity);
    schedule.due.insert((audit_at, tx_seq));
}

/// Shards of newly published files this node is to keep. Runs in `Storage`, after
/// `index_submissions`.
pub fn assign_new_files(
    mut published: MessageReader<FilePublished>,
    setup: Option<Res<ShardSetup>>,
    schedule: Option<ResMut<AuditSchedule>>,
    clock: Res<TickClock>,
    mut commands: Commands,
) {
    let (Some(_), Some(mut schedule)) = (setup, schedule) else {
        published.clear();
        return;
    };
    for FilePublished(record) in published.read() {
        if schedule.files.contains_key(&record.tx_seq) {
            continue;
        }
        let entity = commands.spawn(shards_of(record)).id();
        track_shards(&mut schedule, entity, record.tx_seq, clock.now_ms + FIRST_REPAIR_DELAY_MS);
    }
}

/// Hands out audits of files (a range each) while few run and the repair queue has room.
/// Runs in `Storage`.
pub fn schedule_audits(
    setup: Option<Res<ShardSetup>>,
    executor: Option<Res<ShardExecutorHandle>>,
    view: Option<Res<PlacementView>>,
    clock: Res<TickClock>,
    queue: Option<Res<RepairQueue>>,
    schedule: Option<ResMut<AuditSchedule>>,
    mut files: Query<&mut FileShards>,
) {
    let (Some(_), Some(executor), Some(view), Some(queue), Some(mut schedule)) = (setup, executor, view, queue, schedule) else { return };
    while schedule.in_flight < MAX_AUDITS_IN_FLIGHT && !queue.is_full() {
        let Some(&(at, tx_seq)) = schedule.due.first() else { break };
        if at > clock.now_ms {
            break;
        }
        schedule.due.remove(&(at, tx_seq));
        let Some(mut file) = schedule.files.get(&tx_seq).and_then(|e| files.get_mut(*e).ok()) else { continue };
        if file.auditing || file.audited_to >= file.segments {
            continue;
        }
        file.auditing = true;
        schedule.in_flight += 1;
        let count = AUDIT_SEGMENTS.min(file.segments - file.audited_to);
        executor.0.run(ShardWork::Audit { tx_seq, first: file.audited_to, count, out: view.out().into_iter().collect() });
    }
}

/// An audit came back: what it found missing is queued for rebuilding, and the file's next
/// range is scheduled.
#[allow(clippy::too_many_arguments)] // one audit result touches every piece of shard bookkeeping
pub fn apply_audit(
    schedule: &mut AuditSchedule,
    queue: &mut RepairQueue,
    files: &mut Query<&mut FileShards>,
    tx_seq: u64,
    first: u64,
    through: u64,
    missing: Vec<(u64, Vec<u8>)>,
    now_ms: u64,
) {
    schedule.in_flight = schedule.in_flight.saturating_sub(1);
    let Some(mut file) = schedule.files.get(&tx_seq).and_then(|e| files.get_mut(*e).ok()) else { return };
    file.auditing = false;
    // An audit of a range that a placement change already reset is stale: its file starts over.
    if file.audited_to != first {
        schedule.due.insert((now_ms, tx_seq));
        return;
    }
    let mut through = through;
    for (segment, wanted) in missing {
        if queue.is_full() {
            // Resume at the first segment that did not fit.
            through = through.min(segment);
            break;
        }
        queue.add(tx_seq, segment, &wanted, now_ms);
    }
    file.audited_to = through.clamp(first, file.segments);
    if file.audited_to < file.segments {
        schedule.due.insert((now_ms, tx_seq));
    }
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

/// Follows PoRA registrations and settlements in this tick's blocks (changed records go to
/// `Persist`): a holder that missed challenges leaves placement and its shards are taken over
/// (and rebuilt) by the next holders in the ring; one that passes a later epoch comes back.
/// Runs in `Storage`.
pub fn follow_pora_standing(
    mut blocks: MessageReader<SealedBlock>,
    mut records: ResMut<MinerRecords>,
    mut changed_records: MessageWriter<MinerChanged>,
    placement: Placement,
) {
    let events: Vec<MinerEvent> = blocks
        .read()
        .flat_map(|SealedBlock(block)| block.receipts.iter().flat_map(|r| r.logs.iter()))
        .filter_map(decode_miner_event)
        .collect();
    let changed: Vec<MinerRecord> = events.into_iter().filter_map(|event| apply_miner_event(&mut records, event)).collect();
    if changed.is_empty() {
        return;
    }
    changed_records.write_batch(changed.into_iter().map(MinerChanged));
    refresh_standings(&records, placement);
}

/// What a change of standing moves: the holders, who is out of placement, and every file's
/// audit (absent while erasure coding is off).
#[derive(bevy_ecs::system::SystemParam)]
pub struct Placement<'w, 's> {
    setup: Option<Res<'w, ShardSetup>>,
    view: Option<Res<'w, PlacementView>>,
    schedule: Option<ResMut<'w, AuditSchedule>>,
    clock: Res<'w, TickClock>,
    holders: Query<'w, 's, &'static mut ShardHolder>,
    files: Query<'w, 's, &'static mut FileShards>,
}

/// Sets every holder's standing from the miner records; when that changes who is out of
/// placement, publishes it and audits every file again for the shards this node takes over.
fn refresh_standings(records: &MinerRecords, placement: Placement) {
    let Placement { setup, view, schedule, clock, mut holders, mut files } = placement;
    let (Some(_), Some(view), Some(mut schedule)) = (setup, view, schedule) else { return };
    for mut holder in holders.iter_mut() {
        let standing = standing_of(records, &holder.key);
        if holder.standing != standing {
            tracing::warn!(holder = %alloy_primitives::hex::encode(holder.key), "storage node standing changed: {standing:?}");
            holder.standing = standing;
        }
    }
    let out = out_of_placement(holders.iter());
    if out == view.out() {
        return;
    }
    if let Ok(mut shared) = view.0.write() {
        *shared = out;
    }
    // Placement moved: every file is audited again (off the tick) for the shards this node now
    // takes over.
    let mut restarted = 0;
    for mut file in files.iter_mut() {
        file.audited_to = 0;
        schedule.due.insert((clock.now_ms, file.tx_seq));
        restarted += 1;
    }
    tracing::info!(files = restarted, "placement changed; auditing files for shards to take over");
}

/// Starts rebuilds of the queued segments that are due, a bounded number per tick, each
/// retried with growing waits while too few shards can be reached. Runs in `Storage`.
pub fn schedule_repairs(
    setup: Option<Res<ShardSetup>>,
    executor: Option<Res<ShardExecutorHandle>>,
    view: Option<Res<PlacementView>>,
    clock: Res<TickClock>,
    queue: Option<ResMut<RepairQueue>>,
) {
    let (Some(setup), Some(executor), Some(view), Some(mut queue)) = (setup, executor, view, queue) else { return };
    let due = queue.due(clock.now_ms, MAX_REPAIRS_PER_TICK);
    if due.is_empty() {
        return;
    }
    let out = view.out();
    for (tx_seq, segment) in due {
        let Some(entry) = queue.segments.get_mut(&(tx_seq, segment)) else { continue };
        // A rebuild that has not reported back by its due time is given up on and started again.
        let wanted = entry.wanted.clone();
        queue.reschedule(tx_seq, segment, clock.now_ms + REPAIR_TIMEOUT_MS);
        executor.0.run(ShardWork::Repair { tx_seq, segment, wanted, holders: holders_of(segment, &setup, &out) });
    }
}

/// A rebuild that has not reported back within this long is started again (its task died).
pub const REPAIR_TIMEOUT_MS: u64 = 120_000;

/// Wait after `failures` failed rebuilds in a row: 1 s doubling, at most a minute.
pub fn repair_backoff_ms(failures: u32) -> u64 {
    (1_000u64 << failures.min(6)).min(MAX_REPAIR_BACKOFF_MS)
}

/// Segments handed out for placement in one tick (the rest wait for the next).
pub const MAX_PLACEMENTS_PER_TICK: usize = 256;

/// Hands segments this node stored whole to the shard worker (encoded on rayon, their shards
/// sent to the holders placement names); each entity is gone once handed out. Runs in `Storage`.
pub fn place_held_segments(
    setup: Option<Res<ShardSetup>>,
    executor: Option<Res<ShardExecutorHandle>>,
    view: Option<Res<PlacementView>>,
    segments: Query<(Entity, &HeldSegment)>,
    mut commands: Commands,
) {
    let (Some(setup), Some(executor), Some(view)) = (setup, executor, view) else { return };
    let mut out = None;
    for (entity, segment) in segments.iter().take(MAX_PLACEMENTS_PER_TICK) {
        let out = out.get_or_insert_with(|| view.out());
        executor.0.run(ShardWork::Place { tx_seq: segment.tx_seq, segment: segment.index, holders: holders_of(segment.index, &setup, out) });
        commands.entity(entity).despawn();
    }
}

/// What an audit of `first..first + count` finds missing: the segments placement gives this node
/// shards of that it does not hold, stopping early once a repair queue's worth is found.
pub fn audit_range(setup: &ShardSetup, out: &BTreeSet<HolderKey>, held: &BTreeSet<(u64, u8)>, first: u64, count: u64) -> (u64, Vec<(u64, Vec<u8>)>) {
    let mut missing = Vec::new();
    let end = first.saturating_add(count);
    for segment in first..end {
        let wanted: Vec<u8> = (0..setup.total())
            .filter(|index| holder_for(segment, *index, &setup.members, out) == Some(setup.own))
            .map(|index| index as u8)
            .filter(|index| !held.contains(&(segment, *index)))
            .collect();
        if !wanted.is_empty() {
            missing.push((segment, wanted));
            if missing.len() >= RepairQueue::CAPACITY {
                return (segment + 1, missing);
            }
        }
    }
    (end, missing)
}

/// A rebuild of a segment's shards could not finish: try again later.
pub fn mark_repair_failed(queue: &mut RepairQueue, tx_seq: u64, segment: u64, now_ms: u64) {
    let Some(entry) = queue.segments.get_mut(&(tx_seq, segment)) else { return };
    entry.failures += 1;
    let due = now_ms + repair_backoff_ms(entry.failures);
    queue.reschedule(tx_seq, segment, due);
}

#[cfg(test)]
mod tests;
