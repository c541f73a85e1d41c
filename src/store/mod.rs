//! redb persistence: the source of truth on disk.
//!
//! One write transaction per sealed block holds the header, body, transactions, receipts and
//! every account, storage slot and code change of that block, so a node killed at any moment
//! restarts from a consistent block. RPC reads open a read transaction: a consistent snapshot
//! that never blocks the tick.

pub mod durable;
pub mod power_cut;
mod reader;
mod restore;
pub mod rewind;
pub mod history;
pub(crate) mod segment_files;
pub(crate) mod tables;

pub use reader::{ChainReader, SnapshotDbError, StateSnapshot, StateUnavailable, TxRecord};
pub use history::HistoryPolicy;
pub use restore::{RestoreError, restore_into};

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::B256;
use redb::{Database, ReadableDatabase, ReadableTable, backends::InMemoryBackend};
use std::path::Path;
use std::sync::Arc;

use zg_components::chain::CommittedBlock;
use zg_components::consensus::DecidedBlock;
use zg_systems::chain::io::{BlockStore, PersistError};
use zg_systems::consensus::engine::ConsensusWal;

use tables::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("cannot open the database at {path}: {source}")]
    Open { path: String, source: redb::DatabaseError },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

macro_rules! db_error_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(error: $ty) -> Self {
                StoreError::Db(error.into())
            }
        }
    )*};
}
db_error_from!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// The chain database.
#[derive(Clone)]
pub struct ChainStore {
    pub(crate) db: Arc<Database>,
    /// Segment bytes beside the database; None keeps them in redb (in-memory databases).
    pub(crate) segment_files: Option<Arc<segment_files::SegmentFiles>>,
    history: HistoryPolicy,
    /// In memory: nothing survives the process, so block commits need not be durable.
    ephemeral: bool,
}

/// On an in-memory database, one block commit in this many is durable: redb reclaims the pages
/// older commits freed only at a durable commit, so memory stays bounded.
const EPHEMERAL_DURABLE_EVERY: u64 = 64;

impl ChainStore {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)
            .map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        let dir = path.with_file_name("segments");
        let files = segment_files::SegmentFiles::create(&dir)
            .map_err(|source| StoreError::Io { what: format!("segment directory {}", dir.display()), source })?;
        let mut store = Self::init(db)?;
        store.segment_files = Some(Arc::new(files));
        Ok(store)
    }

    /// A database on a given redb backend, without segment files (power-cut tests).
    pub fn with_backend(backend: impl redb::StorageBackend) -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(backend)
            .map_err(|source| StoreError::Open { path: "<backend>".into(), source })?;
        Self::init(db)
    }

    /// A database that lives in memory only (`--ephemeral`).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder().create_with_backend(InMemoryBackend::new()).map_err(|source| {
            StoreError::Open { path: "<memory>".into(), source }
        })?;
        Ok(Self { ephemeral: true, ..Self::init(db)? })
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write()?;
        txn.open_table(META)?;
        txn.open_table(HEADERS)?;
        txn.open_table(HASH_TO_NUMBER)?;
        txn.open_table(BODIES)?;
        txn.open_table(TX_LOOKUP)?;
        txn.open_table(BLOCK_TXS)?;
        txn.open_table(BLOCK_RECEIPTS)?;
        txn.open_table(ACCOUNTS)?;
        txn.open_table(STORAGE)?;
        txn.open_table(CODE)?;
        txn.open_table(DECIDED)?;
        txn.open_table(CONSENSUS_WAL)?;
        txn.open_table(STORAGE_FILES)?;
        txn.open_table(STORAGE_SEGMENTS)?;
        txn.open_table(STORAGE_PROOFS)?;
        txn.open_table(STORAGE_HELD)?;
        txn.open_table(STORAGE_ROOTS)?;
        txn.open_table(STORAGE_SHARDS)?;
        txn.open_table(STORAGE_SHARDED)?;
        txn.open_table(STORAGE_MINERS)?;
        txn.open_table(KV_COMMITS)?;
        txn.open_table(KV_RESULTS)?;
        txn.open_table(KV_ADDED_STREAMS)?;
        txn.open_table(DA_ROOTS)?;
        txn.open_table(DA_AXES)?;
        txn.open_table(DA_PENDING)?;
        txn.open_table(DA_BLOBS)?;
        txn.open_table(ACCOUNT_HISTORY)?;
        txn.open_table(STORAGE_HISTORY)?;
        txn.open_table(HISTORY_CHANGES)?;
        history::start_history(&txn)?;
        txn.commit()?;
        Ok(Self { db: Arc::new(db), segment_files: None, history: HistoryPolicy::default(), ephemeral: false })
    }

    /// How much state history to keep from now on (the default keeps the last 256 blocks).
    pub fn with_history(mut self, policy: HistoryPolicy) -> Self {
        self.history = policy;
        self
    }

    pub fn reader(&self) -> ChainReader {
        ChainReader::new(self.db.clone())
    }

    /// The number of the last persisted block, if any block was ever persisted.
    pub fn head_number(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(HEAD_KEY)?.map(|v| v.value()))
    }

    /// The chain id the database was created for.
    pub fn chain_id(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(CHAIN_ID_KEY)?.map(|v| v.value()))
    }

    /// Writes genesis and records the chain id, in one transaction with the block.
    pub fn write_genesis(&self, block: &CommittedBlock, chain_id: u64) -> Result<(), StoreError> {
        self.write_blocks_with(&[block], Some(chain_id))
    }

    /// Writes one sealed block and its state changes atomically.
    pub fn write_block(&self, block: &CommittedBlock) -> Result<(), StoreError> {
        self.write_blocks_with(&[block], None)
    }

    /// Writes consecutive blocks in one transaction: one fsync for all of them (a host ticking
    /// at 60 Hz seals blocks faster than a disk syncs). All or none are on disk afterwards.
    pub fn write_blocks(&self, blocks: &[std::sync::Arc<CommittedBlock>]) -> Result<(), StoreError> {
        let blocks: Vec<&CommittedBlock> = blocks.iter().map(|b| b.as_ref()).collect();
        self.write_blocks_with(&blocks, None)
    }

    fn write_blocks_with(&self, blocks: &[&CommittedBlock], chain_id: Option<u64>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        let numbers: Vec<u64> = blocks.iter().map(|b| b.header.number).collect();
        self.relax_durability(&mut txn, &numbers)?;
        if let Some(chain_id) = chain_id {
            txn.open_table(META)?.insert(CHAIN_ID_KEY, chain_id)?;
        }
        for block in blocks {
            self.write_block_into(&txn, block)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// An ephemeral store syncs only every `EPHEMERAL_DURABLE_EVERY` blocks: the rest stay
    /// visible to every later read, the durable commit only costs.
    fn relax_durability(&self, txn: &mut redb::WriteTransaction, numbers: &[u64]) -> Result<(), StoreError> {
        if self.ephemeral && !numbers.iter().any(|n| n.is_multiple_of(EPHEMERAL_DURABLE_EVERY)) {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Corrupt { what: "block transaction", detail: e.to_string() })?;
        }
        Ok(())
    }

    fn write_block_into(&self, txn: &redb::WriteTransaction, block: &CommittedBlock) -> Result<(), StoreError> {
        {
            let number = block.header.number;
            let mut headers = txn.open_table(HEADERS)?;
            headers.insert(number, alloy_rlp::encode(&block.header).as_slice())?;
            txn.open_table(HASH_TO_NUMBER)?.insert(block.hash.as_slice(), number)?;
            let tx_hashes: Vec<u8> =
                block.transactions.iter().flat_map(|(tx, _)| tx.tx_hash().0).collect();
            txn.open_table(BODIES)?.insert(number, tx_hashes.as_slice())?;

            let mut lookup = txn.open_table(TX_LOOKUP)?;
            let mut transactions = txn.open_table(BLOCK_TXS)?;
            for (index, (tx, sender)) in block.transactions.iter().enumerate() {
                let position = (number, index as u32);
                let record = TxRecord {
                    block_number: number,
                    block_hash: block.hash,
                    index: index as u64,
                    sender: *sender,
                    raw: tx.encoded_2718().into(),
                };
                transactions.insert(position, alloy_rlp::encode(&record).as_slice())?;
                lookup.insert(tx.tx_hash().as_slice(), position)?;
            }
            let mut receipts = txn.open_table(BLOCK_RECEIPTS)?;
            for receipt in &block.receipts {
                receipts.insert((number, receipt.tx_index as u32), alloy_rlp::encode(receipt).as_slice())?;
            }

            let mut overwritten = history::Overwritten::default();
            let mut accounts = txn.open_table(ACCOUNTS)?;
            let mut storage = txn.open_table(STORAGE)?;
            let mut code = txn.open_table(CODE)?;
            for change in &block.changes {
                let address = change.address;
                let address_bytes: &[u8; 20] = address.as_ref();
                if change.storage_cleared {
                    let (start, end) = storage_range(&address);
                    for entry in storage.range(start.as_slice()..end.as_slice())? {
                        let (key, value) = entry?;
                        if let Ok(key) = <[u8; 52]>::try_from(key.value()) {
                            overwritten.slot(&key, Some(value.value()));
                        }
                    }
                    storage.retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
                }
                let prior = match &change.info {
                    Some(info) => accounts.insert(address.as_slice(), alloy_rlp::encode(info).as_slice())?,
                    None => accounts.remove(address.as_slice())?,
                };
                overwritten.account(address_bytes, prior.as_ref().map(|v| v.value()));
                drop(prior);
                for (slot, value) in &change.storage {
                    let key = storage_key(&address, slot);
                    let prior = if value.is_zero() {
                        storage.remove(key.as_slice())?
                    } else {
                        storage.insert(key.as_slice(), value.to_be_bytes::<32>().as_slice())?
                    };
                    overwritten.slot(&key, prior.as_ref().map(|v| v.value()));
                }
                if let (Some(bytes), Some(info)) = (&change.code, &change.info) {
                    code.insert(info.code_hash.as_slice(), bytes.as_ref())?;
                }
            }
            drop((accounts, storage, code));
            overwritten.commit(txn, number, self.history)?;
            if let Some(decided) = &block.decided {
                let bytes = borsh::to_vec(decided.as_ref()).map_err(|e| StoreError::Corrupt {
                    what: "decided block",
                    detail: e.to_string(),
                })?;
                txn.open_table(DECIDED)?.insert(number, bytes.as_slice())?;
                // The height is settled: its votes can never be needed again.
                txn.open_table(CONSENSUS_WAL)?.retain_in((0, 0)..=(number, u32::MAX), |_, _| false)?;
            }
            txn.open_table(META)?.insert(HEAD_KEY, number)?;
        }
        Ok(())
    }

    /// The hash of the block at `number`, if stored.
    pub fn block_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        Ok(self.reader().header(number)?.map(|(_, hash)| hash))
    }
}

impl ChainStore {
    /// Decided blocks `from..=to` with their certificates, as many as fit in `max_bytes`.
    pub fn decided_blocks(&self, from: u64, to: u64, max_bytes: usize) -> Result<Vec<DecidedBlock>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DECIDED)?;
        let mut out = Vec::new();
        let mut size = 0;
        for entry in table.range(from..=to)? {
            let (_, bytes) = entry?;
            size += bytes.value().len();
            if size > max_bytes && !out.is_empty() {
                break;
            }
            let decided = borsh::from_slice(bytes.value())
                .map_err(|e| StoreError::Corrupt { what: "decided block", detail: e.to_string() })?;
            out.push(decided);
        }
        Ok(out)
    }

    fn append_wal(&self, height: u64, entry: &[u8], durable: bool) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        if !durable {
            // Made durable by the next durable commit, which always precedes anything we send.
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Corrupt { what: "WAL transaction", detail: e.to_string() })?;
        }
        {
            let mut wal = txn.open_table(CONSENSUS_WAL)?;
            let next = wal
                .range((height, 0)..=(height, u32::MAX))?
                .next_back()
                .transpose()?
                .map(|(key, _)| key.value().1 + 1)
                .unwrap_or(0);
            wal.insert((height, next), entry)?;
        }
        txn.commit()?;
        Ok(())
    }

    fn wal_entries(&self, height: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let wal = txn.open_table(CONSENSUS_WAL)?;
        let mut out = Vec::new();
        for entry in wal.range((height, 0)..=(height, u32::MAX))? {
            out.push(entry?.1.value().to_vec());
        }
        Ok(out)
    }
}

impl ConsensusWal for ChainStore {
    fn append(&self, height: u64, entry: &[u8], durable: bool) -> Result<(), PersistError> {
        self.append_wal(height, entry, durable).map_err(PersistError::store)
    }

    fn entries(&self, height: u64) -> Result<Vec<Vec<u8>>, PersistError> {
        self.wal_entries(height).map_err(PersistError::store)
    }
}

impl BlockStore for ChainStore {
    fn commit_block(&self, block: &CommittedBlock) -> Result<(), PersistError> {
        self.write_block(block).map_err(PersistError::store)
    }

    fn commit_blocks(&self, blocks: &[std::sync::Arc<CommittedBlock>]) -> Result<(), PersistError> {
        self.write_blocks(blocks).map_err(PersistError::store)
    }
}
