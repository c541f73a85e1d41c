//! Consistent read snapshots for RPC: every read of one request sees one committed block.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};
use redb::{Database, ReadOnlyTable, ReadableDatabase};
use revm::{DatabaseRef, state::{AccountInfo as RevmAccountInfo, Bytecode}};
use std::sync::Arc;

use zg_components::chain::{AccountInfo, TxReceipt};

use super::{StoreError, history, tables::*};

/// Where a mined transaction sits, and its signed bytes.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxRecord {
    pub block_number: u64,
    pub block_hash: B256,
    pub index: u64,
    pub sender: Address,
    pub raw: Bytes,
}

#[derive(Clone)]
pub struct ChainReader {
    db: Arc<Database>,
}

impl ChainReader {
    pub(super) fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    /// A snapshot of the latest committed block and state.
    pub fn snapshot(&self) -> Result<StateSnapshot, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(StateSnapshot {
            head: txn.open_table(META)?.get(HEAD_KEY)?.map(|v| v.value()),
            headers: txn.open_table(HEADERS)?,
            hash_to_number: txn.open_table(HASH_TO_NUMBER)?,
            bodies: txn.open_table(BODIES)?,
            lookup: txn.open_table(TX_LOOKUP)?,
            transactions: txn.open_table(BLOCK_TXS)?,
            receipts: txn.open_table(BLOCK_RECEIPTS)?,
            accounts: txn.open_table(ACCOUNTS)?,
            storage: txn.open_table(STORAGE)?,
            code: txn.open_table(CODE)?,
            account_history: txn.open_table(ACCOUNT_HISTORY)?,
            storage_history: txn.open_table(STORAGE_HISTORY)?,
            history_oldest: txn.open_table(META)?.get(HISTORY_OLDEST_KEY)?.map(|v| v.value()).unwrap_or(0),
            at: None,
        })
    }

    pub fn header(&self, number: u64) -> Result<Option<(Header, B256)>, StoreError> {
        self.snapshot()?.header(number)
    }
}

/// One read transaction's view of the chain.
pub struct StateSnapshot {
    head: Option<u64>,
    headers: ReadOnlyTable<u64, &'static [u8]>,
    hash_to_number: ReadOnlyTable<&'static [u8], u64>,
    bodies: ReadOnlyTable<u64, &'static [u8]>,
    lookup: ReadOnlyTable<&'static [u8], (u64, u32)>,
    transactions: ReadOnlyTable<(u64, u32), &'static [u8]>,
    receipts: ReadOnlyTable<(u64, u32), &'static [u8]>,
    accounts: ReadOnlyTable<&'static [u8], &'static [u8]>,
    storage: ReadOnlyTable<&'static [u8], &'static [u8]>,
    code: ReadOnlyTable<&'static [u8], &'static [u8]>,
    account_history: ReadOnlyTable<&'static [u8], &'static [u8]>,
    storage_history: ReadOnlyTable<&'static [u8], &'static [u8]>,
    history_oldest: u64,
    /// Reads state as of the end of this block; `None` reads the head.
    at: Option<u64>,
}

/// State was asked for at a block this node no longer (or never) keeps.
#[derive(Debug, thiserror::Error)]
#[error(
    "missing trie node: the state of block {block} is not available (this node keeps the state of blocks {oldest}..={head}; \
     run it with --archive to keep every block's state)"
)]
pub struct StateUnavailable {
    pub block: u64,
    pub oldest: u64,
    pub head: u64,
}

fn corrupt(what: &'static str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what, detail: error.to_string() }
}

impl StateSnapshot {
    /// The latest persisted block number (none before genesis is written).
    pub fn head_number(&self) -> Option<u64> {
        self.head
    }

    /// The oldest block whose state this snapshot can read.
    pub fn history_oldest(&self) -> u64 {
        self.history_oldest
    }

    /// This snapshot reading state as of the end of `block` (at most the head).
    pub fn at_block(mut self, block: u64) -> Result<Self, StateUnavailable> {
        let head = self.head.unwrap_or_default();
        if block > head || block < self.history_oldest {
            return Err(StateUnavailable { block, oldest: self.history_oldest, head });
        }
        self.at = (block < head).then_some(block);
        Ok(self)
    }

    /// The block whose state this snapshot reads.
    pub fn state_block(&self) -> u64 {
        self.at.or(self.head).unwrap_or_default()
    }

    pub fn header(&self, number: u64) -> Result<Option<(Header, B256)>, StoreError> {
        let Some(bytes) = self.headers.get(number)? else { return Ok(None) };
        let header = Header::decode(&mut bytes.value()).map_err(|e| corrupt("header", e))?;
        let hash = header.hash_slow();
        Ok(Some((header, hash)))
    }

    pub fn number_of(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        Ok(self.hash_to_number.get(hash.as_slice())?.map(|v| v.value()))
    }

    pub fn body(&self, number: u64) -> Result<Vec<B256>, StoreError> {
        let Some(bytes) = self.bodies.get(number)? else { return Ok(Vec::new()) };
        Ok(bytes.value().chunks_exact(32).map(B256::from_slice).collect())
    }

    fn position(&self, hash: &B256) -> Result<Option<(u64, u32)>, StoreError> {
        Ok(self.lookup.get(hash.as_slice())?.map(|v| v.value()))
    }

    pub fn transaction(&self, hash: &B256) -> Result<Option<TxRecord>, StoreError> {
        let Some(position) = self.position(hash)? else { return Ok(None) };
        let Some(bytes) = self.transactions.get(position)? else { return Ok(None) };
        TxRecord::decode(&mut bytes.value()).map(Some).map_err(|e| corrupt("transaction", e))
    }

    pub fn receipt(&self, hash: &B256) -> Result<Option<TxReceipt>, StoreError> {
        let Some(position) = self.position(hash)? else { return Ok(None) };
        let Some(bytes) = self.receipts.get(position)? else { return Ok(None) };
        TxReceipt::decode(&mut bytes.value()).map(Some).map_err(|e| corrupt("receipt", e))
    }

    /// The transaction at `index` in block `number`.
    pub fn block_transaction(&self, number: u64, index: u32) -> Result<Option<TxRecord>, StoreError> {
        let Some(bytes) = self.transactions.get((number, index))? else { return Ok(None) };
        TxRecord::decode(&mut bytes.value()).map(Some).map_err(|e| corrupt("transaction", e))
    }

    /// A block's transactions, in order, in one range scan.
    pub fn block_transactions(&self, number: u64) -> Result<Vec<TxRecord>, StoreError> {
        decode_block_range(&self.transactions, number, "transaction")
    }

    /// A block's receipts, in order, in one range scan.
    pub fn block_receipts(&self, number: u64) -> Result<Vec<TxReceipt>, StoreError> {
        decode_block_range(&self.receipts, number, "receipt")
    }

    pub fn account(&self, address: &Address) -> Result<Option<AccountInfo>, StoreError> {
        if let Some(block) = self.at
            && let Some(prior) = history::value_at(&self.account_history, address.as_slice(), block)?
        {
            return decode_account(&prior);
        }
        let Some(bytes) = self.accounts.get(address.as_slice())? else { return Ok(None) };
        decode_account(bytes.value())
    }

    pub fn storage_at(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        let key = storage_key(address, slot);
        if let Some(block) = self.at
            && let Some(prior) = history::value_at(&self.storage_history, key.as_slice(), block)?
        {
            return Ok(U256::from_be_slice(&prior));
        }
        Ok(self
            .storage
            .get(key.as_slice())?
            .map(|v| U256::from_be_slice(v.value()))
            .unwrap_or_default())
    }

    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self.code.get(hash.as_slice())?.map(|v| Bytes::copy_from_slice(v.value())))
    }

    /// Iterates every account with its storage, in address order (for restore).
    pub(super) fn accounts_table(&self) -> &ReadOnlyTable<&'static [u8], &'static [u8]> {
        &self.accounts
    }

    pub(super) fn storage_table(&self) -> &ReadOnlyTable<&'static [u8], &'static [u8]> {
        &self.storage
    }
}

/// An account's stored RLP; empty bytes in history mean it did not exist.
fn decode_account(mut bytes: &[u8]) -> Result<Option<AccountInfo>, StoreError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    AccountInfo::decode(&mut bytes).map(Some).map_err(|e| corrupt("account", e))
}

/// Decodes every value keyed `(number, _)`, in index order.
fn decode_block_range<T: Decodable>(
    table: &ReadOnlyTable<(u64, u32), &'static [u8]>,
    number: u64,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for entry in table.range((number, 0)..=(number, u32::MAX))? {
        let (_, bytes) = entry?;
        out.push(T::decode(&mut bytes.value()).map_err(|e| corrupt(what, e))?);
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SnapshotDbError(#[from] pub StoreError);
impl revm::database_interface::DBErrorMarker for SnapshotDbError {}

/// Lets revm run calls (eth_call, eth_estimateGas) against a snapshot.
impl DatabaseRef for StateSnapshot {
    type Error = SnapshotDbError;

    fn basic_ref(&self, address: Address) -> Result<Option<RevmAccountInfo>, Self::Error> {
        let Some(info) = self.account(&address)? else { return Ok(None) };
        let code = if info.has_code() { self.code(&info.code_hash)? } else { None };
        let code = code.map(Bytecode::new_raw).unwrap_or_default();
        Ok(Some(RevmAccountInfo::new(info.balance, info.nonce, info.code_hash, code)))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(self.code(&code_hash)?.map(Bytecode::new_raw).unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage_at(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.header(number)?.map(|(_, hash)| hash).unwrap_or_default())
    }
}
