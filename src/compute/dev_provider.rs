//! `zgnode dev`'s built-in provider: dev account 7 registers the generated tiny model and, as
//! the dev marketplace's owner, acknowledges its own signer, so the SDK and `zgnode compute
//! ask` have a provider to use from the first block; `zgnode dev` also has it serve the small
//! digit classifier verifiably (halo2 proofs made by the node's tick).

use std::net::SocketAddr;
use std::path::Path;

use alloy_primitives::U256;
use anyhow::Context;

use super::backend::llama::tiny::TINY_MODEL_NAME;
use super::fine_tuning::config::FineTuningConfig;
use super::provider::config::{BackendConfig, ProviderConfig, TierConfig, VerifiableConfig};
use super::provider::{self, ProviderHandle};
use zg_systems::compute::contracts::{IInferenceServing, INFERENCE_ADDRESS};

/// The dev account that runs the built-in provider and owns the dev marketplace.
pub const DEV_PROVIDER_ACCOUNT: usize = 7;

/// Prompts up to this many tokens pay the dev provider's base prices; longer ones 1.5× input, 2×
/// output.
pub const DEV_TIER_TOKENS: u64 = 200;

pub fn dev_config(eth_rpc: &str, listen: SocketAddr, data_dir: &Path) -> ProviderConfig {
    ProviderConfig {
        eth_rpc: eth_rpc.to_string(),
        key: crate::dev::dev_accounts()[DEV_PROVIDER_ACCOUNT].private_key.to_string(),
        signer_key: None,
        listen,
        public_url: None,
        data_dir: data_dir.to_path_buf(),
        input_price: 1_000_000_000,
        output_price: 2_000_000_000,
        // Long prompts cost more, as 0G's tiered providers charge: what the SDK reads from the
        // service's additionalInfo and /v1/models.
        tiered_pricing: vec![
            TierConfig { max_input_tokens: DEV_TIER_TOKENS, input_multiplier: 1, input_multiplier_denominator: 1, output_multiplier: 1, output_multiplier_denominator: 1 },
            TierConfig { max_input_tokens: 0, input_multiplier: 3, input_multiplier_denominator: 2, output_multiplier: 2, output_multiplier_denominator: 1 },
        ],
        verifiability: "TeeML".into(),
        settle_interval_secs: 5,
        settle_batch: 50,
        max_request_bytes: 256 << 10,
        max_tokens: 256,
        max_concurrent: 64,
        backend: BackendConfig::Builtin { model_dir: None, model: TINY_MODEL_NAME.into() },
        lora_dir: None,
        verifiable: None,
        gpu: Default::default(),
        fine_tuning: None,
    }
}

/// The verifiable service `zgnode dev` adds: the small reference digit classifier (written
/// into `dir` from the binary), 0.001 0G a result.
pub fn dev_verifiable(dir: &Path) -> anyhow::Result<VerifiableConfig> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let model_file = dir.join("digits-small.json");
    std::fs::write(&model_file, crate::compute::verifiable::SMALL_MODEL).with_context(|| format!("writing {}", model_file.display()))?;
    Ok(VerifiableConfig { model_file, price: 1_000_000_000_000_000, stake_0g: 10, settle_batch: 8, misbehave: false })
}

/// The fine-tuning service `zgnode dev` adds: LoRA training of the tiny model at 10^12 neuron
/// (0.000001 0G) a token per epoch, deliverables to the node's storage at `storage_rpc`.
pub fn dev_fine_tuning(storage_rpc: Option<String>) -> FineTuningConfig {
    FineTuningConfig { price_per_token: 1_000_000_000_000, storage_rpc, ..FineTuningConfig::default() }
}

/// Starts the provider and acknowledges its signer (the owner's call) if not yet done.
pub async fn start(config: ProviderConfig) -> anyhow::Result<ProviderHandle> {
    start_with(config, None).await
}

/// [`start`] with proof jobs on `prover` (the node's tick).
pub async fn start_with(config: ProviderConfig, prover: Option<zg_systems::verifiable::jobs::ProverHandle>) -> anyhow::Result<ProviderHandle> {
    let handle = provider::start_with(config, prover).await?;
    let state = &handle.state;
    let service = state.market.service(state.provider).await?.context("the service registered a moment ago is missing")?;
    if !service.teeSignerAcknowledged {
        state
            .market
            .send(&state.key, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerByOwnerCall { provider: state.provider }, U256::ZERO)
            .await
            .context("acknowledging the built-in provider's signer")?;
    }
    if let Some(fine_tuning) = &state.fine_tuning {
        crate::compute::fine_tuning::chain::acknowledge_own_signer(fine_tuning).await.context("acknowledging the fine-tuning signer")?;
    }
    Ok(handle)
}
