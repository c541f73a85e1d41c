//! The disk cost per block of keeping state history.

use super::*;

/// What keeping state history costs on disk: the same blocks of transfers written with every
/// block's history kept (archive) and with one block's, database file sizes compared.
#[derive(Clone, Debug)]
pub struct HistoryReport {
    pub blocks: usize,
    pub per_block: usize,
    pub archive_bytes: u64,
    pub minimal_bytes: u64,
    pub archive_ms_per_block: f64,
    pub minimal_ms_per_block: f64,
}

impl HistoryReport {
    /// Disk per block that archive mode adds.
    pub fn history_bytes_per_block(&self) -> f64 {
        (self.archive_bytes as f64 - self.minimal_bytes as f64) / self.blocks as f64
    }
}

pub fn history_cost(blocks: usize, per_block: usize, senders: usize) -> HistoryReport {
    let senders = senders.clamp(1, per_block);
    let fixture = fixture(Workload::EthTransfers, blocks * per_block, senders);
    let run = |policy: crate::store::HistoryPolicy| -> (u64, f64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = prepared_node_with(&fixture, dir.path(), policy);
        let started = Instant::now();
        for (index, chunk) in fixture.txs.chunks(per_block).enumerate() {
            for (tx, sender) in chunk {
                mempool::admit(node.world_mut(), tx.clone(), *sender).expect("admitted");
            }
            let block = producer::seal_block(node.world_mut(), 10 + index as u64);
            node.store().write_block(&block).expect("persisted");
        }
        let elapsed = started.elapsed().as_secs_f64() * 1e3 / blocks as f64;
        drop(node);
        let size = std::fs::metadata(dir.path().join("bench.redb")).map(|m| m.len()).unwrap_or_default();
        (size, elapsed)
    };
    let (minimal_bytes, minimal_ms_per_block) = run(crate::store::HistoryPolicy::recent(1));
    let (archive_bytes, archive_ms_per_block) = run(crate::store::HistoryPolicy::archive());
    HistoryReport { blocks, per_block, archive_bytes, minimal_bytes, archive_ms_per_block, minimal_ms_per_block }
}
