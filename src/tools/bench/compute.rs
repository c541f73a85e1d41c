//! `zgnode bench compute`: requests through the compute provider (token check against the
//! chain, metering, the signed record, the crash-safe store, HTTP and SSE) against the same
//! backend called directly, for the built-in tiny model and for a proxied OpenAI-compatible
//! upstream stub; the ratio is the marketplace's overhead. Direct and provider calls take
//! turns so noise lands on both.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use tokio::sync::mpsc;

use crate::compute::backend::llama::{LlamaBackend, tiny};
use crate::compute::backend::openai::OpenAiProxy;
use crate::compute::backend::{ChatMessage, Generation, InferenceBackend};
use crate::compute::client::MarketClient;
use crate::compute::dev_provider::{DEV_PROVIDER_ACCOUNT, dev_config};
use crate::compute::provider::config::BackendConfig;
use zg_systems::compute::contracts::{IInferenceServing, ILedgerManager, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME, LEDGER_ADDRESS};

/// The upstream stub's pace: a first token after this, then one every `STUB_TOKEN`.
pub const STUB_FIRST_TOKEN: Duration = Duration::from_millis(20);
pub const STUB_TOKEN: Duration = Duration::from_millis(5);

#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub first_token_p50_ms: f64,
    /// Requests per second with `concurrency` clients.
    pub requests_per_sec: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct Pair {
    pub direct: Latency,
    pub provider: Latency,
}

impl Pair {
    /// Added latency at p50, as a fraction of the direct p50.
    pub fn added_p50(&self) -> f64 {
        self.provider.p50_ms / self.direct.p50_ms - 1.0
    }
}

#[derive(Clone, Debug)]
pub struct ComputeReport {
    pub requests: usize,
    pub concurrency: usize,
    pub max_tokens: u32,
    pub builtin: Pair,
    pub proxy: Pair,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

/// One completion: (total, time to first piece).
async fn timed(backend: Arc<dyn InferenceBackend>, generation: Generation) -> anyhow::Result<(Duration, Duration)> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel(256);
    let work = tokio::spawn(backend.generate(generation, tx));
    let mut first = None;
    while rx.recv().await.is_some() {
        first.get_or_insert_with(|| started.elapsed());
    }
    work.await??;
    let total = started.elapsed();
    Ok((total, first.unwrap_or(total)))
}

fn generation(max_tokens: u32, i: usize) -> Generation {
    Generation {
        messages: vec![ChatMessage { role: "user".into(), content: format!("Request {i}: tell me about the 0G network.") }],
        max_tokens,
        temperature: 0.0,
        seed: 0,
        body: serde_json::json!({}),
    }
}

/// Sequential turns (direct, then provider) for latency; then each alone with `concurrency`
/// clients for throughput.
async fn measure(direct: Arc<dyn InferenceBackend>, provider: Arc<dyn InferenceBackend>, requests: usize, concurrency: usize, max_tokens: u32) -> anyhow::Result<Pair> {
    let (mut d, mut p) = (Vec::new(), Vec::new());
    // Warm both paths (connections, caches) unmeasured.
    timed(direct.clone(), generation(max_tokens, 0)).await?;
    timed(provider.clone(), generation(max_tokens, 0)).await?;
    for i in 0..requests {
        d.push(timed(direct.clone(), generation(max_tokens, i)).await?);
        p.push(timed(provider.clone(), generation(max_tokens, i)).await?);
    }
    let mut pair = Pair { direct: summarize(&d), provider: summarize(&p) };
    pair.direct.requests_per_sec = throughput(direct, requests, concurrency, max_tokens).await?;
    pair.provider.requests_per_sec = throughput(provider, requests, concurrency, max_tokens).await?;
    Ok(pair)
}

fn summarize(samples: &[(Duration, Duration)]) -> Latency {
    let mut totals: Vec<f64> = samples.iter().map(|s| s.0.as_secs_f64() * 1e3).collect();
    let mut firsts: Vec<f64> = samples.iter().map(|s| s.1.as_secs_f64() * 1e3).collect();
    totals.sort_by(f64::total_cmp);
    firsts.sort_by(f64::total_cmp);
    Latency { p50_ms: percentile(&totals, 0.5), p90_ms: percentile(&totals, 0.9), first_token_p50_ms: percentile(&firsts, 0.5), requests_per_sec: 0.0 }
}

async fn throughput(backend: Arc<dyn InferenceBackend>, requests: usize, concurrency: usize, max_tokens: u32) -> anyhow::Result<f64> {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (backend, next) = (backend.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                timed(backend.clone(), generation(max_tokens, 1)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for client in clients {
        client.await??;
    }
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}

/// An OpenAI-compatible upstream that streams `tokens` pieces at the stub's pace.
async fn stub_upstream() -> anyhow::Result<SocketAddr> {
    use axum::response::IntoResponse;
    let route = axum::routing::post(|body: axum::body::Bytes| async move {
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let tokens = request["max_tokens"].as_u64().unwrap_or(16);
        let stream = futures::stream::unfold(0u64, move |sent| async move {
            if sent > tokens + 1 {
                return None;
            }
            tokio::time::sleep(if sent == 0 { STUB_FIRST_TOKEN } else { STUB_TOKEN }).await;
            let data = if sent < tokens {
                serde_json::json!({"choices": [{"index": 0, "delta": {"content": " token"}}]}).to_string()
            } else if sent == tokens {
                serde_json::json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": tokens}}).to_string()
            } else {
                "[DONE]".to_string()
            };
            Some((Ok::<_, std::convert::Infallible>(format!("data: {data}\n\n")), sent + 1))
        });
        ([("content-type", "text/event-stream")], axum::body::Body::from_stream(stream)).into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().route("/v1/chat/completions", route)).await });
    Ok(addr)
}

pub async fn compute(requests: usize, concurrency: usize, max_tokens: u32) -> anyhow::Result<ComputeReport> {
    anyhow::ensure!(requests > 0 && concurrency > 0 && max_tokens > 0, "requests, concurrency and max tokens must be positive");
    let dir = tempfile::tempdir()?;
    let mut config = crate::NodeConfig::default();
    config.node.data_dir = dir.path().join("node");
    config.chain.block_time_ms = 100;
    config.rpc.addr = "127.0.0.1:0".parse()?;
    let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    let node = crate::RunningNode::start(&config, &genesis).await?;
    let rpc = node.rpc_url().ok_or_else(|| anyhow::anyhow!("JSON-RPC is off"))?;
    let upstream = stub_upstream().await?;

    let mut builtin_config = dev_config(&rpc, "127.0.0.1:0".parse()?, &dir.path().join("builtin"));
    builtin_config.settle_interval_secs = 3600;
    builtin_config.max_tokens = max_tokens.max(256);
    let builtin = crate::compute::dev_provider::start(builtin_config).await?;
    let mut proxy_config = dev_config(&rpc, "127.0.0.1:0".parse()?, &dir.path().join("proxy"));
    proxy_config.key = crate::dev::dev_accounts()[6].private_key.to_string();
    proxy_config.settle_interval_secs = 3600;
    proxy_config.max_tokens = max_tokens.max(256);
    proxy_config.backend = BackendConfig::Openai { url: format!("http://{upstream}/v1"), model: "stub".into(), upstream_model: None, api_key: None };
    let proxy = crate::compute::provider::start(proxy_config).await?;

    let market = MarketClient::new(&rpc)?;
    let owner = alloy_signer_local::PrivateKeySigner::from_bytes(&crate::dev::dev_accounts()[DEV_PROVIDER_ACCOUNT].private_key)?;
    market.send(&owner, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerByOwnerCall { provider: proxy.state.provider }, U256::ZERO).await?;
    let user = alloy_signer_local::PrivateKeySigner::from_bytes(&crate::dev::dev_accounts()[1].private_key)?;
    let ether = |n: u64| U256::from(n) * U256::from(10u64).pow(U256::from(18));
    market.send(&user, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, ether(100)).await?;
    let mut through = Vec::new();
    for handle in [&builtin, &proxy] {
        let provider = handle.state.provider;
        market.send(&user, LEDGER_ADDRESS, &ILedgerManager::transferFundCall { provider, serviceName: INFERENCE_SERVICE_NAME.into(), amount: ether(40) }, U256::ZERO).await?;
        market.send(&user, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerCall { provider, acknowledged: true }, U256::ZERO).await?;
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
        let header = crate::compute::token::session_header(&user, provider, now_ms, 0)?;
        let model = handle.state.backend.model().to_string();
        let client = OpenAiProxy::new(&format!("http://{}/v1/proxy", handle.addr), &model, &model, None)?.with_authorization(header);
        through.push(Arc::new(client) as Arc<dyn InferenceBackend>);
    }
    let tiny_dir = dir.path().join("tiny");
    tiny::write(&tiny_dir)?;
    let direct_builtin: Arc<dyn InferenceBackend> = Arc::new(LlamaBackend::load(&tiny_dir, tiny::TINY_MODEL_NAME)?);
    let direct_proxy: Arc<dyn InferenceBackend> = Arc::new(OpenAiProxy::new(&format!("http://{upstream}/v1"), "stub", "stub", None)?);

    let builtin_pair = measure(direct_builtin, through[0].clone(), requests, concurrency, max_tokens).await?;
    let proxy_pair = measure(direct_proxy, through[1].clone(), requests, concurrency, max_tokens).await?;
    builtin.stop().await;
    proxy.stop().await;
    node.stop().await?;
    Ok(ComputeReport { requests, concurrency, max_tokens, builtin: builtin_pair, proxy: proxy_pair })
}
