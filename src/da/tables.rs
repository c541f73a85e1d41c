//! What a DA node keeps in redb: each blob's axis roots and the rows and columns it was given,
//! every one checked against its root before it is written. An axis is kept as its first `k`
//! shares (its other `k` are their Reed–Solomon parity, recomputed when it is read): half the
//! disk writes of keeping it whole. Pieces are acknowledged (and an
//! attestation signed) only after their write transaction committed, so a node killed
//! mid-dispersal restarts with everything it acknowledged.

use redb::{ReadableDatabase, ReadableTable};
use std::collections::BTreeSet;

use zg_components::da::Axis;
use zg_components::da::piece::{axis_code, axis_from_code};

use crate::store::tables::{DA_AXES, DA_PENDING, DA_ROOTS};
use crate::store::{ChainStore, StoreError};

fn corrupt(detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what: "DA piece", detail: detail.into() }
}

fn axis_key(data_root: &[u8; 32], axis: Axis, index: u32) -> [u8; 37] {
    let mut key = [0u8; 37];
    key[..32].copy_from_slice(data_root);
    key[32] = axis_code(axis);
    key[33..].copy_from_slice(&index.to_be_bytes());
    key
}

/// A blob accepted for dispersal: its data root and its bytes.
pub type PendingBlob = ([u8; 32], Vec<u8>);

/// A blob's `k` and its `4k` axis roots (rows, then columns).
pub type KeptRoots = (u32, Vec<[u8; 32]>);

impl ChainStore {
    /// Keeps checked axes of a blob (their first `k` shares; and its roots, the first time) in
    /// one transaction; returns how many of the blob's axes are held afterwards.
    pub fn put_da_axes(&self, data_root: &[u8; 32], k: u32, roots: &[[u8; 32]], axes: &[(Axis, u32, Vec<u8>)]) -> Result<u32, StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut root_table = txn.open_table(DA_ROOTS)?;
            if root_table.get(data_root.as_slice())?.is_none() {
                let mut value = k.to_be_bytes().to_vec();
                roots.iter().for_each(|r| value.extend_from_slice(r));
                root_table.insert(data_root.as_slice(), value.as_slice())?;
            }
            let mut table = txn.open_table(DA_AXES)?;
            let half = k as usize * zg_components::da::SHARE_SIZE;
            for (axis, index, shares) in axes {
                let kept = shares.get(..half).ok_or_else(|| corrupt("an axis shorter than its k shares"))?;
                table.insert(axis_key(data_root, *axis, *index).as_slice(), kept)?;
            }
        }
        txn.commit()?;
        Ok(self.da_held(data_root)?.len() as u32)
    }

    /// A blob's `k` and axis roots, when this node keeps any of it.
    pub fn da_roots(&self, data_root: &[u8; 32]) -> Result<Option<KeptRoots>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DA_ROOTS)?;
        let Some(value) = table.get(data_root.as_slice())? else { return Ok(None) };
        let value = value.value();
        if value.len() < 4 || (value.len() - 4) % 32 != 0 {
            return Err(corrupt("axis roots of a bad length"));
        }
        let k = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
        let roots = value[4..].chunks(32).map(|c| c.try_into().unwrap_or([0; 32])).collect();
        Ok(Some((k, roots)))
    }

    /// One kept axis: its `2k` shares (the parity half recomputed from the kept half).
    pub fn da_axis(&self, data_root: &[u8; 32], axis: Axis, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((k, _)) = self.da_roots(data_root)? else { return Ok(None) };
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DA_AXES)?;
        let Some(kept) = table.get(axis_key(data_root, axis, index).as_slice())? else { return Ok(None) };
        let layout = zg_components::da::SquareLayout { k: k as usize };
        let mut shares: Vec<Option<&[u8]>> = kept.value().chunks(zg_components::da::SHARE_SIZE).map(Some).collect();
        if shares.len() != layout.k {
            return Err(corrupt("a kept axis of the wrong length"));
        }
        shares.resize(layout.width(), None);
        zg_systems::da::encoding::rebuild_axis(layout, axis, index as usize, &shares).map(Some).map_err(|e| corrupt(e.to_string()))
    }

    /// Keeps a blob this node's disperser accepted until its dispersal ends (durable before the
    /// request is acknowledged).
    pub fn put_da_pending(&self, data_root: &[u8; 32], blob: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(DA_PENDING)?.insert(data_root.as_slice(), blob)?;
        txn.commit()?;
        Ok(())
    }

    pub fn remove_da_pending(&self, data_root: &[u8; 32]) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(DA_PENDING)?.remove(data_root.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The roots of the blobs accepted and not through dispersal, without their bytes.
    pub fn da_pending_roots(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        self.roots_keying(DA_PENDING, "a pending blob key that is not a data root")
    }

    /// The data roots that key `table` (its keys only).
    fn roots_keying(&self, table: redb::TableDefinition<&[u8], &[u8]>, bad_key: &'static str) -> Result<Vec<[u8; 32]>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(table)?;
        let mut roots = Vec::new();
        for entry in table.iter()? {
            let (key, _) = entry?;
            roots.push(key.value().try_into().map_err(|_| corrupt(bad_key))?);
        }
        Ok(roots)
    }

    /// Blobs accepted and not through dispersal (what a restart resumes).
    pub fn da_pending(&self) -> Result<Vec<PendingBlob>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DA_PENDING)?;
        let mut pending = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let root: [u8; 32] = key.value().try_into().map_err(|_| corrupt("a pending blob key that is not a data root"))?;
            pending.push((root, value.value().to_vec()));
        }
        Ok(pending)
    }

    /// Every blob this node keeps pieces of.
    pub fn da_kept_roots(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        self.roots_keying(DA_ROOTS, "a kept blob key that is not a data root")
    }

    /// Forgets a blob's pieces and roots (pruned: its sampling window is over, or it failed).
    pub fn remove_da_blob(&self, data_root: &[u8; 32]) -> Result<(), StoreError> {
        let held = self.da_held(data_root)?;
        let txn = self.db.begin_write()?;
        {
            let mut axes = txn.open_table(DA_AXES)?;
            for (axis, index) in held {
                axes.remove(axis_key(data_root, axis, index).as_slice())?;
            }
            txn.open_table(DA_ROOTS)?.remove(data_root.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The axes of a blob this node keeps (keys only).
    pub fn da_held(&self, data_root: &[u8; 32]) -> Result<BTreeSet<(Axis, u32)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DA_AXES)?;
        let first = axis_key(data_root, Axis::Row, 0);
        let last = axis_key(data_root, Axis::Column, u32::MAX);
        let mut held = BTreeSet::new();
        for entry in table.range(first.as_slice()..=last.as_slice())? {
            let (key, _) = entry?;
            let key = key.value();
            let axis = axis_from_code(key[32]).ok_or_else(|| corrupt("an axis key with a bad axis code"))?;
            held.insert((axis, u32::from_be_bytes([key[33], key[34], key[35], key[36]])));
        }
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_kept_per_blob_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let root = [3u8; 32];
        let other = [4u8; 32];
        {
            let store = ChainStore::open(&path).unwrap();
            assert_eq!(store.da_roots(&root).unwrap(), None);
            let held = store.put_da_axes(&root, 1, &[[1; 32]; 4], &[(Axis::Row, 1, vec![9; 512]), (Axis::Column, 0, vec![8; 512])]).unwrap();
            assert_eq!(held, 2);
            store.put_da_axes(&other, 1, &[[2; 32]; 4], &[(Axis::Row, 0, vec![7; 512])]).unwrap();
        }
        let store = ChainStore::open(&path).unwrap();
        assert_eq!(store.da_roots(&root).unwrap(), Some((1, vec![[1; 32]; 4])));
        assert_eq!(store.da_held(&root).unwrap(), BTreeSet::from([(Axis::Row, 1), (Axis::Column, 0)]));
        // Kept as the first share; read back as the whole axis, its parity recomputed.
        let whole = store.da_axis(&root, Axis::Row, 1).unwrap().unwrap();
        assert_eq!(whole.len(), 512);
        assert_eq!(&whole[..256], &[9u8; 256][..]);
        assert_eq!(store.da_axis(&root, Axis::Row, 0).unwrap(), None);
        store.put_da_pending(&root, b"blob").unwrap();
        assert_eq!(store.da_pending().unwrap(), vec![(root, b"blob".to_vec())]);
        assert_eq!(store.da_pending_roots().unwrap(), vec![root]);
        store.remove_da_pending(&root).unwrap();
        assert!(store.da_pending().unwrap().is_empty());
        assert_eq!(store.da_kept_roots().unwrap(), vec![root, other]);
        store.remove_da_blob(&root).unwrap();
        assert_eq!((store.da_roots(&root).unwrap(), store.da_held(&root).unwrap().len()), (None, 0));
        assert_eq!(store.da_kept_roots().unwrap(), vec![other], "the other blob stays");
    }
}
