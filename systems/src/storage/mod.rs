//! The storage domain: the Flow and market contracts as the chain sees them, and the system that
//! turns `Submit` events in committed blocks into file entities storage nodes serve.

pub mod erasure;
pub mod flow;
pub mod kv;
pub mod pora;
pub mod shards;

use bevy_ecs::prelude::*;

use zg_components::chain::SealedBlock;
use zg_components::node::{TickClock, TickProfile};
use zg_components::storage::shard::{FileShards, MinerChanged, RepairQueue, ShardSetup};
use zg_components::storage::{FileIndex, FilePublished, FileRecord, HeldSegment, StorageEvent, StorageInbox, StoredFile};

use crate::chain::fault::{Fault, NodeFault};
use crate::profile::SystemTimer;
use crate::{NodePlugin, TickSet};

pub use crate::ports::{FileStore, FileStoreHandle};

/// The storage domain's steps: other domains (and embedding hosts) order against these.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageSet {
    /// Stored segments, shards, audits and rebuilds reported back (Ingest).
    Ingest,
    /// Files published, PoRA standing followed, shards placed, audited and rebuilt (Storage).
    Track,
    /// New files and miner records written (Persist).
    Persist,
}

pub struct StoragePlugin;

impl NodePlugin for StoragePlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.init_resource::<FileIndex>();
        world.init_resource::<zg_components::storage::shard::MinerRecords>();
        crate::add_message::<FilePublished>(world, schedule);
        crate::add_message::<MinerChanged>(world, schedule);
        schedule.add_systems((
            ingest_storage_events.in_set(TickSet::Ingest).in_set(StorageSet::Ingest).after(crate::chain::ChainSet::Ingest),
            // Ordered only where one needs what another did: the new files are tracked before
            // their shards are assigned, placement follows PoRA standing before shards are placed
            // or audited, audits before repairs (they share the repair queue).
            (
                index_submissions,
                shards::assign_new_files.after(index_submissions).after(shards::follow_pora_standing),
                shards::follow_pora_standing,
                shards::place_held_segments.after(shards::follow_pora_standing),
                shards::schedule_audits.after(shards::assign_new_files).after(shards::place_held_segments),
                shards::schedule_repairs.after(shards::schedule_audits),
            )
                .in_set(TickSet::Storage)
                .in_set(StorageSet::Track),
            persist_new_files.in_set(TickSet::Persist).in_set(StorageSet::Persist).after(crate::chain::ChainSet::Persist),
        ));
    }
}

/// Adds a file entity for a record (at start, from disk).
pub fn track_file(world: &mut World, record: FileRecord, uploaded_segments: u64, finalized: bool) {
    let entity = world.spawn_empty().id();
    index_file(&mut world.resource_mut::<FileIndex>(), entity, &record);
    world.entity_mut(entity).insert(StoredFile { record, uploaded_segments, finalized });
}

fn index_file(index: &mut FileIndex, entity: Entity, record: &FileRecord) {
    index.by_seq.insert(record.tx_seq, entity);
    index.by_root.entry(record.root()).or_default().push(record.tx_seq);
}

/// What erasure coding needs in `ingest_storage_events` (absent when it is off).
#[derive(bevy_ecs::system::SystemParam)]
pub struct Sharding<'w, 's> {
    setup: Option<Res<'w, ShardSetup>>,
    queue: Option<ResMut<'w, RepairQueue>>,
    audits: Option<ResMut<'w, shards::AuditSchedule>>,
    files: Query<'w, 's, &'static mut FileShards>,
}

/// Counts stored segments onto their files, hands them to erasure coding (when on), and
/// records shards stored, rebuilds that failed and audits that came back. Runs in `Ingest`.
pub fn ingest_storage_events(
    inbox: Option<Res<StorageInbox>>,
    index: Res<FileIndex>,
    clock: Res<TickClock>,
    sharding: Sharding,
    mut files: Query<&mut StoredFile>,
    mut commands: Commands,
) {
    let Some(inbox) = inbox else { return };
    let Sharding { setup, mut queue, mut audits, files: mut shard_files } = sharding;
    for event in inbox.0.try_iter().take(crate::chain::io::MAX_REQUESTS_PER_TICK) {
        match event {
            StorageEvent::SegmentStored { tx_seq, index: segment } => {
                let Some(mut file) = index.by_seq.get(&tx_seq).and_then(|e| files.get_mut(*e).ok()) else { continue };
                file.uploaded_segments += 1;
                if !file.finalized && file.uploaded_segments >= file.record.data_segments() {
                    file.finalized = true;
                    tracing::info!(seq = tx_seq, root = %file.record.root(), "file finalized: every segment held");
                }
                // Only erasure coding has work for it: encode and place, then the entity goes.
                if setup.is_some() {
                    commands.spawn(HeldSegment { tx_seq, index: segment });
                }
            }
            StorageEvent::ShardHeld { tx_seq, segment, index: shard } => {
                if let Some(queue) = queue.as_deref_mut() {
                    queue.held(tx_seq, segment, shard);
                }
            }
            StorageEvent::RepairFailed { tx_seq, segment, .. } => {
                if let Some(queue) = queue.as_deref_mut() {
                    shards::mark_repair_failed(queue, tx_seq, segment, clock.now_ms);
                }
            }
            StorageEvent::Audited { tx_seq, first, through, missing } => {
                if let (Some(queue), Some(audits)) = (queue.as_deref_mut(), audits.as_deref_mut()) {
                    shards::apply_audit(audits, queue, &mut shard_files, tx_seq, first, through, missing, clock.now_ms);
                }
            }
        }
    }
}

/// Reads `Submit` events of this tick's blocks: a file entity each, and a [`FilePublished`] for
/// shard assignment and `Persist`. Runs in `Storage`.
pub fn index_submissions(
    mut blocks: MessageReader<SealedBlock>,
    mut index: ResMut<FileIndex>,
    mut published: MessageWriter<FilePublished>,
    profile: Res<TickProfile>,
    mut commands: Commands,
) {
    let _timer = SystemTimer::of(&profile, "index_submissions");
    for SealedBlock(block) in blocks.read() {
        for (receipt, (_, tx_from)) in block.receipts.iter().zip(&block.transactions) {
            for record in flow::submissions_of(receipt, *tx_from, block.header.number) {
                tracing::info!(seq = record.tx_seq, root = %record.root(), size = record.size, "file published");
                let entity = commands.spawn(StoredFile { record: record.clone(), uploaded_segments: 0, finalized: false }).id();
                index_file(&mut index, entity, &record);
                published.write(FilePublished(record));
            }
        }
    }
}

/// Persists what this tick's blocks published (files, PoRA miners' records) and how far they
/// were read, after the blocks themselves. Runs in `Persist`.
pub fn persist_new_files(
    mut blocks: MessageReader<SealedBlock>,
    mut published: MessageReader<FilePublished>,
    mut miners: MessageReader<MinerChanged>,
    store: Option<Res<FileStoreHandle>>,
    profile: Res<TickProfile>,
    mut fault: ResMut<NodeFault>,
) {
    let _timer = SystemTimer::of(&profile, "persist_files");
    let files: Vec<FileRecord> = published.read().map(|FilePublished(record)| record.clone()).collect();
    let miners: Vec<_> = miners.read().map(|MinerChanged(record)| record.clone()).collect();
    let Some(through) = blocks.read().map(|SealedBlock(block)| block.header.number).max() else { return };
    let Some(store) = store else { return };
    if fault.0.is_some() {
        return;
    }
    if let Err(error) = store.0.record_files(&files, &miners, through) {
        tracing::error!(%error, "stopping: published files not persisted");
        fault.0 = Some(Fault::FilesNotPersisted(error));
    }
}
