//! Rewinding the dev chain to an older block (evm_revert): the blocks after it leave the
//! database and the state goes back through the history tables, in one write transaction; the
//! world is then rebuilt from the database as at start.

use alloy_consensus::Header;
use alloy_rlp::Decodable;
use bevy_ecs::prelude::*;
use redb::ReadableTable;
use std::sync::Arc;

use zg_components::chain::{
    AccountAddress, AccountIndex, BlockHeader, BlockIndex, CodeStore, MempoolIndex, PooledTx, StateTrie,
};
use zg_systems::chain::dev::ChainRewinder;
use zg_systems::ports::PersistError;

use super::{ChainStore, StoreError, history, restore_into, tables::*};

impl ChainStore {
    /// Removes every block after `target` and puts state back as it was at `target`. Refused
    /// when the state history no longer reaches `target`.
    pub fn rewind_to(&self, target: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let head = meta.get(HEAD_KEY)?.map(|v| v.value()).unwrap_or_default();
            let oldest = meta.get(HISTORY_OLDEST_KEY)?.map(|v| v.value()).unwrap_or_default();
            if target >= head {
                return Ok(());
            }
            if target < oldest {
                return Err(StoreError::Corrupt {
                    what: "rewind target",
                    detail: format!("block {target} is older than the kept state history (blocks {oldest}..={head})"),
                });
            }
            let mut changes = txn.open_table(HISTORY_CHANGES)?;
            let mut account_history = txn.open_table(ACCOUNT_HISTORY)?;
            let mut storage_history = txn.open_table(STORAGE_HISTORY)?;
            let mut accounts = txn.open_table(ACCOUNTS)?;
            let mut storage = txn.open_table(STORAGE)?;
            let mut headers = txn.open_table(HEADERS)?;
            let mut hashes = txn.open_table(HASH_TO_NUMBER)?;
            let mut bodies = txn.open_table(BODIES)?;
            let mut lookup = txn.open_table(TX_LOOKUP)?;
            let mut transactions = txn.open_table(BLOCK_TXS)?;
            let mut receipts = txn.open_table(BLOCK_RECEIPTS)?;
            // Newest first, so each key ends at the value from before the earliest later block.
            for block in (target + 1..=head).rev() {
                if let Some(list) = changes.remove(block)? {
                    let (addresses, slots) = history::split_key_list(list.value())?;
                    restore_priors(addresses, 20, block, &mut account_history, &mut accounts, account_history_key)?;
                    restore_priors(slots, 52, block, &mut storage_history, &mut storage, storage_history_key)?;
                }
                if let Some(bytes) = headers.remove(block)? {
                    let header = Header::decode(&mut bytes.value())
                        .map_err(|e| StoreError::Corrupt { what: "header", detail: e.to_string() })?;
                    hashes.remove(header.hash_slow().as_slice())?;
                }
                if let Some(body) = bodies.remove(block)? {
                    for hash in body.value().chunks_exact(32) {
                        lookup.remove(hash)?;
                    }
                }
                transactions.retain_in((block, 0)..=(block, u32::MAX), |_, _| false)?;
                receipts.retain_in((block, 0)..=(block, u32::MAX), |_, _| false)?;
            }
            meta.insert(HEAD_KEY, target)?;
        }
        txn.commit()?;
        Ok(())
    }
}

/// Puts each key of `keys` (`width` bytes each) back to the value it had before `block`,
/// taking (and deleting) that block's history entry.
fn restore_priors<const N: usize>(
    keys: &[u8],
    width: usize,
    block: u64,
    history: &mut redb::Table<&'static [u8], &'static [u8]>,
    current: &mut redb::Table<&'static [u8], &'static [u8]>,
    history_key: fn(&[u8], u64) -> [u8; N],
) -> Result<(), StoreError> {
    for key in keys.chunks_exact(width) {
        if let Some(prior) = history.remove(history_key(key, block).as_slice())? {
            match prior.value() {
                [] => current.remove(key)?,
                value => current.insert(key, value)?,
            };
        }
    }
    Ok(())
}

/// Rewinds the store, then rebuilds the world's chain state from it; the pool is emptied (its
/// transactions were checked against state that is gone).
pub struct StoreRewinder(pub ChainStore);

impl ChainRewinder for StoreRewinder {
    fn rewind(&self, world: &mut World, block: u64) -> Result<(), PersistError> {
        self.0.rewind_to(block).map_err(PersistError::store)?;
        let mut doomed: Vec<Entity> = world.query_filtered::<Entity, With<AccountAddress>>().iter(world).collect();
        doomed.extend(world.query_filtered::<Entity, With<BlockHeader>>().iter(world));
        doomed.extend(world.query_filtered::<Entity, With<PooledTx>>().iter(world));
        for entity in doomed {
            world.despawn(entity);
        }
        world.insert_resource(AccountIndex::default());
        world.insert_resource(StateTrie::default());
        world.insert_resource(CodeStore::default());
        world.insert_resource(BlockIndex::default());
        world.insert_resource(MempoolIndex::default());
        restore_into(world, &self.0).map_err(PersistError::store)?;
        Ok(())
    }
}

impl StoreRewinder {
    pub fn handle(store: &ChainStore) -> zg_systems::chain::dev::RewinderHandle {
        zg_systems::chain::dev::RewinderHandle(Arc::new(Self(store.clone())))
    }
}
