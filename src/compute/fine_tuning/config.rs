//! The `[fine_tuning]` section of `zgnode compute serve --config F`: the provider also trains
//! LoRA adapters of its built-in model for users, as 0G's fine-tuning providers do.

/// `[fine_tuning]`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineTuningConfig {
    /// Neuron per dataset token per epoch (the contract's `pricePerToken`).
    #[serde(default = "default_price")]
    pub price_per_token: u128,
    /// The node's 0G storage JSON-RPC: deliverables are uploaded there (the deliverable's root
    /// is the file's storage root) and datasets named by a storage root are fetched from it.
    /// Without it, a deliverable is downloadable from this provider only (its root is then
    /// keccak-256 of the encrypted file, which the SDK checks).
    #[serde(default)]
    pub storage_rpc: Option<String>,
    /// Datasets over this are refused (413).
    #[serde(default = "default_max_dataset_bytes")]
    pub max_dataset_bytes: usize,
    /// Tasks waiting in the queue at most; more are refused (503) until one starts.
    #[serde(default = "default_max_queued")]
    pub max_queued: usize,
    /// Examples longer than this many tokens are left out of training (and not charged).
    #[serde(default = "default_max_seq_len")]
    pub max_seq_len: usize,
    /// How often delivered tasks are checked on chain for the user's acknowledgement.
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
}

fn default_price() -> u128 {
    1_000_000_000
}
fn default_max_dataset_bytes() -> usize {
    16 << 20
}
fn default_max_queued() -> usize {
    16
}
fn default_max_seq_len() -> usize {
    512
}
fn default_poll_secs() -> u64 {
    2
}

impl Default for FineTuningConfig {
    fn default() -> Self {
        Self {
            price_per_token: default_price(),
            storage_rpc: None,
            max_dataset_bytes: default_max_dataset_bytes(),
            max_queued: default_max_queued(),
            max_seq_len: default_max_seq_len(),
            poll_secs: default_poll_secs(),
        }
    }
}

impl FineTuningConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_dataset_bytes == 0 || self.max_dataset_bytes > 1 << 30 {
            return Err(format!("fine_tuning.max_dataset_bytes {} is not in 1-1073741824", self.max_dataset_bytes));
        }
        if self.max_queued == 0 || self.max_queued > 10_000 {
            return Err(format!("fine_tuning.max_queued {} is not in 1-10000", self.max_queued));
        }
        if !(16..=8192).contains(&self.max_seq_len) {
            return Err(format!("fine_tuning.max_seq_len {} is not in 16-8192", self.max_seq_len));
        }
        if self.poll_secs == 0 || self.poll_secs > 3600 {
            return Err(format!("fine_tuning.poll_secs {} is not in 1-3600", self.poll_secs));
        }
        Ok(())
    }
}
