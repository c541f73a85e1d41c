//! The provider role: registers an inference service on chain, serves 0G's provider HTTP API
//! (`http`), admits each request against the user's on-chain sub-account (`admission`), meters
//! and signs every response, keeps what it served in a crash-safe store and settles it in
//! batches (`settle`).

pub mod admission;
pub mod catalog;
pub mod config;
pub mod http;
pub mod lora;
pub mod settle;
mod status;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;
use tokio::sync::{Notify, Semaphore, watch};

use super::backend::{InferenceBackend, llama::LlamaBackend, openai::OpenAiProxy};
use super::client::MarketClient;
use super::unsettled::UnsettledStore;
use config::{BackendConfig, ProviderConfig};
use zg_systems::compute::contracts::{IInferenceServing, INFERENCE_ADDRESS, InferenceServiceParams};

pub use zg_systems::compute::contracts::PROVIDER_STAKE_0G;

pub struct ProviderState {
    pub provider: Address,
    /// The URL registered on chain.
    pub url: String,
    pub key: PrivateKeySigner,
    pub signer: PrivateKeySigner,
    pub market: MarketClient,
    pub backend: Arc<dyn InferenceBackend>,
    pub store: UnsettledStore,
    pub input_price: U256,
    pub output_price: U256,
    /// Price tiers by prompt length (`tiered_pricing`), billed and advertised.
    pub tiers: Vec<zg_systems::compute::settlement::PriceTier>,
    pub config: ProviderConfig,
    pub running: Arc<Semaphore>,
    /// Fees of requests being served, per user, not yet in the store: admission counts them.
    pub reserved: Mutex<HashMap<Address, U256>>,
    pub settle_now: Notify,
    /// LoRA adapters this provider can deploy and serve (built-in backend only).
    pub adapters: lora::Adapters,
    /// The verifiable service, when `[verifiable]` is configured.
    pub verifiable: Option<Arc<crate::compute::verifiable::VerifiableService>>,
    /// The fine-tuning service, when `[fine_tuning]` is configured.
    pub fine_tuning: Option<Arc<crate::compute::fine_tuning::FineTuningService>>,
}

/// A running provider: its HTTP address; dropping `stop` (or sending on it) shuts it down.
pub struct ProviderHandle {
    pub addr: SocketAddr,
    pub state: Arc<ProviderState>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ProviderHandle {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

pub fn parse_key(hex_key: &str, what: &str) -> anyhow::Result<PrivateKeySigner> {
    hex_key.trim().trim_start_matches("0x").parse::<PrivateKeySigner>().map_err(|e| anyhow::anyhow!("{what} is not a private key: {e}"))
}

pub fn load_backend(config: &ProviderConfig) -> anyhow::Result<Arc<dyn InferenceBackend>> {
    Ok(match &config.backend {
        BackendConfig::Builtin { model_dir, model } => {
            let dir = config.builtin_model_dir(model_dir);
            if model_dir.is_none() {
                super::backend::llama::tiny::write(&dir).with_context(|| format!("writing the tiny model to {}", dir.display()))?;
            }
            // Once per process: a node in the same process has already decided.
            crate::gpu::accel::init(&config.gpu);
            Arc::new(LlamaBackend::load(&dir, model).with_context(|| format!("loading the model in {}", dir.display()))?)
        }
        BackendConfig::Openai { url, model, upstream_model, api_key } => {
            Arc::new(OpenAiProxy::new(url, model, upstream_model.as_deref().unwrap_or(model), api_key.clone())?)
        }
    })
}

/// Registers (or updates) the service so the chain shows this URL, model, prices and signer.
pub async fn register(state: &ProviderState) -> anyhow::Result<()> {
    let wanted = InferenceServiceParams {
        serviceType: "chatbot".into(),
        url: state.url.clone(),
        model: state.backend.model().to_string(),
        verifiability: state.config.verifiability.clone(),
        inputPrice: state.input_price,
        outputPrice: state.output_price,
        additionalInfo: catalog::additional_info(&state.config),
        teeSignerAddress: state.signer.address(),
    };
    let current = state.market.service(state.provider).await?;
    if let Some(current) = &current
        && current.url == wanted.url
        && current.model == wanted.model
        && current.verifiability == wanted.verifiability
        && current.inputPrice == wanted.inputPrice
        && current.outputPrice == wanted.outputPrice
        && current.additionalInfo == wanted.additionalInfo
        && current.teeSignerAddress == wanted.teeSignerAddress
    {
        return Ok(());
    }
    // A new service stakes; an update keeps the stake it posted.
    let stake = if current.is_some() { U256::ZERO } else { U256::from(PROVIDER_STAKE_0G) * U256::from(10u64).pow(U256::from(18)) };
    state
        .market
        .send(&state.key, INFERENCE_ADDRESS, &IInferenceServing::addOrUpdateServiceCall { params: wanted }, stake)
        .await
        .context("registering the service (addOrUpdateService)")?;
    Ok(())
}

/// Starts a provider: checks the chain, registers, binds, serves and settles until stopped.
pub async fn start(config: ProviderConfig) -> anyhow::Result<ProviderHandle> {
    start_with(config, None).await
}

/// [`start`], with proof jobs going to `prover` (a node's tick) instead of a prover thread of
/// the provider's own.
pub async fn start_with(config: ProviderConfig, prover: Option<zg_systems::verifiable::jobs::ProverHandle>) -> anyhow::Result<ProviderHandle> {
    config.validate().map_err(anyhow::Error::msg)?;
    let key = parse_key(&config.key, "key")?;
    let signer = match &config.signer_key {
        Some(signer) => parse_key(signer, "signer_key")?,
        None => key.clone(),
    };
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let store = UnsettledStore::open(&config.data_dir.join("compute-provider.redb"))?;
    let backend = load_backend(&config)?;
    let market = MarketClient::new(&config.eth_rpc)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding the provider API on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let verifiable = match &config.verifiable {
        Some(section) => Some(crate::compute::verifiable::start(section.clone(), &config.data_dir, &market, &key, &url, prover).await?),
        None => None,
    };
    let adapters = match &config.backend {
        BackendConfig::Builtin { model_dir, model } => lora::Adapters::new(Some(config.adapters_dir()), config.builtin_model_dir(model_dir), model),
        BackendConfig::Openai { model, .. } => lora::Adapters::new(None, std::path::PathBuf::new(), model),
    };
    let (stop, stopped) = watch::channel(false);
    let (fine_tuning, fine_tuning_tasks) = match (&config.fine_tuning, &config.backend) {
        (None, _) => (None, Vec::new()),
        (Some(_), BackendConfig::Openai { .. }) => anyhow::bail!("[fine_tuning] trains the built-in backend's model; this provider proxies an upstream"),
        (Some(section), BackendConfig::Builtin { model_dir, model }) => {
            let model_dir = config.builtin_model_dir(model_dir);
            let beside = crate::compute::fine_tuning::Beside {
                eth_rpc: &config.eth_rpc,
                url: &url,
                key: key.clone(),
                signer: signer.clone(),
                model_name: model,
                model_dir: &model_dir,
                data_dir: &config.data_dir,
                lora_dir: Some(config.adapters_dir()),
            };
            let (service, tasks) = crate::compute::fine_tuning::start(section.clone(), beside, stopped.clone()).await?;
            (Some(service), tasks)
        }
    };
    let state = Arc::new(ProviderState {
        provider: key.address(),
        url,
        key,
        signer,
        market,
        backend,
        store,
        input_price: U256::from(config.input_price),
        output_price: U256::from(config.output_price),
        tiers: config.tiered_pricing.iter().map(config::TierConfig::tier).collect(),
        running: Arc::new(Semaphore::new(config.max_concurrent)),
        config,
        reserved: Mutex::new(HashMap::new()),
        settle_now: Notify::new(),
        adapters,
        verifiable,
        fine_tuning,
    });
    register(&state).await?;
    let mut router = http::router(state.clone());
    if let Some(fine_tuning) = &state.fine_tuning {
        router = router.merge(crate::compute::fine_tuning::http::routes(fine_tuning.clone()));
    }
    // Streamed pieces are small writes: without TCP_NODELAY, Nagle holds each behind the
    // client's delayed ACK (about 40 ms a response).
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
        let _ = stream.set_nodelay(true);
    });
    let mut serve_stop = stopped.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = serve_stop.wait_for(|s| *s).await;
        };
        if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(shutdown).await {
            tracing::error!(%error, "the provider API stopped");
        }
    });
    let settler = tokio::spawn(settle::run(state.clone(), Duration::from_secs(state.config.settle_interval_secs), stopped));
    tracing::info!(provider = %state.provider, %addr, model = state.backend.model(), "compute provider serving");
    let mut tasks = vec![server, settler];
    tasks.extend(fine_tuning_tasks);
    Ok(ProviderHandle { addr, state, stop, tasks })
}
