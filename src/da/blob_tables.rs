//! The DA systems' blob records (one per data root the entrance registered), written in the
//! tick's `Persist` with the highest block they reflect, so a restart rebuilds every blob entity
//! as it was (`zg_systems::da::blobs::replay_entrance_events` brings them up to the head).

use redb::{ReadableDatabase, ReadableTable};

use zg_components::da::DaBlob;
use zg_systems::ports::{DaBlobStore, PersistError};

use crate::store::tables::{DA_BLOBS, DA_INDEXED_KEY, META};
use crate::store::{ChainStore, StoreError};

impl ChainStore {
    /// Every kept blob record and the last block they reflect (`None`: never written).
    pub fn da_blobs(&self) -> Result<(Vec<DaBlob>, Option<u64>), StoreError> {
        let txn = self.db.begin_read()?;
        let indexed = txn.open_table(META)?.get(DA_INDEXED_KEY)?.map(|v| v.value());
        let table = txn.open_table(DA_BLOBS)?;
        let mut blobs = Vec::new();
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            let blob = serde_json::from_slice(bytes.value())
                .map_err(|e| StoreError::Corrupt { what: "DA blob record", detail: e.to_string() })?;
            blobs.push(blob);
        }
        Ok((blobs, indexed))
    }

    /// Keeps `blobs` (replacing earlier records of the same roots) as of `through_block`.
    pub fn write_da_blobs(&self, blobs: &[DaBlob], through_block: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(DA_BLOBS)?;
            for blob in blobs {
                let bytes = serde_json::to_vec(blob).map_err(|e| StoreError::Corrupt { what: "DA blob record", detail: e.to_string() })?;
                table.insert(blob.data_root.as_slice(), bytes.as_slice())?;
            }
            txn.open_table(META)?.insert(DA_INDEXED_KEY, through_block)?;
        }
        txn.commit()?;
        Ok(())
    }
}

impl DaBlobStore for ChainStore {
    fn record_blobs(&self, blobs: &[DaBlob], through_block: u64) -> Result<(), PersistError> {
        self.write_da_blobs(blobs, through_block).map_err(PersistError::store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;
    use zg_components::da::BlobStatus;

    #[test]
    fn blob_records_survive_a_reopen_and_later_ones_replace_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let store = ChainStore::open(&path).unwrap();
        assert_eq!(store.da_blobs().unwrap(), (vec![], None));
        let mut blob = DaBlob {
            data_root: B256::repeat_byte(7),
            submitter: [1; 20],
            epoch: 3,
            quorum: 0,
            uploaded_at: 10,
            confirmed_at: None,
            status: BlobStatus::Processing,
        };
        store.write_da_blobs(&[blob.clone()], 10).unwrap();
        blob.status = BlobStatus::Confirmed;
        blob.confirmed_at = Some(12);
        store.write_da_blobs(&[blob.clone()], 12).unwrap();
        drop(store);
        let reopened = ChainStore::open(&path).unwrap();
        assert_eq!(reopened.da_blobs().unwrap(), (vec![blob], Some(12)));
    }
}
