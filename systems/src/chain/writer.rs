//! Committing blocks beside execution: on the dev chain, block N's redb commit runs on a thread of
//! its own while the world executes block N+1.
//!
//! What stays true: a block is announced (and its receipts readable, since RPC reads redb) only
//! after its commit; a commit that fails stops the node before anything later is announced; at
//! most [`MAX_BLOCKS_IN_FLIGHT`] blocks wait for their commit, so the world is never further
//! ahead of the disk than that, and a crash loses only blocks nobody was told about. Validator
//! networks do not use it: there a block is persisted before the next height's votes.

use alloy_consensus::TxEnvelope;
use alloy_primitives::{Address, B256};
use bevy_ecs::prelude::*;
use std::collections::VecDeque;
use std::sync::Arc;

use zg_components::chain::CommittedBlock;

use super::fault::{Fault, NodeFault};
use crate::ports::{BlockStore, PersistError};

/// Blocks sealed but not yet committed, at most. A host ticking at 60 Hz seals a block every
/// 16.7 ms while one fsync here takes longer, so the writer commits what queued meanwhile in one
/// write (group commit); the bound is how far the world may run ahead of the disk (133 ms of
/// blocks at 60 Hz, announced only once committed) before the tick waits.
pub const MAX_BLOCKS_IN_FLIGHT: usize = 8;

#[derive(Resource)]
pub struct BlockWriter {
    blocks: Option<crossbeam_channel::Sender<Arc<CommittedBlock>>>,
    done: crossbeam_channel::Receiver<Result<u64, PersistError>>,
    thread: Option<std::thread::JoinHandle<()>>,
    in_flight: VecDeque<Arc<CommittedBlock>>,
    /// Committed and not yet announced, in order.
    committed: Vec<Arc<CommittedBlock>>,
    /// A commit failed: nothing more is taken.
    failed: Option<PersistError>,
}

impl BlockWriter {
    /// Starts the writer thread over `store`.
    pub fn spawn(store: Arc<dyn BlockStore>) -> std::io::Result<Self> {
        let (blocks, queue) = crossbeam_channel::bounded::<Arc<CommittedBlock>>(MAX_BLOCKS_IN_FLIGHT);
        let (report, done) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new().name("zgnode-block-writer".into()).spawn(move || {
            for block in queue.iter() {
                let mut batch = vec![block];
                while let Ok(more) = queue.try_recv() {
                    batch.push(more);
                }
                match store.commit_blocks(&batch) {
                    Ok(()) => {
                        for block in &batch {
                            if report.send(Ok(block.header.number)).is_err() {
                                return;
                            }
                        }
                    }
                    Err(error) => {
                        let _ = report.send(Err(error));
                        return;
                    }
                }
            }
        })?;
        Ok(Self { blocks: Some(blocks), done, thread: Some(thread), in_flight: VecDeque::new(), committed: Vec::new(), failed: None })
    }

    /// Hands a sealed block to the writer, first waiting for commits while too many are pending.
    pub fn submit(&mut self, block: Arc<CommittedBlock>) -> Result<(), PersistError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        while self.in_flight.len() >= MAX_BLOCKS_IN_FLIGHT {
            self.wait_for_one()?;
        }
        let sender = self.blocks.as_ref().ok_or_else(|| PersistError::WriterStopped)?;
        sender.send(block.clone()).map_err(|_| PersistError::WriterStopped)?;
        self.in_flight.push_back(block);
        Ok(())
    }

    /// Where finished commits arrive (a clone, for a loop that waits for them; [`Self::collect`]
    /// takes them).
    pub fn finished_commits(&self) -> crossbeam_channel::Receiver<Result<u64, PersistError>> {
        self.done.clone()
    }

    /// Takes the commits that have finished, without waiting.
    pub fn collect(&mut self) -> Result<(), PersistError> {
        while let Ok(result) = self.done.try_recv() {
            self.finish(result)?;
        }
        Ok(())
    }

    /// Waits until every handed block is committed.
    pub fn drain(&mut self) -> Result<(), PersistError> {
        while !self.in_flight.is_empty() {
            self.wait_for_one()?;
        }
        Ok(())
    }

    fn wait_for_one(&mut self) -> Result<(), PersistError> {
        let result = self.done.recv().map_err(|_| PersistError::WriterStopped)?;
        self.finish(result)
    }

    fn finish(&mut self, result: Result<u64, PersistError>) -> Result<(), PersistError> {
        let number = result.inspect_err(|error| self.failed = Some(error.clone()))?;
        let block = self.in_flight.pop_front().ok_or(PersistError::Unexpected(number))?;
        debug_assert_eq!(block.header.number, number, "commits finish in order");
        let (txs, gas) = (block.transactions.len(), block.header.gas_used);
        if txs > 0 {
            tracing::info!(number, txs, gas, hash = %block.hash, "sealed block");
        } else {
            tracing::debug!(number, hash = %block.hash, "sealed empty block");
        }
        self.committed.push(block);
        Ok(())
    }

    /// Committed blocks to announce, in order.
    pub fn take_committed(&mut self) -> Vec<Arc<CommittedBlock>> {
        std::mem::take(&mut self.committed)
    }

    /// Whether every sealed block is on disk.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// A transaction of a block still being committed (no longer pooled, not yet readable).
    pub fn pending_transaction(&self, hash: &B256) -> Option<(TxEnvelope, Address)> {
        self.in_flight
            .iter()
            .flat_map(|block| block.transactions.iter())
            .find(|(tx, _)| tx.tx_hash() == hash)
            .cloned()
    }
}

/// Waits until the world's blocks are all committed (when the dev chain's writer runs); a
/// failed commit stops the node as it would at `Egress`.
pub fn settle(world: &mut World) {
    let Some(mut writer) = world.get_resource_mut::<BlockWriter>() else { return };
    if let Err(error) = writer.drain() {
        tracing::error!(%error, "stopping: block not persisted");
        world.resource_mut::<NodeFault>().0 = Some(Fault::BlockNotPersisted(error));
    }
}

impl Drop for BlockWriter {
    /// Lets the writer finish what it was handed, so a clean stop loses nothing.
    fn drop(&mut self) {
        self.blocks.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Commits slowly, records the order, and fails at one block number.
    struct SlowStore {
        committed: Mutex<Vec<u64>>,
        fail_at: Option<u64>,
    }

    impl BlockStore for SlowStore {
        fn commit_block(&self, block: &CommittedBlock) -> Result<(), PersistError> {
            std::thread::sleep(Duration::from_millis(5));
            if Some(block.header.number) == self.fail_at {
                return Err(PersistError::store(std::io::Error::other("disk full")));
            }
            self.committed.lock().unwrap().push(block.header.number);
            Ok(())
        }
    }

    fn block(number: u64) -> Arc<CommittedBlock> {
        let header = alloy_consensus::Header { number, ..Default::default() };
        Arc::new(CommittedBlock {
            hash: header.hash_slow(),
            header,
            transactions: Vec::new(),
            receipts: Vec::new(),
            changes: Vec::new(),
            decided: None,
        })
    }

    #[test]
    fn commits_run_in_order_with_a_bounded_lead_and_a_stop_finishes_them() {
        let store = Arc::new(SlowStore { committed: Mutex::new(Vec::new()), fail_at: None });
        let mut writer = BlockWriter::spawn(store.clone()).unwrap();
        for number in 1..=6 {
            writer.submit(block(number)).unwrap();
            assert!(writer.in_flight.len() <= MAX_BLOCKS_IN_FLIGHT, "the world is never far ahead of the disk");
        }
        writer.drain().unwrap();
        let announced: Vec<u64> = writer.take_committed().iter().map(|b| b.header.number).collect();
        assert_eq!(announced, vec![1, 2, 3, 4, 5, 6]);
        writer.submit(block(7)).unwrap();
        drop(writer);
        assert_eq!(*store.committed.lock().unwrap(), vec![1, 2, 3, 4, 5, 6, 7], "dropping the writer finishes its commits");
    }

    #[test]
    fn a_failed_commit_is_reported_and_nothing_after_it_is_announced() {
        let store = Arc::new(SlowStore { committed: Mutex::new(Vec::new()), fail_at: Some(2) });
        let mut writer = BlockWriter::spawn(store).unwrap();
        writer.submit(block(1)).unwrap();
        writer.drain().unwrap();
        writer.submit(block(2)).unwrap();
        let error = writer.drain().unwrap_err();
        assert!(error.to_string().contains("disk full"), "{error}");
        let announced: Vec<u64> = writer.take_committed().iter().map(|b| b.header.number).collect();
        assert_eq!(announced, vec![1]);
        assert!(writer.submit(block(3)).is_err(), "the writer stopped at the failure");
    }

    /// Holds each commit until the test lets it through, and records what came together.
    struct GatedStore {
        gate: crossbeam_channel::Receiver<()>,
        batches: Mutex<Vec<Vec<u64>>>,
    }

    impl BlockStore for GatedStore {
        fn commit_block(&self, block: &CommittedBlock) -> Result<(), PersistError> {
            self.commit_blocks(&[Arc::new(block.clone())])
        }

        fn commit_blocks(&self, blocks: &[Arc<CommittedBlock>]) -> Result<(), PersistError> {
            let _ = self.gate.recv();
            self.batches.lock().unwrap().push(blocks.iter().map(|b| b.header.number).collect());
            Ok(())
        }
    }

    #[test]
    fn blocks_that_queue_behind_a_slow_commit_are_committed_together() {
        let (open, gate) = crossbeam_channel::unbounded();
        let store = Arc::new(GatedStore { gate, batches: Mutex::new(Vec::new()) });
        let mut writer = BlockWriter::spawn(store.clone()).unwrap();
        for number in 1..=5 {
            writer.submit(block(number)).unwrap();
        }
        for _ in 0..5 {
            open.send(()).unwrap();
        }
        writer.drain().unwrap();
        let announced: Vec<u64> = writer.take_committed().iter().map(|b| b.header.number).collect();
        assert_eq!(announced, vec![1, 2, 3, 4, 5], "announced in order, each once");
        let batches = store.batches.lock().unwrap().clone();
        assert_eq!(batches.concat(), vec![1, 2, 3, 4, 5]);
        // Everything submitted while the first commit was held goes in at most one more write.
        assert!(batches.len() <= 2, "{batches:?}");
    }
}
