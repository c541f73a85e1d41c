//! The DA domain's systems: every blob the entrance registers becomes an entity whose status
//! follows the chain (its events, then its height through the fraud and attestation windows),
//! and the DA services read those statuses from the [`DaView`].

use alloy_primitives::B256;
use bevy_ecs::prelude::*;
use std::collections::HashMap;

use zg_components::chain::{ChainHead, SealedBlock};
use zg_components::da::{BlobStatus, DaBlob, DaIndex, DaView, DaWindows, DispersalPhase, DispersalReports, LocalDispersal};
use zg_components::node::TickProfile;

use super::entrance::{EntranceEvent, decode_event};
use crate::chain::fault::{Fault, NodeFault};
use crate::ports::DaBlobStoreHandle;
use crate::profile::SystemTimer;
use crate::{NodePlugin, TickSet};

/// The DA domain's steps: other domains (and embedding hosts) order against these.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaSet {
    /// Blob entities follow the entrance's events and windows; the shared view is published (Da).
    Follow,
    /// Changed blob records written (Persist).
    Persist,
}

pub struct DaPlugin;

impl NodePlugin for DaPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.init_resource::<DaIndex>();
        world.init_resource::<DaView>();
        schedule.add_systems(
            (
                record_dispersal_phases,
                follow_entrance_events.after(record_dispersal_phases),
                advance_blob_status.after(follow_entrance_events),
                publish_da_view.after(advance_blob_status),
            )
                .in_set(TickSet::Da)
                .in_set(DaSet::Follow),
        );
        schedule.add_systems(persist_da_blobs.in_set(TickSet::Persist).in_set(DaSet::Persist).after(crate::chain::ChainSet::Persist));
    }
}

/// What one entrance event does to the blobs it names: the DA lifecycle's pure core, shared by
/// the tick ([`follow_entrance_events`]) and by the restore after a restart
/// ([`replay_entrance_events`]). Returns the root it changed, if any.
pub fn apply_entrance_event(blobs: &mut HashMap<B256, DaBlob>, event: EntranceEvent, height: u64) -> Option<B256> {
    match event {
        EntranceEvent::Uploaded { data_root, submitter, epoch, quorum } => {
            if blobs.contains_key(&data_root) {
                return None;
            }
            let blob = DaBlob {
                data_root,
                submitter: submitter.0.0,
                epoch,
                quorum,
                uploaded_at: height,
                confirmed_at: None,
                status: BlobStatus::Processing,
            };
            blobs.insert(data_root, blob);
            Some(data_root)
        }
        EntranceEvent::Verified { data_root, epoch, .. } => {
            let blob = blobs.get_mut(&data_root)?;
            blob.status = BlobStatus::Confirmed;
            blob.confirmed_at = Some(height);
            blob.epoch = epoch;
            Some(data_root)
        }
        EntranceEvent::Rejected { data_root, .. } => {
            let blob = blobs.get_mut(&data_root)?;
            blob.status = BlobStatus::Failed;
            Some(data_root)
        }
    }
}

fn root_of(event: &EntranceEvent) -> B256 {
    match event {
        EntranceEvent::Uploaded { data_root, .. } | EntranceEvent::Verified { data_root, .. } | EntranceEvent::Rejected { data_root, .. } => *data_root,
    }
}

fn log_event(event: &EntranceEvent, height: u64) {
    match event {
        EntranceEvent::Uploaded { data_root, epoch, .. } => tracing::info!(root = %data_root, epoch, height, "DA blob registered"),
        EntranceEvent::Verified { data_root, .. } => tracing::info!(root = %data_root, height, "DA blob confirmed"),
        EntranceEvent::Rejected { data_root, prover } => {
            tracing::warn!(root = %data_root, %prover, "DA blob proven badly encoded: rejected, attesters slashed")
        }
    }
}

/// Reads the entrance's events in this tick's blocks: a blob entity per upload, confirmed or
/// failed by the later events. Runs in `Da`.
pub fn follow_entrance_events(
    mut blocks: MessageReader<SealedBlock>,
    mut index: ResMut<DaIndex>,
    mut blobs: Query<&mut DaBlob>,
    profile: Res<TickProfile>,
    mut commands: Commands,
) {
    let _timer = SystemTimer::of(&profile, "follow_entrance_events");
    // The blobs this tick's events touch, as they stand, then as the events leave them.
    let mut touched: HashMap<B256, DaBlob> = HashMap::new();
    for SealedBlock(block) in blocks.read() {
        let height = block.header.number;
        for event in block.receipts.iter().flat_map(|r| r.logs.iter()).filter_map(decode_event) {
            let root = root_of(&event);
            if !touched.contains_key(&root)
                && let Some(blob) = index.0.get(&root).and_then(|entity| blobs.get(*entity).ok())
            {
                touched.insert(root, blob.clone());
            }
            let described = event.clone();
            if apply_entrance_event(&mut touched, event, height).is_some() {
                log_event(&described, height);
            }
        }
    }
    for (root, blob) in touched {
        match index.0.get(&root).copied() {
            Some(entity) => match blobs.get_mut(entity) {
                Ok(mut held) => {
                    if *held != blob {
                        *held = blob;
                    }
                }
                // The entity this node's dispersal made before the chain registered the blob.
                Err(_) => {
                    commands.entity(entity).insert(blob);
                }
            },
            None => {
                index.0.insert(root, commands.spawn(blob).id());
            }
        }
    }
}

/// Blobs this node disperses that the chain never registered are kept at most this many; past
/// it, those whose dispersal ended go first.
pub const MAX_UNREGISTERED_DISPERSALS: usize = 10_000;

/// Sets each reported dispersal phase on its blob's entity, making the entity when the chain
/// has no record of the blob yet. Runs in `Da`, before the entrance's events.
pub fn record_dispersal_phases(
    reports: Option<Res<DispersalReports>>,
    view: Res<DaView>,
    mut index: ResMut<DaIndex>,
    mut phases: Query<(Entity, &mut LocalDispersal, Has<DaBlob>)>,
    mut commands: Commands,
) {
    let Some(reports) = reports else { return };
    let mut spawned = false;
    for (root, phase) in reports.0.try_iter().take(crate::chain::io::MAX_REQUESTS_PER_TICK) {
        match index.0.get(&root).copied() {
            Some(entity) => match phases.get_mut(entity) {
                Ok((_, mut held, _)) => held.phase = phase,
                Err(_) => {
                    commands.entity(entity).insert(LocalDispersal { data_root: root, phase });
                }
            },
            None => {
                index.0.insert(root, commands.spawn(LocalDispersal { data_root: root, phase }).id());
                spawned = true;
            }
        }
    }
    let unregistered = || phases.iter().filter(|(_, _, registered)| !registered);
    if spawned && unregistered().count() >= MAX_UNREGISTERED_DISPERSALS {
        let ended: Vec<(Entity, B256)> =
            unregistered().filter(|(_, local, _)| !local.phase.is_running()).map(|(entity, local, _)| (entity, local.data_root)).collect();
        let mut shared = view.phases.write().ok();
        for (entity, root) in ended {
            commands.entity(entity).despawn();
            index.0.remove(&root);
            if let Some(shared) = shared.as_mut() {
                shared.remove(&root);
            }
        }
    }
}

/// Puts phases of dispersals a restarted node has to resume on their blobs' entities.
pub fn install_local_phases(world: &mut World, phases: Vec<(B256, DispersalPhase)>) {
    let view = world.get_resource_or_insert_with(DaView::default).clone();
    if let Ok(mut shared) = view.phases.write() {
        shared.extend(phases.iter().cloned());
    }
    for (root, phase) in phases {
        let existing = world.get_resource_or_insert_with(DaIndex::default).0.get(&root).copied();
        match existing {
            Some(entity) => {
                world.entity_mut(entity).insert(LocalDispersal { data_root: root, phase });
            }
            None => {
                let entity = world.spawn(LocalDispersal { data_root: root, phase }).id();
                world.resource_mut::<DaIndex>().0.insert(root, entity);
            }
        }
    }
}

/// The blobs a restarted node had, brought up to `head`: `kept` as the store had them through
/// block `indexed`, then the entrance's events of every later block (`logs_of(n)`). A record
/// from a block the chain no longer has (written before that block's commit was lost) is
/// dropped or rolled back to what the kept blocks say.
pub fn replay_entrance_events(
    kept: Vec<DaBlob>,
    indexed: Option<u64>,
    head: u64,
    mut logs_of: impl FnMut(u64) -> Vec<alloy_primitives::Log>,
) -> HashMap<B256, DaBlob> {
    let mut blobs: HashMap<B256, DaBlob> = HashMap::new();
    let trusted = indexed.map(|n| n.min(head));
    for mut blob in kept {
        if trusted.is_none_or(|through| blob.uploaded_at > through) {
            continue;
        }
        if blob.confirmed_at.is_some_and(|at| Some(at) > trusted) {
            blob.confirmed_at = None;
            blob.status = BlobStatus::Processing;
        }
        blobs.insert(blob.data_root, blob);
    }
    let from = trusted.map_or(0, |n| n + 1);
    for height in from..=head {
        for event in logs_of(height).iter().filter_map(decode_event) {
            apply_entrance_event(&mut blobs, event, height);
        }
    }
    blobs
}

/// Puts restored blobs into the world as entities (and into the view the services read).
pub fn install_blobs(world: &mut World, blobs: HashMap<B256, DaBlob>) {
    let view = world.get_resource_or_insert_with(DaView::default).clone();
    if let Ok(mut shared) = view.blobs.write() {
        shared.extend(blobs.iter().map(|(root, blob)| (*root, blob.clone())));
    }
    let entities: Vec<(B256, Entity)> = blobs.into_iter().map(|(root, blob)| (root, world.spawn(blob).id())).collect();
    world.get_resource_or_insert_with(DaIndex::default).0.extend(entities);
}

/// Blocks a restart may have to read again for entrance events: with no blob changing, the
/// records' height is written only this often (a write per block would be a second commit per
/// block for nothing).
pub const DA_INDEX_EVERY_BLOCKS: u64 = 256;

/// Writes the blobs that changed this tick, with the highest block they reflect, through the
/// node's [`DaBlobStoreHandle`]; a failed write stops the node like a failed block write.
/// Runs in `Persist`.
pub fn persist_da_blobs(
    mut blocks: MessageReader<SealedBlock>,
    changed: Query<&DaBlob, Changed<DaBlob>>,
    store: Option<Res<DaBlobStoreHandle>>,
    profile: Res<TickProfile>,
    mut fault: ResMut<NodeFault>,
    mut written_through: Local<Option<u64>>,
) {
    let _timer = SystemTimer::of(&profile, "persist_da_blobs");
    let Some(through) = blocks.read().map(|SealedBlock(block)| block.header.number).max() else { return };
    let Some(store) = store else { return };
    if fault.0.is_some() {
        return;
    }
    let blobs: Vec<DaBlob> = changed.iter().cloned().collect();
    let marker_due = written_through.is_none_or(|at| through >= at.saturating_add(DA_INDEX_EVERY_BLOCKS));
    if blobs.is_empty() && !marker_due {
        return;
    }
    *written_through = Some(through);
    if let Err(error) = store.0.record_blobs(&blobs, through) {
        tracing::error!(%error, "stopping: DA blob records not persisted");
        fault.0 = Some(Fault::DaBlobsNotPersisted(error));
    }
}

/// The status a blob has at `height` by the entrance's windows alone.
pub fn status_at(blob: &DaBlob, height: u64, windows: DaWindows) -> BlobStatus {
    match (blob.status, blob.confirmed_at) {
        (BlobStatus::Confirmed, Some(at)) if height >= at.saturating_add(windows.fraud_window_blocks) => BlobStatus::Finalized,
        (BlobStatus::Processing, _) if height >= blob.uploaded_at.saturating_add(windows.attest_timeout_blocks) => {
            BlobStatus::InsufficientSignatures
        }
        (status, _) => status,
    }
}

/// Finalizes confirmed blobs whose fraud window passed and gives up on those not attested in
/// time, as the entrance's `statusOf` does. Runs in `Da`.
pub fn advance_blob_status(head: Res<ChainHead>, windows: Option<Res<DaWindows>>, mut blobs: Query<&mut DaBlob>) {
    let Some(windows) = windows else { return };
    let height = head.number();
    for mut blob in &mut blobs {
        if blob.status.is_final() {
            continue;
        }
        let next = status_at(&blob, height, *windows);
        if next != blob.status {
            tracing::info!(root = %blob.data_root, status = next.name(), height, "DA blob status");
            blob.status = next;
        }
    }
}

/// Copies blobs and dispersal phases that changed this tick into the view the services read.
/// Runs in `Da`.
pub fn publish_da_view(view: Res<DaView>, changed: Query<&DaBlob, Changed<DaBlob>>, phases: Query<&LocalDispersal, Changed<LocalDispersal>>) {
    if !changed.is_empty()
        && let Ok(mut shared) = view.blobs.write()
    {
        for blob in &changed {
            shared.insert(blob.data_root, blob.clone());
        }
    }
    if phases.is_empty() {
        return;
    }
    if let Ok(mut shared) = view.phases.write() {
        for local in &phases {
            shared.insert(local.data_root, local.phase.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(status: BlobStatus, confirmed_at: Option<u64>) -> DaBlob {
        DaBlob { data_root: B256::ZERO, submitter: [0; 20], epoch: 0, quorum: 0, uploaded_at: 10, confirmed_at, status }
    }

    #[test]
    fn windows_finalize_confirmed_blobs_and_expire_unattested_ones() {
        let windows = DaWindows { fraud_window_blocks: 5, attest_timeout_blocks: 20 };
        assert_eq!(status_at(&blob(BlobStatus::Confirmed, Some(12)), 16, windows), BlobStatus::Confirmed);
        assert_eq!(status_at(&blob(BlobStatus::Confirmed, Some(12)), 17, windows), BlobStatus::Finalized);
        assert_eq!(status_at(&blob(BlobStatus::Processing, None), 29, windows), BlobStatus::Processing);
        assert_eq!(status_at(&blob(BlobStatus::Processing, None), 30, windows), BlobStatus::InsufficientSignatures);
        assert_eq!(status_at(&blob(BlobStatus::Failed, None), 1_000, windows), BlobStatus::Failed);
    }

    #[test]
    fn a_restore_keeps_what_the_kept_blocks_say_and_nothing_from_a_lost_block() {
        let kept = |root: u8, uploaded_at, confirmed_at| DaBlob {
            data_root: B256::repeat_byte(root),
            uploaded_at,
            confirmed_at,
            status: if confirmed_at.is_some() { BlobStatus::Confirmed } else { BlobStatus::Processing },
            ..blob(BlobStatus::Processing, None)
        };
        let records = vec![kept(1, 5, Some(7)), kept(2, 8, Some(12)), kept(3, 13, None)];
        // The records reflect block 13, but the chain came back at 10 (commits lost at the kill).
        let mut asked = Vec::new();
        let restored = replay_entrance_events(records.clone(), Some(13), 10, |n| {
            asked.push(n);
            Vec::new()
        });
        assert_eq!(restored[&B256::repeat_byte(1)], records[0], "confirmed within the kept blocks: as kept");
        let rolled_back = &restored[&B256::repeat_byte(2)];
        assert_eq!((rolled_back.status, rolled_back.confirmed_at), (BlobStatus::Processing, None), "its confirmation was in a lost block");
        assert!(!restored.contains_key(&B256::repeat_byte(3)), "registered in a lost block");
        assert!(asked.is_empty(), "nothing after the head to replay");
        // Records behind the head: the later blocks are read, each once.
        let mut asked = Vec::new();
        replay_entrance_events(records, Some(13), 16, |n| {
            asked.push(n);
            Vec::new()
        });
        assert_eq!(asked, vec![14, 15, 16]);
        // Nothing kept: every block from genesis.
        let mut asked = Vec::new();
        replay_entrance_events(Vec::new(), None, 2, |n| {
            asked.push(n);
            Vec::new()
        });
        assert_eq!(asked, vec![0, 1, 2]);
    }
}

#[cfg(test)]
#[path = "blobs_phase_tests.rs"]
mod phase_tests;
