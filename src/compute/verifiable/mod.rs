//! Verifiable inference in the marketplace (issue 14): a provider serves one registered int8
//! model with a halo2 proof per result (`http`), keeps what it served (`store`), and is paid
//! through the VerifiedInference contract only for results whose proofs verify on chain
//! (`settle`); `client` is the user's side (sign a request, check the proof through the chain,
//! report a wrong result).

pub mod client;
pub mod http;

/// The reference models the node ships (digit classifiers, `assets/models/digits`): the dev
/// provider serves the small one; the benches prove both.
pub const SMALL_MODEL: &str = include_str!("../../../assets/models/digits/digits-small.json");
pub const LARGE_MODEL: &str = include_str!("../../../assets/models/digits/digits-large.json");
pub mod settle;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;

use super::client::MarketClient;
use super::provider::config::VerifiableConfig;
use store::ResultStore;
use zg_components::verifiable::wire::encode_model;
use zg_components::verifiable::{ModelFile, QuantizedModel};
use zg_systems::verifiable::circuit;
use zg_systems::verifiable::contracts::{IModelRegistry, IVerifiedInference, MODEL_REGISTRY_ADDRESS, VERIFIED_INFERENCE_ADDRESS, model_id};
use zg_systems::verifiable::jobs::ProverHandle;

/// A verifiable service: the model, its registry id, the prover, what was served.
pub struct VerifiableService {
    pub model: Arc<QuantizedModel>,
    pub model_id: B256,
    pub price: U256,
    pub chain_id: u64,
    /// When the registry lets the model's proofs verify (Unix seconds; chain time).
    pub active_at: u64,
    pub prover: ProverHandle,
    pub store: ResultStore,
    pub config: VerifiableConfig,
    /// Per user: the highest nonce admitted and fees of requests being proved, not yet stored.
    pub in_progress: Mutex<HashMap<Address, (U256, U256)>>,
}

impl VerifiableService {
    /// Whether the proving keys are made (seconds after start) and the registry has activated
    /// the model (before that no proof would verify, so no result could be paid).
    pub fn ready(&self) -> bool {
        let now = crate::wall_clock::now_secs();
        now >= self.active_at && self.prover.keys.contains(&self.model_id.0)
    }
}

pub fn load_model(path: &std::path::Path) -> anyhow::Result<QuantizedModel> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the model file {}", path.display()))?;
    let file: ModelFile = serde_json::from_str(&text).with_context(|| format!("{} is not a model file", path.display()))?;
    if !circuit::is_supported(&file.model) {
        anyhow::bail!("{}: the circuit proves models with {} inputs and shift {} only", path.display(), circuit::INPUT_LEN, circuit::SHIFT);
    }
    Ok(file.model)
}

/// Registers the model (when its id is free: its key hash derived here, the registry's fee
/// paid) and the provider (stake, price, URL) on chain. The model's id and the time it is (or
/// was) activated.
/// The model's verifying key is derived on `pool` (the prover's).
pub async fn register(
    market: &MarketClient,
    key: &PrivateKeySigner,
    model: &Arc<QuantizedModel>,
    (price, stake_0g, url): (U256, u64, &str),
    pool: &zg_systems::verifiable::jobs::ProverPool,
) -> anyhow::Result<(B256, u64)> {
    let id = model_id(&model.name);
    let bytes = encode_model(model)?;
    let registered = market.preview(Address::ZERO, MODEL_REGISTRY_ADDRESS, &IModelRegistry::getModelCall { modelId: id }).await?;
    let active_at = if registered.owner == Address::ZERO {
        let (derive, pool) = (model.clone(), pool.clone());
        let (k, vk) = tokio::task::spawn_blocking(move || pool.install(|| circuit::verifying_key(&derive))).await??;
        let fee = market.preview(Address::ZERO, MODEL_REGISTRY_ADDRESS, &IModelRegistry::registrationFeeCall { k }).await?;
        let call = IModelRegistry::registerCall { modelId: id, model: bytes.into(), vkHash: circuit::vk_hash(&vk).into() };
        market.send(key, MODEL_REGISTRY_ADDRESS, &call, fee).await.context("registering the model in the ModelRegistry")?;
        market.preview(Address::ZERO, MODEL_REGISTRY_ADDRESS, &IModelRegistry::getModelCall { modelId: id }).await?.activeAt
    } else if registered.modelHash != keccak256(&bytes) {
        anyhow::bail!("model id {id} ({}) is registered with other weights (by {})", model.name, registered.owner);
    } else {
        registered.activeAt
    };
    let current = market.preview(Address::ZERO, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::providersCall { provider: key.address() }).await?;
    let stake = U256::from(stake_0g) * U256::from(10u64).pow(U256::from(18));
    let top_up = if current.slashed || current.stake.is_zero() { stake } else { U256::ZERO };
    if top_up > U256::ZERO || current.modelId != id || current.price != price || current.url != url {
        market
            .send(key, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::registerProviderCall { modelId: id, price, url: url.to_string() }, top_up)
            .await
            .context("registering the verifiable service (VerifiedInference.registerProvider)")?;
    }
    Ok((id, active_at))
}

/// Starts the service: registers, then makes the proving keys in the background (the endpoint
/// answers 503 until they are made). Proofs are made by `prover` (a node's tick) or, without
/// one, by a prover thread of the service's own.
pub async fn start(
    config: VerifiableConfig,
    data_dir: &std::path::Path,
    market: &MarketClient,
    key: &PrivateKeySigner,
    url: &str,
    prover: Option<ProverHandle>,
) -> anyhow::Result<Arc<VerifiableService>> {
    let model = Arc::new(load_model(&config.model_file)?);
    let store = ResultStore::open(&data_dir.join("verified-results.redb"))?;
    let price = U256::from(config.price);
    let prover = prover.unwrap_or_else(|| zg_systems::verifiable::jobs::spawn_prover_thread(std::time::Duration::from_millis(5)));
    let (model_id, active_at) = register(market, key, &model, (price, config.stake_0g, url), &prover.pool).await?;
    let chain_id = market.chain_id().await?;
    let service = Arc::new(VerifiableService { model: model.clone(), model_id, price, chain_id, active_at, prover, store, config, in_progress: Mutex::new(HashMap::new()) });
    let (keys, pool) = (service.prover.keys.clone(), service.prover.pool.clone());
    tokio::task::spawn_blocking(move || match pool.install(|| circuit::setup(&model)) {
        Ok(made) => {
            keys.insert(model_id.0, model.clone(), Arc::new(made));
            tracing::info!(model = %model.name, "verifiable service: proving keys made");
        }
        Err(error) => tracing::error!(%error, "verifiable service: making the proving keys failed"),
    });
    Ok(service)
}
