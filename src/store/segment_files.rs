//! Segment bytes in plain files beside the database, one file per published file
//! (`segments/<tx seq>.seg`, segment `i` at byte `i × 256 KiB`), with the index in redb.
//! Large values in redb's copy-on-write pages cost about twice their size in writes and grow the
//! database file; here each byte is written once. The bytes are synced before the index entry
//! that acknowledges them is committed, so an acknowledged segment is always intact, and a write
//! the index never recorded is simply written again by the next upload of that segment.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use zg_components::storage::merkle::SEGMENT_SIZE;

/// Open files kept at most; more are closed and reopened on use.
const OPEN_FILES: usize = 256;

pub struct SegmentFiles {
    dir: PathBuf,
    open: Mutex<HashMap<u64, Arc<File>>>,
}

impl SegmentFiles {
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        // The folder's own entry must survive a power cut too.
        if let Some(parent) = dir.parent() {
            super::durable::sync_dir(parent)?;
        }
        Ok(Self { dir: dir.to_path_buf(), open: Mutex::new(HashMap::new()) })
    }

    /// The open file for `tx_seq`, created if need be; `created` says whether it is new (its
    /// directory entry is not durable until the folder is synced).
    fn file(&self, tx_seq: u64) -> std::io::Result<Arc<File>> {
        self.file_tracking(tx_seq).map(|(file, _)| file)
    }

    fn file_tracking(&self, tx_seq: u64) -> std::io::Result<(Arc<File>, bool)> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = open.get(&tx_seq) {
            return Ok((file.clone(), false));
        }
        if open.len() >= OPEN_FILES {
            open.clear();
        }
        let path = self.dir.join(format!("{tx_seq}.seg"));
        let created = !path.exists();
        let file = Arc::new(OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?);
        open.insert(tx_seq, file.clone());
        Ok((file, created))
    }

    /// Writes segments and syncs every file written to (and the folder, when a file is new).
    pub fn write(&self, segments: &[(u64, u64, &[u8])]) -> std::io::Result<()> {
        let mut touched: HashMap<u64, Arc<File>> = HashMap::new();
        let mut any_created = false;
        for (tx_seq, index, data) in segments {
            let (file, created) = self.file_tracking(*tx_seq)?;
            any_created |= created;
            file.write_all_at(data, offset(*index)?)?;
            touched.insert(*tx_seq, file);
        }
        for file in touched.values() {
            file.sync_data()?;
        }
        if any_created {
            super::durable::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    pub fn read(&self, tx_seq: u64, index: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut data = vec![0; len];
        self.file(tx_seq)?.read_exact_at(&mut data, offset(index)?)?;
        Ok(data)
    }
}

fn offset(index: u64) -> std::io::Result<u64> {
    index
        .checked_mul(SEGMENT_SIZE as u64)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "segment index out of range"))
}

/// What `storage_segments` holds for a segment kept in a file: its length, as 4 bytes. Inline
/// segments (in-memory databases, and databases written before segment files) are whole
/// multiples of a 256-byte chunk, so the two never collide.
pub fn location(len: usize) -> [u8; 4] {
    (len as u32).to_le_bytes()
}

pub fn located_len(value: &[u8]) -> Option<usize> {
    <[u8; 4]>::try_from(value).ok().map(|bytes| u32::from_le_bytes(bytes) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_land_at_their_offsets_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = SegmentFiles::create(&dir.path().join("segments")).unwrap();
        let (a, b) = (vec![1u8; SEGMENT_SIZE], vec![2u8; 512]);
        files.write(&[(7, 3, &b), (7, 0, &a), (9, 0, &b)]).unwrap();
        assert_eq!(files.read(7, 0, SEGMENT_SIZE).unwrap(), a);
        assert_eq!(files.read(7, 3, 512).unwrap(), b);
        assert_eq!(files.read(9, 0, 512).unwrap(), b);
        assert!(files.read(9, 1, 512).is_err(), "past the end");
        assert!(files.read(9, u64::MAX, 1).is_err());
        assert_eq!(located_len(&location(512)), Some(512));
        assert_eq!(located_len(&[0; 256]), None);
    }
}
