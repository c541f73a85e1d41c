//! State history: what each block overwrote, so state can be read at older blocks.
//!
//! Every block records, for each account and slot it changed, the value from before the block
//! (a reverse diff keyed key ++ block number). Reading key K at block B takes the first entry of
//! K after B — the value B left behind — or, when no later block touched K, the current value.
//! Reads cost one range seek whatever the age; writes cost one insert per changed key. Outside
//! the archive mode, the entries of blocks older than the kept window are deleted as blocks
//! arrive, through the per-block key list.

use redb::{ReadableTable, Table, WriteTransaction};
use std::collections::BTreeMap;

use super::{StoreError, tables::*};

/// How much state history the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryPolicy {
    /// Blocks behind the head whose state stays readable; `None` keeps every block (archive).
    pub keep_blocks: Option<u64>,
}

impl HistoryPolicy {
    /// geth keeps 128 recent states in memory; we keep the last 256 (what BLOCKHASH reaches).
    pub const DEFAULT_KEEP_BLOCKS: u64 = 256;

    pub fn archive() -> Self {
        Self { keep_blocks: None }
    }

    pub fn recent(blocks: u64) -> Self {
        Self { keep_blocks: Some(blocks) }
    }

    /// Only the head's state is readable and no history is written: for a node nothing can ask
    /// about older state (a hand-ticked embedded node: its handle reads the head only).
    pub fn head_only() -> Self {
        Self { keep_blocks: Some(0) }
    }
}

impl Default for HistoryPolicy {
    fn default() -> Self {
        Self::recent(Self::DEFAULT_KEEP_BLOCKS)
    }
}

/// Most older blocks one commit prunes, so shrinking the window never stalls a commit.
const MAX_PRUNED_PER_COMMIT: u64 = 64;

/// The values one block overwrote, first write wins (the value from before the block).
#[derive(Default)]
pub struct Overwritten {
    accounts: BTreeMap<[u8; 20], Vec<u8>>,
    slots: BTreeMap<[u8; 52], Vec<u8>>,
}

impl Overwritten {
    pub fn account(&mut self, address: &[u8; 20], prior: Option<&[u8]>) {
        self.accounts.entry(*address).or_insert_with(|| prior.map(<[u8]>::to_vec).unwrap_or_default());
    }

    pub fn slot(&mut self, key: &[u8; 52], prior: Option<&[u8]>) {
        self.slots.entry(*key).or_insert_with(|| prior.map(<[u8]>::to_vec).unwrap_or_default());
    }

    /// Writes the block's reverse diff and its key list, then prunes what fell out of the window.
    pub fn commit(self, txn: &WriteTransaction, number: u64, policy: HistoryPolicy) -> Result<(), StoreError> {
        if policy.keep_blocks == Some(0) {
            // Nothing to keep: only move the window (and prune what an earlier policy left).
            return prune(txn, number, policy);
        }
        let mut keys = Vec::with_capacity(4 + self.accounts.len() * 20 + self.slots.len() * 52);
        keys.extend_from_slice(&(self.accounts.len() as u32).to_le_bytes());
        {
            let mut accounts = txn.open_table(ACCOUNT_HISTORY)?;
            for (address, prior) in &self.accounts {
                accounts.insert(account_history_key(address, number).as_slice(), prior.as_slice())?;
                keys.extend_from_slice(address);
            }
            let mut slots = txn.open_table(STORAGE_HISTORY)?;
            for (key, prior) in &self.slots {
                slots.insert(storage_history_key(key, number).as_slice(), prior.as_slice())?;
                keys.extend_from_slice(key);
            }
        }
        txn.open_table(HISTORY_CHANGES)?.insert(number, keys.as_slice())?;
        prune(txn, number, policy)
    }
}

/// Deletes the history of blocks at or before `head - keep`, oldest first, and moves the
/// readable window's start.
fn prune(txn: &WriteTransaction, head: u64, policy: HistoryPolicy) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    let oldest = meta.get(HISTORY_OLDEST_KEY)?.map(|v| v.value()).unwrap_or(0);
    let Some(keep) = policy.keep_blocks else { return Ok(()) };
    let target = head.saturating_sub(keep);
    if target <= oldest {
        return Ok(());
    }
    let until = target.min(oldest + MAX_PRUNED_PER_COMMIT);
    let mut changes = txn.open_table(HISTORY_CHANGES)?;
    let mut accounts = txn.open_table(ACCOUNT_HISTORY)?;
    let mut slots = txn.open_table(STORAGE_HISTORY)?;
    for block in (oldest + 1)..=until {
        let Some(list) = changes.remove(block)? else { continue };
        delete_block_entries(list.value(), block, &mut accounts, &mut slots)?;
    }
    meta.insert(HISTORY_OLDEST_KEY, until)?;
    Ok(())
}

/// A block's key list as (20-byte addresses, 52-byte storage keys).
pub fn split_key_list(list: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let corrupt = || StoreError::Corrupt { what: "history key list", detail: format!("{} bytes", list.len()) };
    let count = list.get(..4).ok_or_else(corrupt)?;
    let count = u32::from_le_bytes(count.try_into().map_err(|_| corrupt())?) as usize;
    let (addresses, storage) = list[4..].split_at_checked(count.checked_mul(20).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
    if storage.len() % 52 != 0 {
        return Err(corrupt());
    }
    Ok((addresses, storage))
}

fn delete_block_entries(
    list: &[u8],
    block: u64,
    accounts: &mut Table<&'static [u8], &'static [u8]>,
    slots: &mut Table<&'static [u8], &'static [u8]>,
) -> Result<(), StoreError> {
    let (addresses, storage) = split_key_list(list)?;
    for address in addresses.chunks_exact(20) {
        accounts.remove(account_history_key(address, block).as_slice())?;
    }
    for key in storage.chunks_exact(52) {
        slots.remove(storage_history_key(key, block).as_slice())?;
    }
    Ok(())
}

/// Sets where history starts on a database that had none (made before history was kept): only
/// the state at its head is readable.
pub fn start_history(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    if meta.get(HISTORY_OLDEST_KEY)?.is_none() {
        let head = meta.get(HEAD_KEY)?.map(|v| v.value()).unwrap_or(0);
        meta.insert(HISTORY_OLDEST_KEY, head)?;
    }
    Ok(())
}

/// The value `key` had at the end of block `block`, if some later block overwrote it:
/// `Some(prior)` from history, `None` when the current value still holds.
pub fn value_at<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    key: &[u8],
    block: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut start = key.to_vec();
    start.extend_from_slice(&(block + 1).to_be_bytes());
    let mut end = key.to_vec();
    end.extend_from_slice(&u64::MAX.to_be_bytes());
    let mut range = table.range(start.as_slice()..=end.as_slice())?;
    Ok(match range.next() {
        Some(entry) => Some(entry?.1.value().to_vec()),
        None => None,
    })
}
