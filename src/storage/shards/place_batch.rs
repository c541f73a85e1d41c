//! Placing segments in batches when the node has a GPU: `Place` work queues here, and one
//! thread takes whatever is queued (up to [`MAX_BATCH`] segments), codes the parity of every
//! whole segment in one `encode_segments` call (one GPU launch sequence once the batch reaches
//! `gpu.min_erasure_kib`), and cuts and sends the shards as one-segment placement does. Without
//! a GPU, placement stays one segment per rayon task (`ShardWorker::run`).

use zg_components::consensus::Shard;
use zg_components::storage::shard::HolderKey;
use zg_components::storage::{FileRecord, Proof};
use zg_systems::erasure::accel::Accelerator;
use zg_systems::storage::erasure::{self, ErasureConfig};

use super::{ShardWorker, cut_shards_with_parity};

/// Segments one batch takes at most (64 × 256 KiB = 16 MiB of originals).
pub const MAX_BATCH: usize = 64;

pub struct PlaceJob {
    pub tx_seq: u64,
    pub segment: u64,
    pub holders: Vec<HolderKey>,
}

/// A segment ready to cut: its file, bytes and proof.
pub struct Loaded {
    pub record: FileRecord,
    pub segment: u64,
    pub data: Vec<u8>,
    pub proof: Proof,
}

/// Starts the batching thread for `worker`; the sender ends it when dropped.
pub fn start(worker: ShardWorker) -> std::io::Result<crossbeam_channel::Sender<PlaceJob>> {
    let (sender, receiver) = crossbeam_channel::unbounded::<PlaceJob>();
    std::thread::Builder::new().name("zg-place-batch".into()).spawn(move || {
        while let Ok(first) = receiver.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            place_batch(&worker, jobs);
        }
    })?;
    Ok(sender)
}

fn place_batch(worker: &ShardWorker, jobs: Vec<PlaceJob>) {
    let mut loaded = Vec::with_capacity(jobs.len());
    let mut holders = Vec::with_capacity(jobs.len());
    for job in jobs {
        match worker.load_segment(job.tx_seq, job.segment) {
            Ok(segment) => {
                loaded.push(segment);
                holders.push(job.holders);
            }
            // Nothing is lost: the holders' repair rebuilds what did not arrive.
            Err(error) => tracing::warn!(%error, seq = job.tx_seq, segment = job.segment, "placing shards failed"),
        }
    }
    for (segment, (shards, holders)) in loaded.iter().zip(cut_batch(&worker.accelerator, worker.placement.config(), &loaded).into_iter().zip(holders)) {
        let sent = shards.map_err(anyhow::Error::from).and_then(|shards| worker.send_shards(segment.record.tx_seq, segment.segment, shards, &holders));
        if let Err(error) = sent {
            tracing::warn!(%error, seq = segment.record.tx_seq, segment = segment.segment, "placing shards failed");
        }
    }
}

/// Every segment's shards, as `cut_shards` gives them, their parity coded together by
/// `encode_segments` (full segments of one length in one GPU batch when it takes it).
pub fn cut_batch(accelerator: &Accelerator, config: ErasureConfig, segments: &[Loaded]) -> Vec<Result<Vec<Shard>, erasure::ErasureError>> {
    let data: Vec<&[u8]> = segments.iter().map(|s| s.data.as_slice()).collect();
    match erasure::encode_segments_on(accelerator, config, &data) {
        Ok(parities) => segments.iter().zip(parities).map(|(s, parity)| cut_shards_with_parity(config, &s.record, s.segment, &s.data, &s.proof, parity)).collect(),
        Err(error) => segments.iter().map(|_| Err(error.clone())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use zg_components::storage::merkle::{self, FileCommitment};
    use zg_systems::erasure::program::Program;
    use zg_systems::ports::ErasureAccelerator;

    use super::*;
    use crate::storage::cut_shards;

    static ROUTED: AtomicBool = AtomicBool::new(false);
    static BATCHES: AtomicUsize = AtomicUsize::new(0);

    /// The kernels' CPU twin standing in for the GPU (only while a test routes to it; any other
    /// test in this process gets reed-solomon-simd, and would get the same shards anyway).
    struct Twin;

    impl ErasureAccelerator for Twin {
        fn wants(&self, bytes: usize) -> bool {
            ROUTED.load(Ordering::SeqCst) && bytes >= 1 << 20
        }

        fn run(&self, program: &Program, inputs: &[u8]) -> Result<Vec<u8>, zg_systems::ports::AcceleratorError> {
            BATCHES.fetch_add(1, Ordering::SeqCst);
            zg_systems::erasure::twin::run_batch(program, inputs).map_err(|e| zg_systems::ports::AcceleratorError::Program(Box::new(e)))
        }
    }

    /// Five full segments and a short last one: the batch path (the full segments coded in one
    /// accelerator batch, the short one alone) cuts exactly the shards one-segment placement cuts.
    #[test]
    fn batched_cutting_gives_the_shards_one_segment_cutting_gives() {
        let config = ErasureConfig { data_shards: 4, parity_shards: 2 };
        let data: Vec<u8> = (0..5 * merkle::SEGMENT_SIZE + 3_000).map(|i| (i * 13 + 7) as u8).collect();
        let commitment = FileCommitment::of(&data);
        let record = FileRecord::from_commitment(1, &commitment);
        let loaded: Vec<Loaded> = (0..record.data_segments())
            .map(|segment| {
                let (bytes, proof) = commitment.stored_segment(&data, segment as usize).expect("segment");
                Loaded { record: record.clone(), segment, data: bytes, proof }
            })
            .collect();
        let one_by_one: Vec<Vec<Shard>> = loaded.iter().map(|s| cut_shards(config, &s.record, s.segment, &s.data, &s.proof).expect("cuts")).collect();
        let twin = Accelerator::new(Box::new(Twin), 1);
        ROUTED.store(true, Ordering::SeqCst);
        let before = BATCHES.load(Ordering::SeqCst);
        let batched = cut_batch(&twin, config, &loaded);
        ROUTED.store(false, Ordering::SeqCst);
        let batched: Vec<Vec<Shard>> = batched.into_iter().map(|r| r.expect("cuts")).collect();
        assert_eq!(batched, one_by_one);
        assert_eq!(BATCHES.load(Ordering::SeqCst) - before, 1, "the five whole segments went as one batch");
        assert_eq!(cut_batch(&Accelerator::cpu(), config, &[]).len(), 0);
    }
}
