//! An alignment node's auditor: a client of a node's JSON-RPC (its own in `zgnode dev`, any
//! node's with `zgnode alignment`). Its tick (`zg_systems::alignment::audits`) keeps the audits
//! as entities; around it three loops: the watcher opens each epoch with the manager's seed and
//! what the chain holds (files published on Flow, blobs the DA entrance confirmed), the checker
//! fetches what the tick orders checked (a segment with its proof from the storage node, a DA
//! sample) and the reporter sends each finished epoch's report from the operator's key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use anyhow::{Context, bail};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

use zg_components::alignment::{AuditBoard, AuditQuota, AuditTarget, AuditUniverse, AuditorOrder, AuditorReport, ChatService, PublishedFile, ServingProvider};
use zg_systems::alignment::IAlignmentManager;
use zg_systems::verifiable::contracts::{IVerifiedInference, VERIFIED_INFERENCE_ADDRESS};

use super::checks::{self, Failure};
use zg_systems::alignment::MANAGER_ADDRESS;
use zg_systems::alignment::audits::AuditorPlugin;

/// Blocks per `eth_getLogs` call when the auditor catches up with the chain.
const SCAN_WINDOW_BLOCKS: u64 = 1_000;

/// What an auditor needs.
#[derive(Clone, Debug)]
pub struct AuditorSettings {
    /// The node whose chain it watches and sends reports to.
    pub rpc_url: String,
    /// The storage node asked which nodes hold a file (its indexer); each of them is asked for
    /// the audited segment (this node alone when it names none).
    pub storage_url: Option<String>,
    pub operator_key: PrivateKeySigner,
    /// The licences it reports for.
    pub licences: Vec<u64>,
    /// When set, the holder's key names the operator at start (a holder running its own node).
    pub holder_key: Option<PrivateKeySigner>,
    pub quota: AuditQuota,
    /// DA shares sampled per audited blob.
    pub da_samples: usize,
    pub poll: Duration,
}

/// What the auditor has done, for logs, tests and `zgnode bench`'s figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditorStats {
    pub epochs_opened: u64,
    pub reports_sent: u64,
    pub checks: u64,
    pub failed: u64,
    pub bytes_fetched: u64,
    pub check_seconds: f64,
    pub report_gas: u64,
    /// Failures sent on as evidence, and those the judging market upheld.
    pub accusations: u64,
    pub upheld: u64,
    pub last_failure: Option<String>,
}

/// A running auditor: its stats and board, and a stop switch.
pub struct Auditor {
    pub stats: Arc<Mutex<AuditorStats>>,
    pub board: Arc<Mutex<AuditBoard>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Auditor {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    pub fn stats(&self) -> AuditorStats {
        self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

struct Client {
    eth: HttpClient,
    /// The same node as the markets' client: audit requests, payments and evidence trials.
    market: crate::compute::client::MarketClient,
    storage: Option<HttpClient>,
    settings: AuditorSettings,
    stats: Arc<Mutex<AuditorStats>>,
}

impl Client {
    async fn view<C: SolCall>(&self, call: C) -> anyhow::Result<C::Return> {
        let out: Bytes = self.eth.request("eth_call", rpc_params![json!({"to": MANAGER_ADDRESS, "data": Bytes::from(call.abi_encode())}), "latest"]).await?;
        Ok(C::abi_decode_returns(&out)?)
    }

    async fn send<C: SolCall>(&self, key: &PrivateKeySigner, call: C, value: U256, what: &str) -> anyhow::Result<B256> {
        crate::signing::send_and_wait(&self.eth, key, (MANAGER_ADDRESS, value, call.abi_encode().into()), 1_000_000, what).await
    }

    /// Names the operator (with the holder's key, when given) and tops the bond up to the minimum.
    async fn register(&self) -> anyhow::Result<()> {
        let operator = self.settings.operator_key.address();
        for licence in &self.settings.licences {
            let current = self.view(IAlignmentManager::operatorOfCall { tokenId: U256::from(*licence) }).await?;
            if current == operator {
                continue;
            }
            let Some(holder) = &self.settings.holder_key else {
                bail!("licence {licence} names operator {current}, not {operator}: its holder must call setOperator({licence}, {operator})");
            };
            self.send(holder, IAlignmentManager::setOperatorCall { tokenId: U256::from(*licence), operator }, U256::ZERO, "setOperator").await?;
        }
        let bond = self.view(IAlignmentManager::bondOfCall { operator }).await?;
        let min = self.view(IAlignmentManager::minBondCall {}).await?;
        if bond < min {
            self.send(&self.settings.operator_key, IAlignmentManager::bondCall {}, min - bond, "bond").await?;
        }
        Ok(())
    }

    /// Every published file and confirmed blob from block `from` on, in chain order.
    async fn scan(&self, from: u64, to: u64, universe: &mut AuditUniverse) -> anyhow::Result<()> {
        let filter = json!({"fromBlock": format!("0x{from:x}"), "toBlock": format!("0x{to:x}"),
            "address": [zg_systems::storage::flow::FLOW_ADDRESS, zg_systems::da::entrance::DA_ENTRANCE_ADDRESS, VERIFIED_INFERENCE_ADDRESS, zg_systems::compute::contracts::INFERENCE_ADDRESS]});
        let logs: Vec<Value> = self.eth.request("eth_getLogs", rpc_params![filter]).await.context("eth_getLogs")?;
        for log in logs {
            let Some(decoded) = decode_log(&log) else { continue };
            let block = crate::rpc::quantity_of(&log["blockNumber"]);
            if let Some(file) = zg_systems::storage::flow::decode_submit(&decoded, block) {
                universe.files.push(PublishedFile { tx_seq: file.tx_seq, root: file.root(), size: file.size });
            } else if decoded.address == zg_systems::compute::contracts::INFERENCE_ADDRESS {
                use alloy_sol_types::SolEvent;
                use zg_systems::compute::contracts::inference_events::IInferenceServingEvents::{ServiceRemoved, ServiceUpdated};
                if let Ok(event) = ServiceUpdated::decode_log(&decoded) {
                    universe.chat_services.retain(|s| s.provider != event.service);
                    if checks::can_rerun(&event.model) {
                        universe.chat_services.push(ChatService { provider: event.service, model: event.model.clone() });
                    }
                } else if let Ok(event) = ServiceRemoved::decode_log(&decoded) {
                    universe.chat_services.retain(|s| s.provider != event.service);
                }
            } else if decoded.address == VERIFIED_INFERENCE_ADDRESS {
                use alloy_sol_types::SolEvent;
                if let Ok(event) = IVerifiedInference::ProviderRegistered::decode_log(&decoded) {
                    universe.providers.retain(|p| p.provider != event.provider);
                    universe.providers.push(ServingProvider { provider: event.provider, url: event.url.clone() });
                } else if let Ok(event) = IVerifiedInference::Slashed::decode_log(&decoded) {
                    universe.providers.retain(|p| p.provider != event.provider);
                }
            } else if let Some(zg_systems::da::entrance::EntranceEvent::Verified { data_root, .. }) = zg_systems::da::entrance::decode_event(&decoded) {
                universe.blobs.push(data_root);
            }
        }
        Ok(())
    }

    async fn check(&self, target: &AuditTarget) -> Result<(), Failure> {
        match target {
            AuditTarget::StorageSegment { tx_seq, root, size, segment } => {
                let Some(storage) = &self.storage else { return Err("no storage node to ask".into()) };
                let (fetched, verdict) = checks::storage_segment_on_holders(&self.market, storage, self.settings.operator_key.address(), (*tx_seq, *root, *size, *segment)).await;
                self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner).bytes_fetched += fetched;
                verdict
            }
            AuditTarget::DaBlob { data_root } => {
                let report: Value = self
                    .eth
                    .request("da_sample", rpc_params![data_root, self.settings.da_samples])
                    .await
                    .map_err(|e| format!("da_sample: {e}"))?;
                if report["available"] == true { Ok(()) } else { Err(format!("sampling failed: {report}").into()) }
            }
            AuditTarget::VerifiedResult { provider, url, input_seed } => {
                checks::verified_result(&self.market, &self.settings.operator_key, *provider, url, *input_seed).await
            }
            AuditTarget::ChatRecord { provider, model, prompt_seed } => {
                checks::chat_record(&self.market, &self.settings.operator_key, *provider, model, *prompt_seed).await
            }
        }
    }

    /// Sends evidence through the manager; whether the market upheld it.
    async fn accuse(&self, accusation: &checks::Accusation) -> anyhow::Result<bool> {
        let gas = checks::accusation_gas(&accusation.input);
        let hash = crate::signing::send_and_wait(&self.eth, &self.settings.operator_key, (MANAGER_ADDRESS, U256::ZERO, accusation.input.clone()), gas, "an accusation").await?;
        let receipt: Value = self.eth.request("eth_getTransactionReceipt", rpc_params![hash]).await?;
        let upheld = receipt["logs"].as_array().into_iter().flatten().filter_map(decode_log).find_map(|log| {
            use alloy_sol_types::SolEvent;
            IAlignmentManager::Accused::decode_log(&log).ok().map(|event| event.upheld)
        });
        upheld.context("the accusation's receipt has no Accused event")
    }
}

/// A JSON log as alloy's, or None when malformed.
fn decode_log(log: &Value) -> Option<alloy_primitives::Log> {
    let address: Address = serde_json::from_value(log["address"].clone()).ok()?;
    let topics: Vec<B256> = serde_json::from_value(log["topics"].clone()).ok()?;
    let data: Bytes = serde_json::from_value(log["data"].clone()).ok()?;
    alloy_primitives::Log::new(address, topics, data)
}

/// Starts the auditor: registers its operator and bond, then runs until stopped.
pub fn start(settings: AuditorSettings, runtime: tokio::runtime::Handle) -> anyhow::Result<Auditor> {
    let eth = HttpClientBuilder::default().request_timeout(Duration::from_secs(30)).build(&settings.rpc_url).context("the node's JSON-RPC URL")?;
    let storage = match &settings.storage_url {
        Some(url) => Some(HttpClientBuilder::default().request_timeout(Duration::from_secs(30)).build(url).context("the storage node's URL")?),
        None => None,
    };
    let stats = Arc::new(Mutex::new(AuditorStats::default()));
    let market = crate::compute::client::MarketClient::new(&settings.rpc_url)?;
    let client = Arc::new(Client { eth, market, storage, settings: settings.clone(), stats: stats.clone() });
    let stop = Arc::new(AtomicBool::new(false));
    let board = Arc::new(Mutex::new(AuditBoard::default()));
    let (report_tx, report_rx) = crossbeam_channel::unbounded();
    let (order_tx, order_rx) = crossbeam_channel::unbounded();
    let mut threads = Vec::new();

    // The tick: audits as entities.
    {
        let (stop, board) = (stop.clone(), board.clone());
        let plugin = AuditorPlugin { reports: report_rx, orders: order_tx, quota: settings.quota };
        threads.push(std::thread::Builder::new().name("alignment-tick".into()).spawn(move || {
            let mut world = bevy_ecs::world::World::new();
            let mut schedule = zg_systems::tick_schedule(&mut world, &[&plugin as &dyn zg_systems::NodePlugin]);
            schedule.set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
            while !stop.load(Ordering::Relaxed) {
                schedule.run(&mut world);
                *board.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = world.resource::<AuditBoard>().clone();
                std::thread::sleep(Duration::from_millis(50));
            }
        })?);
    }
    // The watcher: registration, then each epoch opened with its seed and universe.
    {
        let (client, stop, reports, runtime) = (client.clone(), stop.clone(), report_tx.clone(), runtime.clone());
        threads.push(std::thread::Builder::new().name("alignment-watch".into()).spawn(move || {
            runtime.block_on(async move {
                let mut registered = false;
                let mut last_epoch: Option<u64> = None;
                let mut scanned_to = 0u64;
                let mut universe = AuditUniverse::default();
                while !stop.load(Ordering::Relaxed) {
                    if !registered {
                        match client.register().await {
                            Ok(()) => registered = true,
                            Err(error) => tracing::warn!(%error, "alignment: registering the operator failed; retrying"),
                        }
                    }
                    if registered && let Err(error) = watch_step(&client, &reports, &mut last_epoch, &mut scanned_to, &mut universe).await {
                        tracing::debug!(%error, "alignment: watching the chain");
                    }
                    tokio::time::sleep(client.settings.poll).await;
                }
            })
        })?);
    }
    // The checker and reporter: the tick's orders, one at a time.
    {
        let (client, stop, runtime) = (client.clone(), stop.clone(), runtime);
        threads.push(std::thread::Builder::new().name("alignment-work".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(order) = order_rx.recv_timeout(Duration::from_millis(100)) else { continue };
                let report = runtime.block_on(carry_out(&client, order));
                if report_tx.send(report).is_err() {
                    return;
                }
            }
        })?);
    }
    Ok(Auditor { stats, board, stop, threads })
}

async fn watch_step(
    client: &Client,
    reports: &crossbeam_channel::Sender<AuditorReport>,
    last_epoch: &mut Option<u64>,
    scanned_to: &mut u64,
    universe: &mut AuditUniverse,
) -> anyhow::Result<()> {
    let epoch: u64 = client.view(IAlignmentManager::currentEpochCall {}).await?.try_into().context("epoch overflow")?;
    if *last_epoch == Some(epoch) {
        return Ok(());
    }
    // The seed needs the epoch's first block sealed; until then, try again next poll.
    let seed = client.view(IAlignmentManager::seedCall { epoch: U256::from(epoch) }).await?;
    let head: U256 = client.eth.request("eth_blockNumber", rpc_params![]).await?;
    let head: u64 = head.try_into().context("head overflow")?;
    // In windows well under eth_getLogs' block-range cap; a failed window is retried next poll.
    while *scanned_to <= head {
        let end = (*scanned_to + SCAN_WINDOW_BLOCKS - 1).min(head);
        client.scan(*scanned_to, end, universe).await?;
        *scanned_to = end + 1;
    }
    *last_epoch = Some(epoch);
    client.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner).epochs_opened += 1;
    reports.send(AuditorReport::EpochOpened { epoch, seed, universe: universe.clone() })?;
    Ok(())
}

async fn carry_out(client: &Client, order: AuditorOrder) -> AuditorReport {
    match order {
        AuditorOrder::Check { epoch, index, target } => {
            let started = Instant::now();
            let verdict = client.check(&target).await;
            {
                let mut stats = client.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                stats.checks += 1;
                stats.check_seconds += started.elapsed().as_secs_f64();
            }
            let Err(failure) = verdict else { return AuditorReport::Checked { epoch, index, passed: true, detail: String::new() } };
            let mut detail = failure.reason;
            tracing::warn!(epoch, kind = target.kind(), reason = %detail, "alignment audit failed");
            for accusation in &failure.accusations {
                let outcome = client.accuse(accusation).await;
                let mut stats = client.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                stats.accusations += 1;
                match outcome {
                    Ok(upheld) => {
                        stats.upheld += u64::from(upheld);
                        tracing::warn!(epoch, target = %accusation.target, upheld, "alignment accusation judged");
                        detail.push_str(if upheld { "; accused: upheld" } else { "; accused: refused" });
                    }
                    Err(error) => {
                        tracing::warn!(epoch, target = %accusation.target, %error, "alignment accusation not sent");
                        detail.push_str(&format!("; the accusation was not sent: {error:#}"));
                    }
                }
            }
            let mut stats = client.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            stats.failed += 1;
            stats.last_failure = Some(format!("{}: {detail}", target.kind()));
            AuditorReport::Checked { epoch, index, passed: false, detail }
        }
        AuditorOrder::Report { epoch, checked, failed, digest } => {
            let call = IAlignmentManager::submitReportCall {
                epoch: U256::from(epoch),
                tokenIds: client.settings.licences.iter().map(|id| U256::from(*id)).collect(),
                checked: U256::from(checked),
                failed: U256::from(failed),
                digest,
            };
            match client.send(&client.settings.operator_key, call, U256::ZERO, "the epoch report").await {
                Ok(hash) => {
                    let receipt: Value = client.eth.request("eth_getTransactionReceipt", rpc_params![hash]).await.unwrap_or(Value::Null);
                    let gas = crate::rpc::quantity_of(&receipt["gasUsed"]);
                    let mut stats = client.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    stats.reports_sent += 1;
                    stats.report_gas += gas;
                    tracing::info!(epoch, checked, failed, gas, "alignment report sent");
                    AuditorReport::Reported { epoch, sent: true }
                }
                Err(error) => {
                    tracing::warn!(epoch, %error, "alignment report not sent");
                    AuditorReport::Reported { epoch, sent: false }
                }
            }
        }
    }
}
