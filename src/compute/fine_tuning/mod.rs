//! The fine-tuning provider role: beside the inference service, the provider registers on
//! FineTuningServing and serves 0G's fine-tuning API (`http`) on the same address. A user's
//! signed task is admitted against their sub-account (`admission`), kept crash-safe (`store`),
//! trained in a bounded queue with a log (`train`), delivered encrypted to 0G storage and
//! recorded on chain, then settled once the user acknowledges — revealing the model's key to
//! them alone — or for 30 % when they never do (`deliver`, `crypto`, `chain`). The tasks are
//! entities of the provider's own tick (`tick`): it orders each step, the trainer and the
//! deliverer do it and report back.

pub mod admission;
pub mod chain;
pub mod config;
pub mod crypto;
pub mod deliver;
pub mod http;
pub mod store;
pub mod tick;
pub mod train;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::{Address, keccak256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;
use tokio::sync::watch;

use crate::compute::backend::llama::ModelFiles;
use crate::compute::client::MarketClient;
use crate::storage::client::StorageClient;
use config::FineTuningConfig;
use store::{TaskRecord, TaskStore, TaskStoreError};
use zg_components::compute::fine_tuning::TaskProgress;
use zg_components::compute::training_tasks::{TaskReport, TrainingTask};

/// Files the provider writes (datasets, adapters, encrypted models): its own only.
pub const PRIVATE: u32 = 0o600;

/// The model users fine-tune: the provider's built-in one.
#[derive(Clone, Debug)]
pub struct TrainableModel {
    pub name: String,
    /// 0x-hex keccak-256 over the model's files (what a task's `preTrainedModelHash` names).
    pub hash: String,
    pub dir: PathBuf,
}

impl TrainableModel {
    pub fn of(name: &str, dir: &Path) -> anyhow::Result<Self> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut hashes = Vec::new();
        for file in &files {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            hashes.extend_from_slice(keccak256(name.as_bytes()).as_slice());
            hashes.extend_from_slice(keccak256(std::fs::read(file).with_context(|| format!("reading {}", file.display()))?).as_slice());
        }
        Ok(Self { name: name.to_string(), hash: keccak256(&hashes).to_string(), dir: dir.to_path_buf() })
    }
}

pub struct FineTuningService {
    pub config: FineTuningConfig,
    pub store: TaskStore,
    pub provider: Address,
    pub key: PrivateKeySigner,
    pub signer: PrivateKeySigner,
    pub market: MarketClient,
    pub storage: Option<StorageClient>,
    pub model: TrainableModel,
    /// The model's config, tokenizer and weights, read once: admission tokenizes datasets with
    /// them and training starts from them.
    pub files: ModelFiles,
    /// Where a settled task's adapter is published for the inference side's LoRA endpoints.
    pub lora_dir: Option<PathBuf>,
    /// What the tick hears about tasks (admitted, moved, released by a worker).
    pub reports: crossbeam_channel::Sender<TaskReport>,
    /// The tick's count of tasks by phase, as of its last run.
    pub board: Arc<Mutex<zg_components::compute::training_tasks::TaskBoard>>,
    /// Tasks the user cancelled while they trained.
    pub cancelled: Mutex<HashSet<String>>,
    /// One admission at a time: the per-user and balance checks see every earlier task.
    pub admitting: tokio::sync::Mutex<()>,
}

impl FineTuningService {
    /// The tasks cancelled while queued or training (a poisoned lock still holds the set).
    pub fn cancellations(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.cancelled.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells the tick about a task it may not know (admitted, or restored at start-up).
    pub fn report_known(&self, record: &TaskRecord) {
        let Some(user) = record.user() else { return };
        let task = TrainingTask { id: record.task.id.clone(), user, created_at: record.task.created_at };
        let _ = self.reports.send(TaskReport::Known { task, phase: record.task.progress, deliverable: record.deliverable() });
    }

    /// Moves a task to `progress` in the store (then its log), and tells the tick.
    pub fn advance(&self, record: &mut TaskRecord, progress: TaskProgress, reason: &str) -> Result<(), TaskStoreError> {
        self.store.advance(record, progress, reason)?;
        let _ = self.reports.send(TaskReport::Moved { id: record.task.id.clone(), phase: progress, deliverable: record.deliverable() });
        crate::crash_drill::point(&format!("fine-tuning:{progress:?}"));
        Ok(())
    }

    /// A worker is done with its turn on a task.
    pub fn release(&self, id: &str, wait: bool) {
        let _ = self.reports.send(TaskReport::Released { id: id.to_string(), wait });
    }
}

/// A worker's next order from the tick; None once the provider stops (or the tick is gone).
/// Waits in short steps so a stop is seen within a fifth of a second.
pub fn next_order(orders: &crossbeam_channel::Receiver<zg_components::compute::training_tasks::TaskOrder>, stopped: &watch::Receiver<bool>) -> Option<zg_components::compute::training_tasks::TaskOrder> {
    while !*stopped.borrow() {
        match orders.recv_timeout(Duration::from_millis(200)) {
            Ok(order) => return Some(order),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return None,
        }
    }
    None
}

/// What [`start`] needs from the provider it runs beside.
pub struct Beside<'a> {
    pub eth_rpc: &'a str,
    pub url: &'a str,
    pub key: PrivateKeySigner,
    pub signer: PrivateKeySigner,
    pub model_name: &'a str,
    pub model_dir: &'a Path,
    pub data_dir: &'a Path,
    pub lora_dir: Option<PathBuf>,
}

/// Registers the fine-tuning service and starts its trainer and deliverer; the HTTP routes are
/// [`http::routes`], merged into the provider's router.
pub async fn start(config: FineTuningConfig, beside: Beside<'_>, stopped: watch::Receiver<bool>) -> anyhow::Result<(Arc<FineTuningService>, Vec<tokio::task::JoinHandle<()>>)> {
    config.validate().map_err(anyhow::Error::msg)?;
    let dir = beside.data_dir.join("fine-tuning");
    let store = TaskStore::open(&dir).with_context(|| format!("opening the fine-tuning store in {}", dir.display()))?;
    let storage = match &config.storage_rpc {
        Some(url) => Some(StorageClient::new(beside.eth_rpc, url)?),
        None => None,
    };
    let (reports, inbox) = crossbeam_channel::unbounded();
    let service = Arc::new(FineTuningService {
        provider: beside.key.address(),
        market: MarketClient::new(beside.eth_rpc)?,
        key: beside.key,
        signer: beside.signer,
        model: TrainableModel::of(beside.model_name, beside.model_dir)?,
        files: ModelFiles::read(beside.model_dir).with_context(|| format!("reading the model in {}", beside.model_dir.display()))?,
        lora_dir: beside.lora_dir,
        storage,
        store,
        config,
        reports,
        board: Arc::default(),
        cancelled: Mutex::new(HashSet::new()),
        admitting: tokio::sync::Mutex::new(()),
    });
    chain::register(&service, beside.url).await?;
    let poll = Duration::from_secs(service.config.poll_secs);
    let tasks = tick::start(service.clone(), inbox, poll, stopped)?;
    tracing::info!(provider = %service.provider, model = %service.model.name, price_per_token = service.config.price_per_token, "fine-tuning provider serving");
    Ok((service, tasks))
}
