//! The storage role's part of a node's restart: the published files and PoRA miner records
//! back in the world, with the blocks persisted after they were last recorded read again.

use bevy_ecs::prelude::*;
use zg_components::chain::ChainHead;
use zg_systems::storage::flow;

use crate::store::{ChainStore, StoreError};

/// Loads the published files and PoRA miner records into the world, and reads the `Submit` and
/// PoRA events of blocks persisted after they were last recorded (a crash between the two writes
/// loses nothing).
pub fn restore_files(world: &mut World, store: &ChainStore) -> Result<(), StoreError> {
    let head = world.resource::<ChainHead>().number();
    let indexed = store.storage_indexed()?;
    let snapshot = store.reader().snapshot()?;
    let mut miners = store.miner_records()?;
    let mut late = Vec::new();
    let mut changed = Vec::new();
    for number in indexed.map(|n| n + 1).unwrap_or(0)..=head {
        let senders = snapshot.block_transactions(number)?;
        for (receipt, tx) in snapshot.block_receipts(number)?.iter().zip(senders) {
            late.extend(flow::submissions_of(receipt, tx.sender, number));
            let events = receipt.logs.iter().filter_map(zg_systems::storage::shards::decode_miner_event);
            changed.extend(events.filter_map(|event| zg_systems::storage::shards::apply_miner_event(&mut miners, event)));
        }
    }
    if indexed != Some(head) {
        store.write_files(&late, &changed, head)?;
    }
    world.insert_resource(miners);
    let files = store.files()?;
    for record in files {
        let held = store.segment_count(record.tx_seq)?;
        let finalized = held >= record.data_segments();
        // Segments held before a restart were handed out for placement then (audits and repair
        // cover any shard that did not arrive): nothing per segment is restored.
        zg_systems::storage::track_file(world, record, held, finalized);
    }
    Ok(())
}
