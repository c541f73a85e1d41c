//! The DA domain's systems: every blob the entrance registers becomes an entity whose status
//! follows the chain (its events, then its height through the fraud and attestation windows),
//! and the DA services read those statuses from the [`DaView`].

use bevy_ecs::prelude::*;

use zg_components::chain::{ChainHead, SealedBlock};
use zg_components::da::{BlobStatus, DaBlob, DaIndex, DaView, DaWindows};
use zg_components::node::TickProfile;

use super::entrance::{EntranceEvent, decode_event};
use crate::profile::SystemTimer;
use crate::{NodePlugin, TickSet};

pub struct DaPlugin;

impl NodePlugin for DaPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.init_resource::<DaIndex>();
        world.init_resource::<DaView>();
        schedule.add_systems(
            (follow_entrance_events, advance_blob_status.after(follow_entrance_events), publish_da_view.after(advance_blob_status))
                .in_set(TickSet::Da),
        );
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
    for SealedBlock(block) in blocks.read() {
        let height = block.header.number;
        for event in block.receipts.iter().flat_map(|r| r.logs.iter()).filter_map(decode_event) {
            match event {
                EntranceEvent::Uploaded { data_root, submitter, epoch, quorum } => {
                    if index.0.contains_key(&data_root) {
                        continue;
                    }
                    tracing::info!(root = %data_root, epoch, height, "DA blob registered");
                    let blob = DaBlob {
                        data_root,
                        submitter: submitter.0.0,
                        epoch,
                        quorum,
                        uploaded_at: height,
                        confirmed_at: None,
                        status: BlobStatus::Processing,
                    };
                    // Spawned by command: the entity exists from the next sync point, and a
                    // later event in this same tick finds it through the index only then.
                    let entity = commands.spawn(blob).id();
                    index.0.insert(data_root, entity);
                }
                EntranceEvent::Verified { data_root, epoch, .. } => {
                    let Some(entity) = index.0.get(&data_root) else { continue };
                    match blobs.get_mut(*entity) {
                        Ok(mut blob) => {
                            blob.status = BlobStatus::Confirmed;
                            blob.confirmed_at = Some(height);
                            blob.epoch = epoch;
                        }
                        // Uploaded and verified in one tick: the spawn is not applied yet.
                        Err(_) => {
                            commands.entity(*entity).entry::<DaBlob>().and_modify(move |mut blob| {
                                blob.status = BlobStatus::Confirmed;
                                blob.confirmed_at = Some(height);
                                blob.epoch = epoch;
                            });
                        }
                    }
                    tracing::info!(root = %data_root, height, "DA blob confirmed");
                }
                EntranceEvent::Rejected { data_root, prover } => {
                    let Some(entity) = index.0.get(&data_root) else { continue };
                    tracing::warn!(root = %data_root, %prover, "DA blob proven badly encoded: rejected, attesters slashed");
                    if let Ok(mut blob) = blobs.get_mut(*entity) {
                        blob.status = BlobStatus::Failed;
                    } else {
                        commands.entity(*entity).entry::<DaBlob>().and_modify(|mut blob| blob.status = BlobStatus::Failed);
                    }
                }
            }
        }
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

/// Copies blobs that changed this tick into the view the services read. Runs in `Da`.
pub fn publish_da_view(view: Res<DaView>, changed: Query<&DaBlob, Changed<DaBlob>>) {
    if changed.is_empty() {
        return;
    }
    if let Ok(mut shared) = view.0.write() {
        for blob in &changed {
            shared.insert(blob.data_root, blob.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

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
}
