//! Shared helpers for the integration tests: nodes on 127.0.0.1, a raw HTTP JSON-RPC client
//! (so tests can send malformed bytes too) and signed transactions from the dev accounts.
#![allow(dead_code)]

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zgnode::NodeConfig;

pub const CHAIN_ID: u64 = 31337;

pub fn dev_key(index: usize) -> PrivateKeySigner {
    let account = &zgnode::dev::dev_accounts()[index];
    PrivateKeySigner::from_bytes(&account.private_key).expect("dev key")
}

/// A config for a fast in-memory test node on a free port.
pub fn test_config() -> NodeConfig {
    let mut config = NodeConfig::default();
    config.node.ephemeral = true;
    config.node.tick_ms = 2;
    config.chain.block_time_ms = 50;
    config.rpc.addr = "127.0.0.1:0".parse().unwrap();
    config
}

pub fn sign(signer: &PrivateKeySigner, to: TxKind, value: U256, input: Bytes, nonce: u64, gas_limit: u64) -> TxEnvelope {
    zgnode::signing::sign_eip1559(signer, CHAIN_ID, to, value, input, nonce, gas_limit)
}

/// The 0x-hex EIP-2718 bytes eth_sendRawTransaction takes.
/// Sends `call` from dev account `from` with `nonce`; whether its receipt says success.
pub fn send_call<C: alloy_sol_types::SolCall>(addr: SocketAddr, from: usize, to: Address, call: &C, value: U256, nonce: u64) -> bool {
    let tx = raw(&sign(&dev_key(from), TxKind::Call(to), value, Bytes::from(call.abi_encode()), nonce, 3_000_000));
    let hash = ok(addr, "eth_sendRawTransaction", json!([tx]));
    wait_receipt(addr, hash.as_str().unwrap_or_default(), Duration::from_secs(30))["status"] == "0x1"
}

pub fn raw(tx: &TxEnvelope) -> String {
    alloy_primitives::hex::encode_prefixed(tx.encoded_2718())
}

pub fn raw_transfer(signer: &PrivateKeySigner, to: Address, value: u64, nonce: u64) -> String {
    raw(&sign(signer, TxKind::Call(to), U256::from(value), Bytes::new(), nonce, 21_000))
}

/// Sends raw bytes as an HTTP POST and returns (status, body).
pub fn http_post(addr: SocketAddr, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before reading an oversized body.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = if headers.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// One JSON-RPC call; returns the whole response object.
/// A raw HTTP request; the status line's code, the headers (lowercase) and the body.
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// The status page's data (`GET /status/snapshot`).
pub fn status_snapshot(addr: SocketAddr) -> Value {
    let (status, _, body) = http(addr, "GET", "/status/snapshot", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("the snapshot is JSON")
}

pub fn rpc(addr: SocketAddr, method: &str, params: Value) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, body) = http_post(addr, request.to_string().as_bytes());
    assert_eq!(status, 200, "{method}: HTTP {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method}: bad JSON {body:?}: {e}"))
}

/// The `result` of a call that must succeed.
pub fn ok(addr: SocketAddr, method: &str, params: Value) -> Value {
    let response = rpc(addr, method, params);
    match response.get("result") {
        Some(result) => result.clone(),
        None => panic!("{method} failed: {response}"),
    }
}

/// The `(code, message)` of a call that must fail.
pub fn err(addr: SocketAddr, method: &str, params: Value) -> (i64, String) {
    let response = rpc(addr, method, params);
    let error = response.get("error").unwrap_or_else(|| panic!("{method} should fail: {response}"));
    (error["code"].as_i64().unwrap(), error["message"].as_str().unwrap().to_string())
}

pub fn quantity(value: &Value) -> u64 {
    let text = value.as_str().unwrap_or_else(|| panic!("not a quantity: {value}"));
    u64::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex quantity")
}

/// Polls for a receipt until it appears or `timeout` passes.
pub fn wait_receipt(addr: SocketAddr, hash: &str, timeout: Duration) -> Value {
    let started = Instant::now();
    loop {
        let receipt = ok(addr, "eth_getTransactionReceipt", json!([hash]));
        if !receipt.is_null() {
            return receipt;
        }
        assert!(started.elapsed() < timeout, "no receipt for {hash} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn wait_for_block(addr: SocketAddr, number: u64, timeout: Duration) {
    let started = Instant::now();
    while quantity(&ok(addr, "eth_blockNumber", json!([]))) < number {
        assert!(started.elapsed() < timeout, "block {number} not reached within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn tx_hash(raw: &str) -> B256 {
    alloy_primitives::keccak256(alloy_primitives::hex::decode(raw).unwrap())
}

/// A `zgnode` process, killed (SIGKILL) when dropped.
pub struct NodeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// The storage JSON-RPC address, when the banner shows one.
    pub storage_addr: Option<SocketAddr>,
    /// The built-in compute provider's HTTP address, when the banner shows one.
    pub compute_addr: Option<SocketAddr>,
    /// The banner's GPU line: the card in use, or why the CPU path.
    pub gpu: Option<String>,
}

impl NodeProcess {
    /// Starts `zgnode <args>` and waits for its banner's RPC address.
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_with(args, Stdio::null())
    }

    /// Like `spawn`, with the node's log (stderr) appended to `log`.
    pub fn spawn_logged(args: &[&str], log: &Path) -> Self {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        Self::spawn_with(args, Stdio::from(file))
    }

    fn spawn_with(args: &[&str], stderr: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zgnode"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn zgnode");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut addr, mut storage, mut compute, mut gpu) = (None, None, None, None);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("JSON-RPC (HTTP): http://") {
                    addr = url.trim().parse::<SocketAddr>().ok();
                }
                if let Some(rest) = line.strip_prefix("Storage RPC:") {
                    storage = rest.trim().trim_start_matches("http://").split_whitespace().next().and_then(|a| a.parse().ok());
                }
                if let Some(rest) = line.strip_prefix("GPU:") {
                    gpu = Some(rest.trim().to_string());
                }
                if let Some(rest) = line.strip_prefix("Compute provider: http://") {
                    compute = rest.split_whitespace().next().and_then(|a| a.parse().ok());
                }
                if line == "ready" {
                    let _ = sender.send(addr.map(|a| (a, storage, compute, gpu.clone())));
                }
            }
        });
        let (addr, storage_addr, compute_addr, gpu) = receiver
            .recv_timeout(Duration::from_secs(60))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("zgnode {args:?} did not start"));
        Self { child, addr, storage_addr, compute_addr, gpu }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `zgnode compute serve --config CONFIG`: the child and the address its banner names.
pub fn spawn_compute_serve(config: &Path) -> (Child, SocketAddr) {
    let (child, addr) = spawn_compute_serve_with(config, &[]);
    (child, addr.expect("the provider starts"))
}

/// `zgnode compute serve` with extra environment variables (a crash drill's `ZG_CRASH_AT`);
/// its address, or None when it exits before serving.
pub fn spawn_compute_serve_with(config: &Path, envs: &[(&str, &str)]) -> (Child, Option<SocketAddr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zgnode"))
        .args(["compute", "serve", "--config", &config.display().to_string()])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn zgnode compute serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find(" at http://") {
                let _ = tx.send(line[at + 11..].trim().parse::<SocketAddr>().ok());
            }
        }
    });
    (child, rx.recv_timeout(Duration::from_secs(120)).ok().flatten())
}

pub fn dev_args(data_dir: &Path) -> Vec<String> {
    vec![
        "dev".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--rpc-addr".into(),
        "127.0.0.1:0".into(),
        "--block-time-ms".into(),
        "50".into(),
        // The dev chain is a storage node too; keep tests off 0G's fixed port 5678.
        "--storage-addr".into(),
        "127.0.0.1:0".into(),
        // And a DA node: off 0G's fixed disperser port 51001.
        "--da-grpc-addr".into(),
        "127.0.0.1:0".into(),
        // And no built-in compute provider (its transactions would move dev account 7's nonce
        // under tests that use it); tests/compute_provider.rs runs one.
        "--no-compute-provider".into(),
        // And no alignment auditor (its transactions would move dev account 5's nonce);
        // tests/alignment.rs runs one.
        "--no-alignment".into(),
    ]
}

/// A node running in this process on its own tokio runtime.
pub struct InProcessNode {
    pub runtime: tokio::runtime::Runtime,
    pub node: Option<zgnode::RunningNode>,
    pub addr: SocketAddr,
}

pub fn start_node(config: &NodeConfig) -> InProcessNode {
    start_node_with(config, &zgnode::dev::dev_genesis(CHAIN_ID)).expect("node starts")
}

pub fn start_node_with(
    config: &NodeConfig,
    genesis: &zg_components::chain::Genesis,
) -> Result<InProcessNode, zgnode::node::NodeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let node = runtime.block_on(zgnode::RunningNode::start(config, genesis))?;
    let addr = node.rpc_addr.expect("from_config turns JSON-RPC on");
    Ok(InProcessNode { runtime, node: Some(node), addr })
}

impl InProcessNode {
    pub fn stop(mut self) {
        if let Some(node) = self.node.take() {
            self.runtime.block_on(node.stop()).expect("clean stop");
        }
    }
}

/// Installs the storage SDKs from the committed lock file when they are missing.
pub fn ensure_sdk(dir: &Path) {
    ensure_npm_dir(dir, &["@0gfoundation/0g-ts-sdk", "@0glabs/0g-ts-sdk"]);
}

/// `npm ci` in `dir` (its committed lock file) unless every package in `packages` is there.
pub fn ensure_npm_dir(dir: &Path, packages: &[&str]) {
    if packages.iter().all(|p| dir.join("node_modules").join(p).exists()) {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm is needed for the SDK test (Node.js 18+)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// Dev account 0's `n`-th transaction nonce: the dev genesis starts it past the nonces whose
/// CREATE addresses hold the compute marketplace (0G's Hardhat deployment order).
pub fn dev0_nonce(n: u64) -> u64 {
    zg_systems::compute::contracts::DEPLOYER_NONCE + n
}

/// Deploys `assets/contracts/ZgToken.json` (name "Test", 1,000,000 tokens to dev account 0)
/// as dev account 0's `nonce`-th transaction; returns its address.
pub fn deploy_token(addr: SocketAddr, nonce: u64) -> Address {
    use alloy_sol_types::SolValue;
    let artifact: Value = serde_json::from_str(include_str!("../../assets/contracts/ZgToken.json")).expect("artifact");
    let mut code = alloy_primitives::hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap();
    code.extend(("Test".to_string(), "TST".to_string(), U256::from(1_000_000u64)).abi_encode_params());
    let tx = sign(&dev_key(0), TxKind::Create, U256::ZERO, code.into(), dev0_nonce(nonce), 3_000_000);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw(&tx)]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), Duration::from_secs(20));
    assert_eq!(receipt["status"], "0x1", "deploy failed: {receipt}");
    receipt["contractAddress"].as_str().unwrap().parse().unwrap()
}

/// `0x`-prefixed hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(bytes))
}

/// Polls da_getBlobStatus until `wanted` (panics on FAILED / INSUFFICIENT_SIGNATURES or after
/// two minutes); returns every status seen, in order.
pub fn wait_blob_status(addr: SocketAddr, id: &str, wanted: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let status = ok(addr, "da_getBlobStatus", json!([id]));
        let name = status["status"].as_str().unwrap_or_default().to_string();
        if seen.last() != Some(&name) {
            seen.push(name.clone());
        }
        if name == wanted {
            return seen;
        }
        assert!(!["FAILED", "INSUFFICIENT_SIGNATURES"].contains(&name.as_str()), "dispersal ended {status}");
        assert!(std::time::Instant::now() < deadline, "not {wanted} in time: {seen:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Go client, fetched once (`.ci/run` does it up front).
pub fn go_client() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/storage-go");
    let binary = dir.join("bin/0g-storage-client");
    if !binary.exists() {
        let status = std::process::Command::new("bash").arg(dir.join("install.sh")).status().expect("bash runs");
        assert!(status.success(), "tests/storage-go/install.sh could not fetch the Go client");
    }
    binary
}

/// Runs the Go client with quick retries; its combined output.
pub fn run_go(args: &[&str]) -> String {
    let output = std::process::Command::new(go_client())
        .args(args)
        .args(["--log-color-disabled", "--rpc-retry-count", "2", "--rpc-retry-interval", "1s"])
        .output()
        .expect("the Go client runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "0g-storage-client {}:\n{text}", args.join(" "));
    text
}


/// The data root the Go client printed after an upload.
pub fn go_uploaded_root(output: &str) -> String {
    output.rsplit("root = ").next().and_then(|rest| rest.split_whitespace().next()).expect("the Go client prints the root").trim_matches('"').to_string()
}

/// An OpenAI-compatible upstream stub (model "upstream-name"): streams "Hello" + " world" with
/// usage 11/2, or fails.
pub async fn stub_chat_upstream(fail: bool) -> SocketAddr {
    use axum::response::IntoResponse;
    let route = axum::routing::post(move |body: axum::body::Bytes| async move {
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if fail || request["stream"] != true || request["model"] != "upstream-name" {
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({"error": {"message": "out of GPU memory"}}))).into_response();
        }
        let chunk = |content: &str| format!("data: {}\n\n", serde_json::json!({"choices": [{"index": 0, "delta": {"content": content}}]}));
        let body = format!(
            "{}{}data: {}\n\ndata: [DONE]\n\n",
            chunk("Hello"),
            chunk(" world"),
            serde_json::json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 2}})
        );
        ([("content-type", "text/event-stream")], body).into_response()
    });
    let app = axum::Router::new().route("/v1/chat/completions", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// An alignment auditor against `rpc_url` (and, for segments, `storage_url`) for licence
/// `account + 1`, which dev account `account` holds and operates; 8 shares a sampled blob.
pub fn test_auditor(rpc_url: String, storage_url: Option<String>, account: usize, poll_ms: u64, quota: zg_components::alignment::AuditQuota) -> zgnode::alignment::auditor::AuditorSettings {
    let operator = dev_key(account);
    zgnode::alignment::auditor::AuditorSettings {
        rpc_url,
        storage_url,
        operator_key: operator.clone(),
        licences: vec![account as u64 + 1],
        holder_key: Some(operator),
        quota,
        da_samples: 8,
        poll: Duration::from_millis(poll_ms),
    }
}
