//! A redb storage backend that can lose power: writes land in a volatile image (what the page
//! cache holds) and reach the durable image (what the disk holds) only when redb syncs. Cutting
//! power keeps the durable image alone, as a machine that loses power mid-write does. Crash tests
//! with SIGKILL keep the page cache and cannot show a missing fsync; this can.

use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Images {
    volatile: Vec<u8>,
    durable: Vec<u8>,
    syncs: u64,
}

/// A backend whose state is shared with its handle (`cut_power` reads the durable image).
#[derive(Debug, Clone, Default)]
pub struct PowerCutBackend(Arc<Mutex<Images>>);

impl PowerCutBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// The disk after a power cut: only what was synced, as a fresh backend.
    pub fn cut_power(&self) -> Self {
        let images = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let durable = images.durable.clone();
        Self(Arc::new(Mutex::new(Images { volatile: durable.clone(), durable, syncs: 0 })))
    }

    /// Syncs redb asked for so far.
    pub fn syncs(&self) -> u64 {
        self.0.lock().map(|i| i.syncs).unwrap_or(0)
    }

    fn images(&self) -> std::io::Result<std::sync::MutexGuard<'_, Images>> {
        self.0.lock().map_err(|_| std::io::Error::other("backend lock poisoned"))
    }
}

impl redb::StorageBackend for PowerCutBackend {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.images()?.volatile.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let images = self.images()?;
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let end = start.checked_add(out.len()).filter(|end| *end <= images.volatile.len());
        let end = end.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(&images.volatile[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        self.images()?.volatile.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        let mut images = self.images()?;
        images.durable = images.volatile.clone();
        images.syncs += 1;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut images = self.images()?;
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let end = start + data.len();
        if images.volatile.len() < end {
            images.volatile.resize(end, 0);
        }
        images.volatile[start..end].copy_from_slice(data);
        Ok(())
    }
}
