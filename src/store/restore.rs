//! Rebuilding the world from the database at start, and checking it against the stored head.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, U256};
use alloy_rlp::Decodable;
use bevy_ecs::prelude::*;
use redb::ReadableTable;
use std::collections::BTreeMap;

use zg_components::chain::{AccountChange, AccountInfo};
use zg_systems::chain::{producer, state};

use super::{ChainStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("header {0} is missing: the database is incomplete")]
    MissingHeader(u64),
    #[error(
        "state root mismatch at block {number}: header says {expected}, stored state gives {actual}; \
         the database is corrupt"
    )]
    StateRootMismatch { number: u64, expected: B256, actual: B256 },
}

/// Loads the persisted state into `world` (which has the chain resources) and returns the head.
/// Returns `Ok(None)` for an empty database.
pub fn restore_into(world: &mut World, store: &ChainStore) -> Result<Option<(Header, B256)>, RestoreError> {
    let snapshot = store.reader().snapshot()?;
    let Some(head) = snapshot.head_number() else { return Ok(None) };
    let corrupt = |what, e: alloy_rlp::Error| StoreError::Corrupt { what, detail: e.to_string() };

    let mut storage: BTreeMap<Address, Vec<(U256, U256)>> = BTreeMap::new();
    for entry in snapshot.storage_table().iter().map_err(StoreError::from)? {
        let (key, value) = entry.map_err(StoreError::from)?;
        let key = key.value();
        if key.len() != 52 {
            return Err(StoreError::Corrupt { what: "storage key", detail: format!("{} bytes", key.len()) }.into());
        }
        storage
            .entry(Address::from_slice(&key[..20]))
            .or_default()
            .push((U256::from_be_slice(&key[20..]), U256::from_be_slice(value.value())));
    }
    let mut changes = Vec::new();
    for entry in snapshot.accounts_table().iter().map_err(StoreError::from)? {
        let (key, value) = entry.map_err(StoreError::from)?;
        let address = Address::try_from(key.value()).map_err(|e| StoreError::Corrupt {
            what: "account key",
            detail: e.to_string(),
        })?;
        let info = AccountInfo::decode(&mut value.value()).map_err(|e| corrupt("account", e))?;
        let code = if info.has_code() {
            Some(snapshot.code(&info.code_hash)?.ok_or_else(|| StoreError::Corrupt {
                what: "code",
                detail: format!("code {} of {address} is missing", info.code_hash),
            })?)
        } else {
            None
        };
        changes.push(AccountChange {
            address,
            info: Some(info),
            storage: storage.remove(&address).unwrap_or_default(),
            storage_cleared: false,
            code,
        });
    }
    let state_root = state::apply_changes(world, &changes);

    let first = head.saturating_sub(producer::RECENT_BLOCKS - 1);
    let mut head_block = None;
    for number in first..=head {
        let (header, hash) = snapshot.header(number)?.ok_or(RestoreError::MissingHeader(number))?;
        producer::record_block(world, &header, hash, snapshot.body(number)?);
        head_block = Some((header, hash));
    }
    let (header, hash) = head_block.ok_or(RestoreError::MissingHeader(head))?;
    if header.state_root != state_root {
        return Err(RestoreError::StateRootMismatch { number: head, expected: header.state_root, actual: state_root });
    }
    // The governed parameters in the restored state govern the next block, as they did before.
    zg_systems::chain::params::apply(world);
    Ok(Some((header, hash)))
}
