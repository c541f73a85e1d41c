//! What a storage node keeps in redb: published files (from the chain's `Submit` events) and the
//! segments uploaded for them. A segment is acknowledged only after its write transaction
//! committed, so a node killed mid-upload restarts with every acknowledged segment.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use zg_components::storage::shard::{MinerRecord, MinerRecords};
use zg_components::storage::{FileRecord, Proof};
use zg_systems::chain::io::PersistError;
use zg_systems::storage::FileStore;

use crate::store::tables::*;
use crate::store::segment_files;
use crate::store::{ChainStore, StoreError};

fn corrupt(what: &'static str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what, detail: error.to_string() }
}

/// A stored file record. Records kept before submissions' tags and senders were: no tags, and
/// the Flow's `msg.sender` as the sender (what it was for every direct submission).
fn decode_file_record(bytes: &[u8]) -> Result<FileRecord, StoreError> {
    #[derive(borsh::BorshDeserialize)]
    struct Untagged {
        tx_seq: u64,
        root: [u8; 32],
        size: u64,
        start_entry_index: u64,
        sectors: u64,
        nodes: Vec<([u8; 32], u64)>,
        submitter: [u8; 20],
        block_number: u64,
    }
    match borsh::from_slice::<FileRecord>(bytes) {
        Ok(record) => Ok(record),
        Err(error) => {
            let old: Untagged = borsh::from_slice(bytes).map_err(|_| corrupt("file record", error))?;
            Ok(FileRecord {
                tx_seq: old.tx_seq,
                root: old.root,
                size: old.size,
                start_entry_index: old.start_entry_index,
                sectors: old.sectors,
                nodes: old.nodes,
                submitter: old.submitter,
                block_number: old.block_number,
                tags: Vec::new(),
                tx_from: old.submitter,
            })
        }
    }
}

impl ChainStore {
    /// The last block whose published files are recorded.
    pub fn storage_indexed(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(META)?.get(STORAGE_INDEXED_KEY)?.map(|v| v.value()))
    }

    pub fn write_files(&self, files: &[FileRecord], miners: &[MinerRecord], through_block: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut miner_table = txn.open_table(STORAGE_MINERS)?;
            for record in miners {
                let bytes = borsh::to_vec(record).map_err(|e| corrupt("miner record", e))?;
                miner_table.insert(record.miner.as_slice(), bytes.as_slice())?;
            }
            let mut table = txn.open_table(STORAGE_FILES)?;
            let mut roots = txn.open_table(STORAGE_ROOTS)?;
            for file in files {
                let bytes = borsh::to_vec(file).map_err(|e| corrupt("file record", e))?;
                table.insert(file.tx_seq, bytes.as_slice())?;
                let mut seqs: Vec<u64> = match roots.get(file.root.as_slice())? {
                    Some(v) => borsh::from_slice(v.value()).map_err(|e| corrupt("root index", e))?,
                    None => Vec::new(),
                };
                if !seqs.contains(&file.tx_seq) {
                    seqs.push(file.tx_seq);
                }
                let encoded = borsh::to_vec(&seqs).map_err(|e| corrupt("root index", e))?;
                roots.insert(file.root.as_slice(), encoded.as_slice())?;
            }
            txn.open_table(META)?.insert(STORAGE_INDEXED_KEY, through_block)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Every PoRA miner recorded.
    pub fn miner_records(&self) -> Result<MinerRecords, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_MINERS)?;
        let mut records = MinerRecords::default();
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            let record: MinerRecord = borsh::from_slice(bytes.value()).map_err(|e| corrupt("miner record", e))?;
            records.0.insert(record.miner, record);
        }
        Ok(records)
    }

    pub fn file(&self, tx_seq: u64) -> Result<Option<FileRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_FILES)?;
        let Some(bytes) = table.get(tx_seq)? else { return Ok(None) };
        decode_file_record(bytes.value()).map(Some)
    }

    /// The files published with this root, in submission order.
    pub fn files_with_root(&self, root: &alloy_primitives::B256) -> Result<Vec<FileRecord>, StoreError> {
        let seqs: Vec<u64> = {
            let txn = self.db.begin_read()?;
            let roots = txn.open_table(STORAGE_ROOTS)?;
            match roots.get(root.as_slice())? {
                Some(v) => borsh::from_slice(v.value()).map_err(|e| corrupt("root index", e))?,
                None => return Ok(Vec::new()),
            }
        };
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            out.extend(self.file(seq)?);
        }
        Ok(out)
    }

    /// Every recorded file, in submission order.
    pub fn files(&self) -> Result<Vec<FileRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_FILES)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            out.push(decode_file_record(bytes.value())?);
        }
        Ok(out)
    }

    /// The number of files recorded (the next submission index this node expects).
    pub fn next_tx_seq(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_FILES)?;
        Ok(table.last()?.map(|(k, _)| k.value() + 1).unwrap_or(0))
    }

    /// Segments held whole and erasure-coded shards held (the tables' lengths: no scan).
    pub fn held_counts(&self) -> Result<(u64, u64), StoreError> {
        let txn = self.db.begin_read()?;
        Ok((txn.open_table(STORAGE_SEGMENTS)?.len()?, txn.open_table(STORAGE_SHARDS)?.len()?))
    }

    /// Stores a segment and the proof it came with, durably. Returns false when it was already
    /// held (nothing written).
    pub fn put_segment(&self, tx_seq: u64, index: u64, data: &[u8], proof: &Proof) -> Result<bool, StoreError> {
        Ok(self.put_segments(&[(tx_seq, index, data, proof)])?[0])
    }

    /// Stores segments durably: their bytes (synced) first, then their index entries and proofs
    /// in one redb transaction; for each, whether it was new.
    pub fn put_segments(&self, segments: &[(u64, u64, &[u8], &Proof)]) -> Result<Vec<bool>, StoreError> {
        if let Some(files) = &self.segment_files {
            // Rewriting a held segment writes the same (root-checked) bytes: harmless.
            let fresh: Vec<(u64, u64, &[u8])> = {
                let txn = self.db.begin_read()?;
                let table = txn.open_table(STORAGE_SEGMENTS)?;
                let mut fresh = Vec::new();
                for (tx_seq, index, data, _) in segments {
                    if table.get((*tx_seq, *index))?.is_none() {
                        fresh.push((*tx_seq, *index, *data));
                    }
                }
                fresh
            };
            files
                .write(&fresh)
                .map_err(|source| StoreError::Io { what: "writing segment files".into(), source })?;
        }
        let txn = self.db.begin_write()?;
        let mut fresh = Vec::with_capacity(segments.len());
        for (tx_seq, index, data, proof) in segments {
            fresh.push(self.put_in(&txn, *tx_seq, *index, data, proof)?);
        }
        txn.commit()?;
        Ok(fresh)
    }

    /// Writes a held segment's bytes again (they were found damaged and rebuilt, checked against
    /// the root): the same length, in place, synced before this returns.
    pub fn rewrite_segment(&self, tx_seq: u64, index: u64, data: &[u8]) -> Result<(), StoreError> {
        match &self.segment_files {
            Some(files) => files
                .write(&[(tx_seq, index, data)])
                .map_err(|source| StoreError::Io { what: format!("rewriting segment {index} of tx seq {tx_seq}"), source }),
            None => {
                let txn = self.db.begin_write()?;
                txn.open_table(STORAGE_SEGMENTS)?.insert((tx_seq, index), data)?;
                txn.commit()?;
                Ok(())
            }
        }
    }

    fn put_in(&self, txn: &redb::WriteTransaction, tx_seq: u64, index: u64, data: &[u8], proof: &Proof) -> Result<bool, StoreError> {
        let mut table = txn.open_table(STORAGE_SEGMENTS)?;
        if table.get((tx_seq, index))?.is_some() {
            return Ok(false);
        }
        match &self.segment_files {
            Some(_) => table.insert((tx_seq, index), segment_files::location(data.len()).as_slice())?,
            None => table.insert((tx_seq, index), data)?,
        };
        let lemma: Vec<[u8; 32]> = proof.lemma.iter().map(|h| h.0).collect();
        let encoded = borsh::to_vec(&(lemma, proof.path.clone())).map_err(|e| corrupt("segment proof", e))?;
        txn.open_table(STORAGE_PROOFS)?.insert((tx_seq, index), encoded.as_slice())?;
        let mut held = txn.open_table(STORAGE_HELD)?;
        let count = held.get(tx_seq)?.map(|v| v.value()).unwrap_or(0);
        held.insert(tx_seq, count + 1)?;
        Ok(true)
    }

    pub fn segment_proof(&self, tx_seq: u64, index: u64) -> Result<Option<Proof>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_PROOFS)?;
        let Some(bytes) = table.get((tx_seq, index))? else { return Ok(None) };
        let (lemma, path): (Vec<[u8; 32]>, Vec<bool>) =
            borsh::from_slice(bytes.value()).map_err(|e| corrupt("segment proof", e))?;
        Ok(Some(Proof { lemma: lemma.into_iter().map(alloy_primitives::B256::from).collect(), path }))
    }

    pub fn segment(&self, tx_seq: u64, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let value = {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(STORAGE_SEGMENTS)?;
            let Some(value) = table.get((tx_seq, index))? else { return Ok(None) };
            value.value().to_vec()
        };
        match (&self.segment_files, segment_files::located_len(&value)) {
            (Some(files), Some(len)) => files
                .read(tx_seq, index, len)
                .map(Some)
                .map_err(|source| StoreError::Io { what: format!("reading segment {index} of tx seq {tx_seq}"), source }),
            (None, Some(_)) => Err(corrupt("segment", "a segment-file entry in a database without segment files")),
            (_, None) => Ok(Some(value)),
        }
    }

    /// How many segments of a file are held.
    pub fn segment_count(&self, tx_seq: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(STORAGE_HELD)?.get(tx_seq)?.map(|v| v.value()).unwrap_or(0))
    }
}

impl ChainStore {
    /// Keeps a shard placed on this node (durably). Returns false when it was held already (the
    /// first one placed is kept).
    pub fn put_shard(&self, shard: &zg_components::consensus::Shard) -> Result<bool, StoreError> {
        self.store_shard(shard, false)
    }

    /// Keeps a shard rebuilt here from a segment checked against the file root, replacing
    /// whatever was stored under its key (a poisoned parity shard a peer placed first).
    pub fn replace_shard(&self, shard: &zg_components::consensus::Shard) -> Result<(), StoreError> {
        self.store_shard(shard, true).map(|_| ())
    }

    /// Writes a shard in one transaction; returns whether its key was new.
    fn store_shard(&self, shard: &zg_components::consensus::Shard, replace: bool) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let fresh = {
            let mut shards = txn.open_table(STORAGE_SHARDS)?;
            let key = (shard.tx_seq, shard.segment, shard.index);
            let fresh = shards.get(key)?.is_none();
            if fresh {
                let first_of_segment = shards
                    .range((shard.tx_seq, shard.segment, 0)..=(shard.tx_seq, shard.segment, u8::MAX))?
                    .next()
                    .is_none();
                if first_of_segment {
                    let mut sharded = txn.open_table(STORAGE_SHARDED)?;
                    let count = sharded.get(shard.tx_seq)?.map(|v| v.value()).unwrap_or(0);
                    sharded.insert(shard.tx_seq, count + 1)?;
                }
            }
            if fresh || replace {
                let bytes = borsh::to_vec(shard).map_err(|e| corrupt("shard", e))?;
                shards.insert(key, bytes.as_slice())?;
            }
            fresh
        };
        txn.commit()?;
        Ok(fresh)
    }

    pub fn shard(&self, tx_seq: u64, segment: u64, index: u8) -> Result<Option<zg_components::consensus::Shard>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_SHARDS)?;
        let Some(bytes) = table.get((tx_seq, segment, index))? else { return Ok(None) };
        borsh::from_slice(bytes.value()).map(Some).map_err(|e| corrupt("shard", e))
    }

    /// The (segment, shard index) pairs held for segments `first..end` of a file: one read
    /// transaction, keys only (no shard is decoded).
    pub fn held_shards(&self, tx_seq: u64, first: u64, end: u64) -> Result<std::collections::BTreeSet<(u64, u8)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_SHARDS)?;
        let mut held = std::collections::BTreeSet::new();
        if end <= first {
            return Ok(held);
        }
        for entry in table.range((tx_seq, first, 0)..=(tx_seq, end - 1, u8::MAX))? {
            let (key, _) = entry?;
            let (_, segment, index) = key.value();
            held.insert((segment, index));
        }
        Ok(held)
    }

    /// Shards of a file this node holds (a key-range count: no shard is decoded).
    pub fn shard_count(&self, tx_seq: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STORAGE_SHARDS)?;
        let mut count = 0;
        for entry in table.range((tx_seq, 0, 0)..=(tx_seq, u64::MAX, u8::MAX))? {
            entry?;
            count += 1;
        }
        Ok(count)
    }

    /// Segments of a file this node holds a shard of.
    pub fn sharded_segments(&self, tx_seq: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(STORAGE_SHARDED)?.get(tx_seq)?.map(|v| v.value()).unwrap_or(0))
    }
}

impl FileStore for ChainStore {
    fn record_files(&self, files: &[FileRecord], miners: &[MinerRecord], through_block: u64) -> Result<(), PersistError> {
        self.write_files(files, miners, through_block).map_err(PersistError::store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    fn round_trip(store: &ChainStore) {
        let proof = Proof { lemma: vec![B256::repeat_byte(1)], path: vec![] };
        let (a, b) = (vec![5u8; 512], vec![6u8; 256]);
        assert_eq!(store.put_segments(&[(3, 0, &a, &proof), (3, 2, &b, &proof)]).unwrap(), vec![true, true]);
        assert_eq!(store.put_segments(&[(3, 0, &b, &proof), (3, 1, &b, &proof)]).unwrap(), vec![false, true], "held ones are not replaced");
        assert_eq!(store.segment(3, 0).unwrap(), Some(a));
        assert_eq!(store.segment(3, 2).unwrap(), Some(b));
        assert_eq!(store.segment(3, 9).unwrap(), None);
        assert_eq!(store.segment_count(3).unwrap(), 3);
        assert_eq!(store.segment_proof(3, 1).unwrap(), Some(proof));
    }

    #[test]
    fn segments_round_trip_in_files_beside_the_database_and_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(&dir.path().join("chain.redb")).unwrap();
        round_trip(&store);
        assert!(dir.path().join("segments/3.seg").exists(), "bytes live beside the database");
        drop(store);
        let reopened = ChainStore::open(&dir.path().join("chain.redb")).unwrap();
        assert_eq!(reopened.segment(3, 2).unwrap(), Some(vec![6u8; 256]));
        round_trip(&ChainStore::in_memory().unwrap());
    }

    #[test]
    fn miner_records_survive_a_reopen_and_later_ones_replace_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let store = ChainStore::open(&path).unwrap();
        let registered = MinerRecord { miner: [1; 20], node: [2; 32], settled: None };
        let penalized = MinerRecord { settled: Some((4, true)), ..registered.clone() };
        let other = MinerRecord { miner: [3; 20], node: [0; 32], settled: Some((4, false)) };
        store.write_files(&[], &[registered], 10).unwrap();
        store.write_files(&[], &[penalized.clone(), other.clone()], 11).unwrap();
        drop(store);
        let records = ChainStore::open(&path).unwrap().miner_records().unwrap();
        assert_eq!(records.0.values().cloned().collect::<Vec<_>>(), vec![penalized, other]);
    }
}
