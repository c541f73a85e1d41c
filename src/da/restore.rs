//! The DA role's part of a node's restart: the blob entities a previous run had, rebuilt, with
//! the dispersals it had accepted and not finished marked as resuming.

use crate::store::{ChainStore, StoreError};

/// Rebuilds the DA blob entities a previous run had: the kept records, brought up to the head
/// by the entrance events of the blocks after them (and written back when that changed them).
pub fn restore_blobs(world: &mut bevy_ecs::world::World, store: &ChainStore) -> Result<(), StoreError> {
    let head = world.resource::<zg_components::chain::ChainHead>().number();
    let (kept, indexed) = store.da_blobs()?;
    let snapshot = store.reader().snapshot()?;
    let mut failure = None;
    let logs_of = |number: u64| match snapshot.block_receipts(number) {
        Ok(receipts) => receipts.into_iter().flat_map(|receipt| receipt.logs).collect(),
        Err(error) => {
            failure.get_or_insert(error);
            Vec::new()
        }
    };
    let blobs = zg_systems::da::blobs::replay_entrance_events(kept, indexed, head, logs_of);
    if let Some(error) = failure {
        return Err(error);
    }
    if indexed != Some(head) {
        store.write_da_blobs(&blobs.values().cloned().collect::<Vec<_>>(), head)?;
    }
    if !blobs.is_empty() {
        tracing::info!(blobs = blobs.len(), head, "restored the DA blobs");
    }
    zg_systems::da::blobs::install_blobs(world, blobs);
    // Blobs accepted before the restart and not through dispersal: their entities say so
    // until the DA role resumes them.
    let resuming: Vec<_> = store.da_pending_roots()?.into_iter().map(|root| (root.into(), zg_components::da::DispersalPhase::Resuming)).collect();
    zg_systems::da::blobs::install_local_phases(world, resuming);
    Ok(())
}
