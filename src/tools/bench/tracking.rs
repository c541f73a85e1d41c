//! `zgnode bench shard-tracking`: what tracking a huge published file costs a storage node. A
//! file of N segments (published and never uploaded: every shard this node should keep is
//! missing) is tracked by the storage systems with a real audit (the same `audit_range` the node
//! runs off the tick) answered in process; the bench reports the tick's cost once tracking has
//! settled (audits paused by the full repair queue, rebuilds running) against the same systems
//! tracking no file, in the same run, and the memory the tracking holds.

use bevy_ecs::prelude::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zg_components::chain::SealedBlock;
use zg_components::node::TickClock;
use zg_components::storage::shard::{MinerChanged, MinerRecords, RepairQueue, ShardSetup, ShardWork};
use zg_components::storage::{FileIndex, FilePublished, FileRecord, StorageEvent, StorageInbox};
use zg_systems::storage::shards::{self, ShardExecutor};

#[derive(Clone, Debug)]
pub struct TrackingReport {
    pub segments: u64,
    pub queued_repairs: usize,
    pub entities: u32,
    pub tick_p50: Duration,
    pub tick_p99: Duration,
    /// The same storage systems with no file tracked.
    pub idle_node_tick_p50: Duration,
    pub resident_bytes: Option<u64>,
}

/// Audits answered at once from an empty disk; other work recorded and dropped (rebuilds stay
/// "running", as on a node whose peers are slow).
struct InlineAudits {
    setup: ShardSetup,
    events: crossbeam_channel::Sender<StorageEvent>,
    work: Mutex<usize>,
}

impl ShardExecutor for InlineAudits {
    fn run(&self, work: ShardWork) {
        if let ShardWork::Audit { tx_seq, first, count, out } = work {
            let out: BTreeSet<_> = out.into_iter().collect();
            let (through, missing) = shards::audit_range(&self.setup, &out, &BTreeSet::new(), first, count);
            let _ = self.events.send(StorageEvent::Audited { tx_seq, first, through, missing });
        } else if let Ok(mut count) = self.work.lock() {
            *count += 1;
        }
    }
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The `p` quantile of `samples` by the benches' one rule (nearest rank).
fn quantile(samples: &[Duration], p: f64) -> Duration {
    Duration::from_secs_f64(super::percentile(&super::sorted(samples.iter().map(Duration::as_secs_f64).collect()), p))
}

/// A world with the storage systems and erasure coding on, tracking one file of `segments`
/// segments (none when 0), settled.
fn settled_world(segments: u64) -> (World, Schedule) {
    let mut world = World::new();
    world.insert_resource(TickClock { tick: 1, now_ms: 1_000_000 });
    world.init_resource::<Messages<FilePublished>>();
    world.init_resource::<Messages<MinerChanged>>();
    world.init_resource::<FileIndex>();
    world.init_resource::<Messages<SealedBlock>>();
    world.init_resource::<MinerRecords>();
    let (events, inbox) = crossbeam_channel::unbounded();
    world.insert_resource(StorageInbox(inbox));
    let members: Vec<[u8; 32]> = (1..=4u8).map(|i| [i; 32]).collect();
    let setup = ShardSetup { own: members[1], members, data_shards: 2, parity_shards: 2 };
    let executor = Arc::new(InlineAudits { setup: setup.clone(), events, work: Mutex::new(0) });
    shards::install_sharding(&mut world, setup, executor);
    if segments > 0 {
        let record = FileRecord {
            tx_seq: 0,
            root: [7; 32],
            size: segments * zg_components::storage::merkle::SEGMENT_SIZE as u64,
            start_entry_index: 0,
            sectors: segments * zg_components::storage::merkle::SEGMENT_CHUNKS as u64,
            nodes: vec![],
            submitter: [0; 20],
            block_number: 1,
            tags: Vec::new(),
            tx_from: [0; 20],
        };
        zg_systems::storage::track_file(&mut world, record.clone(), 0, false);
        world.write_message(FilePublished(record));
    }
    let mut schedule = Schedule::default();
    schedule.add_systems(
        (
            zg_systems::storage::ingest_storage_events,
            shards::assign_new_files,
            shards::follow_pora_standing,
            shards::place_held_segments,
            shards::schedule_audits,
            shards::schedule_repairs,
        )
            .chain(),
    );
    // Settle: the file is audited until the repair queue is full; every due rebuild starts.
    world.resource_mut::<TickClock>().now_ms += shards::FIRST_REPAIR_DELAY_MS;
    for _ in 0..2_000 {
        tick(&mut world, &mut schedule);
        world.resource_mut::<Messages<FilePublished>>().update();
    }
    (world, schedule)
}

fn tick(world: &mut World, schedule: &mut Schedule) -> Duration {
    world.resource_mut::<TickClock>().now_ms += 5;
    let started = Instant::now();
    schedule.run(world);
    started.elapsed()
}

pub fn shard_tracking(segments: u64, ticks: usize) -> TrackingReport {
    let (mut idle, mut idle_schedule) = settled_world(0);
    let before = resident_bytes();
    let (mut world, mut schedule) = settled_world(segments);
    let after = resident_bytes();
    // Interleaved, so both see the same machine.
    let (mut samples, mut idle_samples) = (Vec::with_capacity(ticks), Vec::with_capacity(ticks));
    for _ in 0..ticks {
        samples.push(tick(&mut world, &mut schedule));
        idle_samples.push(tick(&mut idle, &mut idle_schedule));
    }
    TrackingReport {
        segments,
        queued_repairs: world.resource::<RepairQueue>().segments.len(),
        entities: world.entities().len(),
        tick_p50: quantile(&samples, 0.5),
        tick_p99: quantile(&samples, 0.99),
        idle_node_tick_p50: quantile(&idle_samples, 0.5),
        resident_bytes: before.zip(after).map(|(b, a)| a.saturating_sub(b)),
    }
}
