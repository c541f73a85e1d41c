//! Table layout. Keys are fixed-width big-endian bytes, so ranges follow numeric order.

use alloy_primitives::{Address, U256};
use redb::TableDefinition;

pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub const HEAD_KEY: &str = "head";
pub const CHAIN_ID_KEY: &str = "chain_id";
/// block number -> RLP header
pub const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
/// block hash -> block number
pub const HASH_TO_NUMBER: TableDefinition<&[u8], u64> = TableDefinition::new("hash_to_number");
/// block number -> concatenated 32-byte transaction hashes
pub const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
/// transaction hash -> (block number, index in block)
pub const TX_LOOKUP: TableDefinition<&[u8], (u64, u32)> = TableDefinition::new("tx_lookup");
/// (block number, index) -> RLP [`super::TxRecord`]. Keyed by position so a block's writes are
/// appends and its reads one range scan; only the hash lookup above is a random insert.
pub const BLOCK_TXS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("block_txs");
/// (block number, index) -> RLP receipt
pub const BLOCK_RECEIPTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("block_receipts");
/// address -> RLP account info
pub const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("accounts");
/// address ++ slot (52 bytes) -> 32-byte value
pub const STORAGE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage");
/// code hash -> code
pub const CODE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("code");

/// block number -> borsh [`zg_components::consensus::DecidedBlock`]: the ordered block and the
/// commit certificate that decided it, served to peers that sync.
pub const DECIDED: TableDefinition<u64, &[u8]> = TableDefinition::new("decided");
/// (height, sequence) -> borsh [`zg_components::consensus::WalEntry`]: the consensus WAL of the
/// heights not yet committed.
pub const CONSENSUS_WAL: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("consensus_wal");

/// tx seq -> borsh [`zg_components::storage::FileRecord`]: files published on the Flow contract.
pub const STORAGE_FILES: TableDefinition<u64, &[u8]> = TableDefinition::new("storage_files");
/// file root -> borsh Vec<u64>: the tx seqs that published it (a root may be published again).
pub const STORAGE_ROOTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage_roots");
/// (tx seq, segment, shard) -> borsh [`zg_components::consensus::Shard`]: erasure-coded shards
/// placed on this node.
pub const STORAGE_SHARDS: TableDefinition<(u64, u64, u8), &[u8]> = TableDefinition::new("storage_shards");
/// PoRA miner address -> borsh [`zg_components::storage::shard::MinerRecord`] (from the chain's
/// `Registered` / `Settled` events, kept so standings survive a restart).
pub const STORAGE_MINERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage_miners");
/// tx seq -> segments of the file this node holds at least one shard of.
pub const STORAGE_SHARDED: TableDefinition<u64, u64> = TableDefinition::new("storage_sharded");
/// (tx seq, segment index) -> segment bytes as uploaded (the last chunk zero-padded).
pub const STORAGE_SEGMENTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("storage_segments");
/// (tx seq, segment index) -> borsh (lemma, path): the proof the segment was uploaded with.
pub const STORAGE_PROOFS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("storage_proofs");
/// tx seq -> how many of its segments are held (kept with every segment write).
pub const STORAGE_HELD: TableDefinition<u64, u64> = TableDefinition::new("storage_held");
/// DA data root -> k (u32 BE) ‖ its 4k axis roots: the blobs this DA node keeps pieces of.
pub const DA_ROOTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("da_roots");
/// DA data root ‖ axis (0 row, 1 column) ‖ index (u32 BE) -> the axis's 2k shares, checked
/// against its root before they were written.
pub const DA_AXES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("da_axes");
/// DA data root -> the blob: accepted by this node's disperser and not yet through dispersal,
/// so a restart resumes it.
pub const DA_PENDING: TableDefinition<&[u8], &[u8]> = TableDefinition::new("da_pending");
/// DA data root -> the DA systems' record of the blob (JSON of `zg_components::da::DaBlob`).
pub const DA_BLOBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("da_blobs");
/// The last block whose DA entrance events are in `da_blobs`.
pub const DA_INDEXED_KEY: &str = "da_indexed";
/// KV layer: what each committed stream write changed (borsh `KvCommit`), by tx seq; the index
/// is these replayed in order at start.
pub const KV_COMMITS: TableDefinition<u64, &[u8]> = TableDefinition::new("kv_commits");
/// KV layer: every replayed stream write's result (0G's text), by tx seq.
pub const KV_RESULTS: TableDefinition<u64, &str> = TableDefinition::new("kv_results");
/// KV layer: streams added with `admin_addStream` (id -> tx seq the replay restarted from).
pub const KV_ADDED_STREAMS: TableDefinition<&[u8], u64> = TableDefinition::new("kv_added_streams");
/// KV layer: the next tx seq to replay.
pub const KV_NEXT_SEQ_KEY: &str = "kv_next_seq";
/// The last block whose Submit events are in `storage_files`.
pub const STORAGE_INDEXED_KEY: &str = "storage_indexed";

pub fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

/// The key range that holds every slot of `address`.
pub fn storage_range(address: &Address) -> ([u8; 52], [u8; 53]) {
    let start = storage_key(address, &U256::ZERO);
    let mut end = [0xffu8; 53];
    end[..20].copy_from_slice(address.as_slice());
    (start, end)
}

/// address ++ block number (28 bytes) -> the account's RLP before that block changed it (empty:
/// it did not exist). Read at block B: the first entry after B, else the current value.
pub const ACCOUNT_HISTORY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("account_history");
/// address ++ slot ++ block number (60 bytes) -> the slot's 32-byte value before that block
/// changed it (empty: zero).
pub const STORAGE_HISTORY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage_history");
/// block number -> the history keys that block wrote, so pruning finds them without a scan:
/// u32 LE account count, the 20-byte addresses, then the 52-byte storage keys.
pub const HISTORY_CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("history_changes");
/// The oldest block whose state can still be read.
pub const HISTORY_OLDEST_KEY: &str = "history_oldest";

pub fn account_history_key(address: &[u8], block: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(address);
    key[20..].copy_from_slice(&block.to_be_bytes());
    key
}

pub fn storage_history_key(storage_key: &[u8], block: u64) -> [u8; 60] {
    let mut key = [0u8; 60];
    key[..52].copy_from_slice(storage_key);
    key[52..].copy_from_slice(&block.to_be_bytes());
    key
}
