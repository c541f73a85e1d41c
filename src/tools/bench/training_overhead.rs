//! `zgnode bench training`'s second half: what one fine-tuning task costs the provider beyond
//! training, measured on a dev chain (100 ms blocks) with its storage node and the provider
//! `zgnode dev` runs, driven through the fine-tuning API as the SDK drives it: admission (the
//! HTTP call: signature, dataset tokenized, the service and the sub-account read from chain), delivery (encrypt, upload to 0G
//! storage, addDeliverable) and settlement (settleFees), in milliseconds and gas, read from
//! the task's log where the provider writes them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::compute::client::MarketClient;
use crate::compute::training::dataset::Example;
use zg_systems::compute::contracts::{FINE_TUNING_ADDRESS, FINE_TUNING_SERVICE_NAME, IFineTuningServing, ILedgerManager, LEDGER_ADDRESS};
use zg_systems::compute::fine_tuning::{dataset_upload_digest, task_request_digest};

/// One task's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskOverhead {
    pub tokens: u64,
    /// The createTask call, as the user waits for it.
    pub admission_ms: f64,
    pub training_s: f64,
    pub delivery: Delivery,
    pub settlement: Settlement,
    /// From the user's acknowledgement landing to the task Finished (includes the wait for the
    /// provider's next look at the chain, at most its `poll_secs`).
    pub acknowledged_to_finished_ms: f64,
    /// The user's acknowledgeDeliverable.
    pub acknowledge_gas: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delivery {
    pub ms: u64,
    pub encrypt_ms: u64,
    pub upload_ms: u64,
    pub upload_gas: u64,
    pub add_deliverable_gas: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settlement {
    pub ms: u64,
    pub gas: u64,
}

pub struct OverheadReport {
    pub tasks: Vec<TaskOverhead>,
    pub examples: usize,
    pub epochs: u32,
    pub poll_secs: u64,
}

/// The numbers in `delivery: … ms (encrypt … ms, storage upload … ms), gas … for the storage
/// submission, … for addDeliverable` and `settlement: … ms, gas … for settleFees`.
fn numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).filter_map(|w| w.parse().ok()).collect()
}

/// The provider's own figures from a task's log.
pub fn parse_log(log: &str) -> anyhow::Result<(Delivery, Settlement, f64)> {
    let after = |marker: &str| log.lines().rev().find_map(|l| l.split_once(marker).map(|(_, rest)| rest.to_string()));
    let delivery = after("delivery: ").ok_or_else(|| anyhow::anyhow!("the task's log has no delivery line"))?;
    let settlement = after("settlement: ").ok_or_else(|| anyhow::anyhow!("the task's log has no settlement line"))?;
    let trained = after("trained: ").ok_or_else(|| anyhow::anyhow!("the task's log has no trained line"))?;
    let [ms, encrypt_ms, upload_ms, upload_gas, add_deliverable_gas] = numbers(&delivery)[..] else { anyhow::bail!("an unexpected delivery line: {delivery}") };
    let [settle_ms, gas] = numbers(&settlement)[..] else { anyhow::bail!("an unexpected settlement line: {settlement}") };
    let training_s = trained.rsplit_once(" in ").and_then(|(_, s)| s.trim_end_matches('s').parse().ok()).unwrap_or_default();
    Ok((Delivery { ms, encrypt_ms, upload_ms, upload_gas, add_deliverable_gas }, Settlement { ms: settle_ms, gas }, training_s))
}

/// One HTTP/1.1 request to the provider: the status and the body.
async fn http(addr: SocketAddr, method: &str, path: &str, content_type: &str, body: &[u8]) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response)).await??;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body.to_string()))
}

fn sign(user: &PrivateKeySigner, digest: alloy_primitives::B256) -> anyhow::Result<String> {
    Ok(alloy_primitives::hex::encode_prefixed(user.sign_message_sync(digest.as_slice())?.as_bytes()))
}

/// Instruction examples as the JSONL 0G's docs describe.
fn dataset(examples: &[Example]) -> String {
    examples
        .iter()
        .map(|e| serde_json::json!({"instruction": e.messages[0].content, "output": e.answer}).to_string() + "\n")
        .collect()
}

struct Client<'a> {
    base: SocketAddr,
    user: &'a PrivateKeySigner,
    user_text: String,
}

impl Client<'_> {
    async fn upload(&self, jsonl: &str) -> anyhow::Result<String> {
        let now = crate::wall_clock::now_secs();
        let signature = sign(self.user, dataset_upload_digest(&self.user_text, now))?;
        let boundary = "zgnodebench";
        let form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.jsonl\"\r\n\r\n{jsonl}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\n{signature}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"timestamp\"\r\n\r\n{now}\r\n--{boundary}--\r\n"
        );
        let (status, body) = http(self.base, "POST", &format!("/v1/user/{}/dataset", self.user_text), &format!("multipart/form-data; boundary={boundary}"), form.as_bytes()).await?;
        anyhow::ensure!(status == 200, "the dataset upload: {status} {body}");
        let value: serde_json::Value = serde_json::from_str(&body)?;
        value["datasetHash"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no datasetHash in {body}"))
    }

    async fn task(&self, id: &str) -> anyhow::Result<serde_json::Value> {
        let (status, body) = http(self.base, "GET", &format!("/v1/user/{}/task/{id}", self.user_text), "application/json", b"").await?;
        anyhow::ensure!(status == 200, "reading task {id}: {status} {body}");
        Ok(serde_json::from_str(&body)?)
    }

    async fn wait_for(&self, id: &str, wanted: &str) -> anyhow::Result<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let task = self.task(id).await?;
            if task["progress"] == wanted {
                return Ok(task);
            }
            anyhow::ensure!(task["progress"] != "Failed", "task {id} failed: {}", task["reason"]);
            anyhow::ensure!(Instant::now() < deadline, "task {id} is still {}", task["progress"]);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// `tasks` tasks, one after another, each on `examples` for `epochs`.
pub async fn run(tasks: usize, examples: &[Example], epochs: u32) -> anyhow::Result<OverheadReport> {
    let dir = tempfile::tempdir()?;
    let config = super::storage::dev_storage_config(dir.path())?;
    let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    let node = crate::RunningNode::start(&config, &genesis).await?;
    let rpc = node.rpc_url().ok_or_else(|| anyhow::anyhow!("JSON-RPC is off"))?;
    let storage = format!("http://{}", node.storage_addr.ok_or_else(|| anyhow::anyhow!("the storage role did not start"))?);
    let mut provider_config = crate::compute::dev_provider::dev_config(&rpc, "127.0.0.1:0".parse()?, &dir.path().join("provider"));
    provider_config.settle_interval_secs = 3600;
    let poll_secs = 1;
    provider_config.fine_tuning = Some(crate::compute::fine_tuning::config::FineTuningConfig { poll_secs, ..crate::compute::dev_provider::dev_fine_tuning(Some(storage)) });
    let provider = crate::compute::dev_provider::start(provider_config).await?;
    let result = measure(&rpc, provider.addr, provider.state.provider, tasks, examples, epochs).await;
    provider.stop().await;
    node.stop().await?;
    Ok(OverheadReport { tasks: result?, examples: examples.len(), epochs, poll_secs })
}

async fn measure(rpc: &str, base: SocketAddr, provider: Address, tasks: usize, examples: &[Example], epochs: u32) -> anyhow::Result<Vec<TaskOverhead>> {
    let market = MarketClient::new(rpc)?;
    let user = PrivateKeySigner::from_bytes(&crate::dev::dev_accounts()[1].private_key)?;
    let ether = |n: u64| U256::from(n) * U256::from(10u64).pow(U256::from(18));
    market.send(&user, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, ether(10)).await?;
    market.send(&user, LEDGER_ADDRESS, &ILedgerManager::transferFundCall { provider, serviceName: FINE_TUNING_SERVICE_NAME.into(), amount: ether(5) }, U256::ZERO).await?;
    market.send(&user, FINE_TUNING_ADDRESS, &IFineTuningServing::acknowledgeTEESignerCall { provider, acknowledged: true }, U256::ZERO).await?;
    let client = Client { base, user: &user, user_text: user.address().to_checksum(None) };
    let (_, body) = http(base, "GET", "/v1/model", "application/json", b"").await?;
    let models: serde_json::Value = serde_json::from_str(&body)?;
    let model_hash = models[0]["hash"].as_str().ok_or_else(|| anyhow::anyhow!("no model in {body}"))?.to_string();
    let jsonl = dataset(examples);
    let mut figures = Vec::new();
    for nonce in 1..=tasks as u64 {
        let dataset_hash = client.upload(&jsonl).await?;
        let signature = sign(&user, task_request_digest(user.address(), U256::from(nonce), &dataset_hash))?;
        let request = serde_json::json!({
            "userAddress": client.user_text, "datasetHash": dataset_hash, "trainingParams": format!(r#"{{"num_train_epochs": {epochs}}}"#),
            "preTrainedModelHash": model_hash, "fee": "0", "nonce": nonce.to_string(), "signature": signature, "wait": false,
        });
        let asked = Instant::now();
        let (status, body) = http(base, "POST", &format!("/v1/user/{}/task", client.user_text), "application/json", request.to_string().as_bytes()).await?;
        let admission_ms = asked.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(status == 200, "createTask: {status} {body}");
        let id = serde_json::from_str::<serde_json::Value>(&body)?["id"].as_str().ok_or_else(|| anyhow::anyhow!("no id in {body}"))?.to_string();
        let delivered = client.wait_for(&id, "Delivered").await?;
        let hash = market.send(&user, FINE_TUNING_ADDRESS, &IFineTuningServing::acknowledgeDeliverableCall { provider, id: id.clone() }, U256::ZERO).await?;
        let acknowledged = Instant::now();
        let acknowledge_gas = market.gas_used(hash).await?;
        client.wait_for(&id, "Finished").await?;
        let acknowledged_to_finished_ms = acknowledged.elapsed().as_secs_f64() * 1e3;
        let (_, log) = http(base, "GET", &format!("/v1/user/{}/task/{id}/log", client.user_text), "application/json", b"").await?;
        let (delivery, settlement, training_s) = parse_log(&log)?;
        let tokens = delivered["datasetTokens"].as_u64().unwrap_or_default();
        figures.push(TaskOverhead { tokens, admission_ms, training_s, delivery, settlement, acknowledged_to_finished_ms, acknowledge_gas });
    }
    Ok(figures)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

pub fn print(r: &OverheadReport) {
    let Some(first) = r.tasks.first() else { return };
    println!(
        "provider overhead per task ({} tasks of {} examples = {} tokens × {} epochs, dev chain with 100 ms blocks and its storage node; medians):",
        r.tasks.len(),
        r.examples,
        first.tokens,
        r.epochs
    );
    let m = |f: fn(&TaskOverhead) -> f64| median(r.tasks.iter().map(f).collect());
    println!("  admission (createTask)      {:>8.1} ms   gas 0 (chain reads only: the service, the sub-account)", m(|t| t.admission_ms));
    println!("  training (for scale)        {:>8.1} ms", m(|t| t.training_s * 1e3));
    println!(
        "  delivery                    {:>8.1} ms   (encrypt {:.1} ms, storage upload {:.1} ms)   gas {:.0} storage submission + {:.0} addDeliverable",
        m(|t| t.delivery.ms as f64),
        m(|t| t.delivery.encrypt_ms as f64),
        m(|t| t.delivery.upload_ms as f64),
        m(|t| t.delivery.upload_gas as f64),
        m(|t| t.delivery.add_deliverable_gas as f64)
    );
    println!("  settlement (settleFees)     {:>8.1} ms   gas {:.0}", m(|t| t.settlement.ms as f64), m(|t| t.settlement.gas as f64));
    println!(
        "  acknowledged -> Finished    {:>8.1} ms   (the provider looks every {} s; the user's acknowledgeDeliverable: gas {:.0})",
        m(|t| t.acknowledged_to_finished_ms),
        r.poll_secs,
        m(|t| t.acknowledge_gas as f64)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_log_lines_read_back() {
        let log = "1 trained: 60 steps, loss 3.0 -> 1.0, 177 tokens in 1.2s\n\
                   2 delivery: 412 ms (encrypt 3 ms, storage upload 380 ms), gas 91234 for the storage submission, 120345 for addDeliverable\n\
                   3 settlement: 220 ms, gas 80123 for settleFees\n";
        let (delivery, settlement, training_s) = parse_log(log).unwrap();
        assert_eq!(delivery, Delivery { ms: 412, encrypt_ms: 3, upload_ms: 380, upload_gas: 91234, add_deliverable_gas: 120345 });
        assert_eq!(settlement, Settlement { ms: 220, gas: 80123 });
        assert!((training_s - 1.2).abs() < 1e-9);
        assert!(parse_log("1 trained: x in 1s\n").is_err());
        assert!(parse_log("delivery: 1 ms\nsettlement: 2 ms, gas 3\ntrained: in 1s").is_err(), "a delivery line with too few numbers");
    }
}
