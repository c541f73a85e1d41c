//! A fine-tuning task as 0G's fine-tuning provider API carries it (the SDK's `Task` JSON, with
//! camelCase names), its phases, and what the provider keeps beside it.

use serde::{Deserialize, Serialize};

/// A task's phase, in the order 0G's broker moves it, as the SDK reads `progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskProgress {
    /// Admitted, waiting in the queue.
    Init,
    /// Fetching the dataset and the model, tokenizing.
    SettingUp,
    Training,
    /// Training done; the adapter is written.
    Trained,
    /// Encrypting, uploading to 0G storage, recording the deliverable on chain.
    Delivering,
    /// On chain: the user may download and acknowledge it.
    Delivered,
    /// The user acknowledged on chain; the provider settles and reveals the key.
    UserAcknowledged,
    /// Settled on chain (the whole fee with the key, or 30 % when never acknowledged).
    Finished,
    /// Stopped for good: `reason` says why (cancelled, bad dataset, over balance…).
    Failed,
}

impl TaskProgress {
    /// Whether nothing more happens to the task.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Failed)
    }

    /// Whether it waits for the trainer or is with it (queue, set-up, training).
    pub fn is_with_the_trainer(self) -> bool {
        matches!(self, Self::Init | Self::SettingUp | Self::Training)
    }

    /// Whether the user can still cancel it without paying: while it is with the trainer.
    pub fn is_cancellable(self) -> bool {
        self.is_with_the_trainer()
    }
}

/// One task: what the user signed, what the provider computed, where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FineTuningTask {
    /// A UUID (the SDK turns it into bytes for the download signature).
    pub id: String,
    /// Unix seconds.
    pub created_at: u64,
    pub updated_at: u64,
    /// Checksummed, as the user signed it.
    pub user_address: String,
    pub pre_trained_model_hash: String,
    pub dataset_hash: String,
    /// The JSON text of the training parameters, as sent.
    pub training_params: String,
    /// In neuron, decimal: tokens × epochs × price per token, fixed at admission.
    pub fee: String,
    pub nonce: String,
    pub signature: String,
    pub progress: TaskProgress,
    /// The deliverable's root on 0G storage (0x-hex), once delivered.
    #[serde(default)]
    pub deliver_index: String,
    #[serde(default)]
    pub wait: bool,
    /// Why a task failed, or how it ended.
    #[serde(default)]
    pub reason: String,
    /// Tokens the dataset counts for the base model's tokenizer (one epoch).
    #[serde(default)]
    pub dataset_tokens: u64,
}
