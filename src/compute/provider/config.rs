//! `zgnode compute serve --config F`: the provider's TOML. Prices are in neuron (10^-18 0G)
//! per token, as the contract stores them.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The chain's JSON-RPC.
    pub eth_rpc: String,
    /// The provider account's key (0x hex): registers the service, stakes, settles, is paid.
    pub key: String,
    /// The signer's key for responses and settlements (the service's `teeSignerAddress`, which
    /// the marketplace owner acknowledges). Default: `key`.
    #[serde(default)]
    pub signer_key: Option<String>,
    /// Where the HTTP API listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The URL registered on chain (what users' SDKs call). Default: `http://` and the address
    /// bound (so port 0 works).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The unsettled-request store lives here.
    pub data_dir: PathBuf,
    #[serde(default = "default_input_price")]
    pub input_price: u128,
    #[serde(default = "default_output_price")]
    pub output_price: u128,
    /// Price tiers by prompt length (0G's `tieredPricing`, advertised in the service's
    /// `additionalInfo` and `/v1/models`, and billed): ascending `max_input_tokens`, 0 (no bound)
    /// only last. None: every request pays the base prices.
    #[serde(default)]
    pub tiered_pricing: Vec<TierConfig>,
    /// The service's `verifiability` (the SDK verifies response signatures for TeeML, OpML, ZKML).
    #[serde(default = "default_verifiability")]
    pub verifiability: String,
    #[serde(default = "default_settle_interval")]
    pub settle_interval_secs: u64,
    /// Settlements per transaction (1-50).
    #[serde(default = "default_settle_batch")]
    pub settle_batch: usize,
    /// Request bodies over this are refused (413).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// The completion budget when a request names none, and the most it may ask for.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Requests served at once; more wait.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    pub backend: BackendConfig,
    /// Where LoRA adapters wait to be deployed (`<taskId>/adapter_model.safetensors` and
    /// `adapter_config.json`, PEFT's files); default `data_dir/lora`. Built-in backend only.
    #[serde(default)]
    pub lora_dir: Option<PathBuf>,
    /// A verifiable (halo2-proved) service beside the chat one: `/v1/proxy/verifiable/{model}`.
    #[serde(default)]
    pub verifiable: Option<VerifiableConfig>,
    /// The node's `[gpu]` section: whether the built-in backend's matrices may go to a GPU.
    #[serde(default)]
    pub gpu: crate::config::GpuSection,
    /// A fine-tuning service beside the chat one (built-in backend only): LoRA training of the
    /// built-in model for users, registered on FineTuningServing, served on the same address.
    #[serde(default)]
    pub fine_tuning: Option<crate::compute::fine_tuning::config::FineTuningConfig>,
}

impl ProviderConfig {
    /// The built-in backend's model directory: `model_dir`, or the tiny model written into
    /// `data_dir/tiny-model`.
    pub fn builtin_model_dir(&self, model_dir: &Option<PathBuf>) -> PathBuf {
        model_dir.clone().unwrap_or_else(|| self.data_dir.join("tiny-model"))
    }

    /// Where LoRA adapters wait to be deployed: `lora_dir`, or `data_dir/lora`.
    pub fn adapters_dir(&self) -> PathBuf {
        self.lora_dir.clone().unwrap_or_else(|| self.data_dir.join("lora"))
    }
}

/// One `[[tiered_pricing]]` entry: requests up to `max_input_tokens` prompt tokens pay the input
/// price × `input_multiplier / input_multiplier_denominator` (and the output price likewise).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub max_input_tokens: u64,
    pub input_multiplier: u64,
    #[serde(default = "one")]
    pub input_multiplier_denominator: u64,
    pub output_multiplier: u64,
    #[serde(default = "one")]
    pub output_multiplier_denominator: u64,
}

fn one() -> u64 {
    1
}

impl TierConfig {
    pub fn tier(&self) -> zg_systems::compute::settlement::PriceTier {
        zg_systems::compute::settlement::PriceTier {
            max_input_tokens: self.max_input_tokens,
            input: (self.input_multiplier, self.input_multiplier_denominator),
            output: (self.output_multiplier, self.output_multiplier_denominator),
        }
    }
}

/// Most price tiers a service may list.
pub const MAX_TIERS: usize = 16;

/// The `[verifiable]` section: one int8 model served with a proof per result, paid through the
/// VerifiedInference contract only for results whose proofs verify on chain.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiableConfig {
    /// The model file (`assets/models/digits/*.json` format); registered in the ModelRegistry
    /// under keccak-256 of its name when nobody has yet.
    pub model_file: PathBuf,
    /// Neuron per request.
    #[serde(default = "default_verifiable_price")]
    pub price: u128,
    /// 0G staked on first registration (at least the contract's 10).
    #[serde(default = "default_verifiable_stake")]
    pub stake_0g: u64,
    /// Results per settlement transaction (1-40; cut further to what fits a block: each proof
    /// costs ~1.5 M gas of verification for the small model, ~2.1 M for the large).
    #[serde(default = "default_verifiable_batch")]
    pub settle_batch: usize,
    /// Fault drills only: serve wrong logits (signed, with the true proof) so that slashing can
    /// be exercised end to end. Never set on a real provider: it loses its stake.
    #[serde(default)]
    pub misbehave: bool,
}

fn default_verifiable_price() -> u128 {
    1_000_000_000_000_000
}

fn default_verifiable_stake() -> u64 {
    10
}

fn default_verifiable_batch() -> usize {
    8
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BackendConfig {
    /// A Llama-family model from a Hugging Face directory, on this node's CPU.
    Builtin {
        /// `config.json`, `*.safetensors`, `tokenizer.json`; absent: the generated tiny model.
        #[serde(default)]
        model_dir: Option<PathBuf>,
        /// The name registered on chain.
        model: String,
    },
    /// An OpenAI-compatible server (vLLM, llama.cpp, Ollama) at `url` (`http://host:port/v1`).
    Openai {
        url: String,
        /// The name registered on chain.
        model: String,
        /// What the upstream calls it; default `model`.
        #[serde(default)]
        upstream_model: Option<String>,
        #[serde(default)]
        api_key: Option<String>,
    },
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3080))
}
fn default_input_price() -> u128 {
    1_000_000_000
}
fn default_output_price() -> u128 {
    2_000_000_000
}
fn default_verifiability() -> String {
    "TeeML".into()
}
fn default_settle_interval() -> u64 {
    30
}
fn default_settle_batch() -> usize {
    50
}
fn default_max_request_bytes() -> usize {
    256 << 10
}
fn default_max_tokens() -> u32 {
    256
}
fn default_max_concurrent() -> usize {
    64
}

impl ProviderConfig {
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=zg_systems::compute::settlement::MAX_SETTLEMENTS_PER_TX).contains(&self.settle_batch) {
            return Err(format!("settle_batch {} is not 1-50", self.settle_batch));
        }
        if self.settle_interval_secs == 0 {
            return Err("settle_interval_secs must be at least 1".into());
        }
        if self.max_tokens == 0 || self.max_concurrent == 0 || self.max_request_bytes < 1024 {
            return Err("max_tokens and max_concurrent must be positive, max_request_bytes at least 1024".into());
        }
        if self.tiered_pricing.len() > MAX_TIERS {
            return Err(format!("tiered_pricing: at most {MAX_TIERS} tiers"));
        }
        for (i, tier) in self.tiered_pricing.iter().enumerate() {
            let last = i + 1 == self.tiered_pricing.len();
            if tier.input_multiplier_denominator == 0 || tier.output_multiplier_denominator == 0 {
                return Err(format!("tiered_pricing[{i}]: a multiplier denominator is 0"));
            }
            if tier.input_multiplier == 0 || tier.output_multiplier == 0 {
                return Err(format!("tiered_pricing[{i}]: a multiplier is 0 (a free tier is a price of 0, not a tier)"));
            }
            if tier.max_input_tokens == 0 && !last {
                return Err(format!("tiered_pricing[{i}]: max_input_tokens 0 (no bound) may only be the last tier"));
            }
            if i > 0 && tier.max_input_tokens != 0 && tier.max_input_tokens <= self.tiered_pricing[i - 1].max_input_tokens {
                return Err(format!("tiered_pricing[{i}]: max_input_tokens must ascend"));
            }
        }
        if let Some(verifiable) = &self.verifiable {
            if !(1..=40).contains(&verifiable.settle_batch) {
                return Err(format!("verifiable.settle_batch {} is not 1-40", verifiable.settle_batch));
            }
            if verifiable.stake_0g < 10 {
                return Err(format!("verifiable.stake_0g {} is below the contract's minimum of 10", verifiable.stake_0g));
            }
        }
        Ok(())
    }

    pub fn model(&self) -> &str {
        match &self.backend {
            BackendConfig::Builtin { model, .. } | BackendConfig::Openai { model, .. } => model,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        eth_rpc = "http://127.0.0.1:8545"
        key = "0x01"
        data_dir = "/tmp/p"
        [backend]
        kind = "openai"
        url = "http://127.0.0.1:8000/v1"
        model = "llama-3-8b"
    "#;

    #[test]
    fn defaults_fill_in_and_mistakes_are_named() {
        let config = ProviderConfig::parse(MINIMAL).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3080".parse().unwrap());
        assert_eq!((config.settle_batch, config.verifiability.as_str(), config.model()), (50, "TeeML", "llama-3-8b"));
        let error = ProviderConfig::parse(&MINIMAL.replace("data_dir", "settle_batch = 51\ndata_dir")).unwrap_err();
        assert!(error.contains("settle_batch 51"), "{error}");
        let error = ProviderConfig::parse(&MINIMAL.replace("data_dir", "setle_interval_secs = 5\ndata_dir")).unwrap_err();
        assert!(error.contains("setle_interval_secs"), "{error}");
        assert!(ProviderConfig::parse(&MINIMAL.replace("openai", "cuda")).is_err());
        assert!(ProviderConfig::parse("").is_err());
        assert_eq!(config.verifiable, None);
        let with = |section: &str| ProviderConfig::parse(&format!("{MINIMAL}\n[verifiable]\n{section}"));
        let verifiable = with("model_file = \"m.json\"").unwrap().verifiable.unwrap();
        assert_eq!((verifiable.stake_0g, verifiable.settle_batch, verifiable.misbehave), (10, 8, false));
        assert!(with("model_file = \"m.json\"\nsettle_batch = 41").unwrap_err().contains("1-40"));
        assert!(with("model_file = \"m.json\"\nstake_0g = 9").unwrap_err().contains("minimum"));
        assert!(with("price = 5").is_err(), "model_file is required");
        assert!(config.gpu.enabled, "a GPU is used when found unless switched off");
        let off = ProviderConfig::parse(&format!("{MINIMAL}\n[gpu]\nenabled = false\n")).unwrap();
        assert!(!off.gpu.enabled);
        assert!(ProviderConfig::parse(&format!("{MINIMAL}\n[gpu]\ncard = 1\n")).is_err(), "unknown keys are named");
    }

    #[test]
    fn price_tiers_ascend_and_multiply_by_positive_fractions() {
        let tiers = |entries: &str| ProviderConfig::parse(&format!("{MINIMAL}\n{entries}"));
        let good = tiers("[[tiered_pricing]]\nmax_input_tokens = 64\ninput_multiplier = 1\noutput_multiplier = 1\n[[tiered_pricing]]\nmax_input_tokens = 0\ninput_multiplier = 3\ninput_multiplier_denominator = 2\noutput_multiplier = 2\n").unwrap();
        assert_eq!(good.tiered_pricing[1].tier().input, (3, 2));
        for (bad, why) in [
            ("[[tiered_pricing]]\nmax_input_tokens = 0\ninput_multiplier = 1\noutput_multiplier = 1\n[[tiered_pricing]]\nmax_input_tokens = 5\ninput_multiplier = 1\noutput_multiplier = 1\n", "only be the last"),
            ("[[tiered_pricing]]\nmax_input_tokens = 9\ninput_multiplier = 1\noutput_multiplier = 1\n[[tiered_pricing]]\nmax_input_tokens = 9\ninput_multiplier = 1\noutput_multiplier = 1\n", "ascend"),
            ("[[tiered_pricing]]\nmax_input_tokens = 9\ninput_multiplier = 1\ninput_multiplier_denominator = 0\noutput_multiplier = 1\n", "denominator"),
            ("[[tiered_pricing]]\nmax_input_tokens = 9\ninput_multiplier = 0\noutput_multiplier = 1\n", "a multiplier is 0"),
        ] {
            let error = tiers(bad).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }
}
