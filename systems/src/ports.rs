//! Ports: every way the ECS reaches the outside, in one place.
//!
//! Systems never open a socket or a file. The node implements these traits in its I/O shell
//! (`src/`) and puts them in the world as resources (`*Handle`); a world without one simply
//! does without (a test, a node that does not vote, a node without the storage role). Requests
//! come the other way through crossbeam inboxes (`Inbox`, `NetInbox`, `StorageInbox`).

use bevy_ecs::prelude::*;
use std::sync::Arc;

use zg_components::chain::CommittedBlock;
use zg_components::consensus::{NetMessage, ValidatorSet};
use zg_components::node::NodeEvent;
use zg_components::storage::FileRecord;
use zg_components::storage::shard::{MinerRecord, ShardWork};

/// Why something the world hands to the node's storage was not made durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PersistError {
    /// The store refused or failed the write (its own error, shared so the fault can be kept).
    #[error("persisting failed: {0}")]
    Store(Arc<dyn std::error::Error + Send + Sync>),
    /// The block writer thread is gone (it stops after a failed commit, or at shutdown).
    #[error("persisting failed: the block writer stopped")]
    WriterStopped,
    /// The writer reported a commit for a block it was not handed: a bug, stop safely.
    #[error("persisting failed: block {0} committed unasked")]
    Unexpected(u64),
}

impl PersistError {
    pub fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Arc::new(error))
    }
}

/// Durable storage for sealed blocks: one atomic write per block.
pub trait BlockStore: Send + Sync + 'static {
    fn commit_block(&self, block: &CommittedBlock) -> Result<(), PersistError>;

    /// Consecutive blocks at once, all or none (a store that can should do it in one durable
    /// write: the block writer hands over what queued while the last commit ran).
    fn commit_blocks(&self, blocks: &[Arc<CommittedBlock>]) -> Result<(), PersistError> {
        blocks.iter().try_for_each(|block| self.commit_block(block))
    }
}

#[derive(Resource, Clone)]
pub struct BlockStoreHandle(pub Arc<dyn BlockStore>);

/// Receives what the world announces (committed blocks).
pub trait EventSink: Send + Sync + 'static {
    fn publish(&self, event: NodeEvent);
}

#[derive(Resource, Clone)]
pub struct EventSinkHandle(pub Arc<dyn EventSink>);

/// Puts the chain back to an older block (evm_revert): the node implements it over its store
/// and rebuilds the world's chain state.
pub trait ChainRewinder: Send + Sync + 'static {
    fn rewind(&self, world: &mut World, block: u64) -> Result<(), PersistError>;
}

#[derive(Resource, Clone)]
pub struct RewinderHandle(pub Arc<dyn ChainRewinder>);

/// The consensus write-ahead log: entries per height, appended in order. `durable` entries
/// (this validator's own votes and proposals) must be on disk when `append` returns, together
/// with everything appended before them.
pub trait ConsensusWal: Send + Sync + 'static {
    fn append(&self, height: u64, entry: &[u8], durable: bool) -> Result<(), PersistError>;
    fn entries(&self, height: u64) -> Result<Vec<Vec<u8>>, PersistError>;
}

/// A signature step, in the order a validator takes them within a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignStep {
    Proposal = 1,
    Prevote = 2,
    Precommit = 3,
}

/// The last (height, round, step) this key signed, kept durably beside the key (as CometBFT's
/// `priv_validator_state`): a node whose WAL was lost (a wiped or restored data dir) must still
/// never sign two different messages for one step. `permit` is asked before every signature:
/// it allows only a later step, or the very same bytes again, and records the step on disk
/// before it returns.
pub trait SignGuard: Send + Sync + 'static {
    fn permit(&self, height: u64, round: u32, step: SignStep, sign_bytes: &[u8]) -> Result<(), SignRefusal>;
}

/// Why the guard would not let a key sign.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignRefusal {
    /// The key already signed a later step (or an earlier height).
    #[error("this key already signed height {signed_height} round {signed_round} step {signed_step} (asked for height {height} round {round} step {step})")]
    EarlierStep { signed_height: u64, signed_round: u32, signed_step: u8, height: u64, round: u32, step: u8 },
    /// The key already signed other bytes for this very step: signing would be a double sign.
    #[error("this key already signed something else at height {height} round {round} step {step}")]
    OtherBytes { height: u64, round: u32, step: u8 },
    /// The round is nil: there is nothing to sign.
    #[error("a nil round")]
    NilRound,
    /// The signing record could not be written (so the step is not recorded): no signature.
    #[error("cannot write the signing record: {0}")]
    Record(Arc<std::io::Error>),
    /// The guard's own state is unusable (a panic while it was held).
    #[error("the signing record's lock is poisoned")]
    Poisoned,
}

/// Where outbound validator messages go: the node's network runtime.
pub trait NetSink: Send + Sync + 'static {
    fn send(&self, to: Option<[u8; 32]>, message: NetMessage);
    /// The validator set changed: whose signatures and connections to accept.
    fn validators_changed(&self, _set: &ValidatorSet) {}
}

#[derive(Resource, Clone)]
pub struct NetSinkHandle(pub Arc<dyn NetSink>);

/// Durable storage for what storage nodes learn from the chain.
pub trait FileStore: Send + Sync + 'static {
    /// Records files published and PoRA miner records changed through `through_block`,
    /// atomically with that height.
    fn record_files(&self, files: &[FileRecord], miners: &[MinerRecord], through_block: u64) -> Result<(), PersistError>;
}

#[derive(Resource, Clone)]
pub struct FileStoreHandle(pub Arc<dyn FileStore>);

/// Runs shard work off the tick; what it achieves comes back as `StorageEvent`s.
pub trait ShardExecutor: Send + Sync + 'static {
    fn run(&self, work: ShardWork);
}

#[derive(Resource, Clone)]
pub struct ShardExecutorHandle(pub Arc<dyn ShardExecutor>);

/// A faster place to run erasure programs (the node's GPU), wrapped by
/// [`crate::erasure::accel::Accelerator::new`] and handed by the node to the coding that may
/// use it. Coding functions ask it first and use reed-solomon-simd when there is none, the
/// batch is too small to pay, or it fails: same shards either way.
pub trait ErasureAccelerator: Send + Sync {
    /// Whether a batch of `bytes` bytes of originals is worth sending.
    fn wants(&self, bytes: usize) -> bool;
    /// Runs `program` over the codewords of `inputs` (codeword-major) and gives their outputs.
    fn run(&self, program: &crate::erasure::program::Program, inputs: &[u8]) -> Result<Vec<u8>, AcceleratorError>;
}

/// Why an accelerator could not run a batch (the batch is then coded on the CPU).
#[derive(Debug, thiserror::Error)]
pub enum AcceleratorError {
    /// The device or its driver failed (launch, copy, compile).
    #[error("the device failed: {0}")]
    Device(Box<dyn std::error::Error + Send + Sync>),
    /// The program is not one the device can run (its shape, its inputs).
    #[error("the program cannot run here: {0}")]
    Program(Box<dyn std::error::Error + Send + Sync>),
    /// The accelerator's own state is unusable (a panic while it was held).
    #[error("the accelerator's lock is poisoned")]
    Poisoned,
}

/// Durable DA blob records: the DA systems' blob entities, written with the highest block whose
/// entrance events they reflect, so a restart rebuilds them (`da::blobs::replay_entrance_events`).
pub trait DaBlobStore: Send + Sync + 'static {
    fn record_blobs(&self, blobs: &[zg_components::da::DaBlob], through_block: u64) -> Result<(), PersistError>;
}

#[derive(Resource, Clone)]
pub struct DaBlobStoreHandle(pub Arc<dyn DaBlobStore>);
