//! The compute provider end to end: 0G's official SDK chatting with `zgnode dev`'s built-in
//! provider; hostile requests against an in-process provider (expired, forged and revoked
//! tokens, no sub-account, no acknowledgement, no balance, oversized bodies) refused with the
//! right status and nothing stored for them; a proxied OpenAI-compatible upstream metered by
//! its own usage; and `zgnode compute serve` SIGKILLed with unsettled requests, which settle
//! once after the restart and never twice.

mod common;

use alloy_primitives::{Address, U256};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use zg_systems::compute::contracts::{IInferenceServing, ILedgerManager, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME, InferenceAccount, LEDGER_ADDRESS};
use zgnode::compute::dev_provider::{DEV_PROVIDER_ACCOUNT, dev_config};
use zgnode::compute::provider::config::BackendConfig;
use zgnode::compute::receipt::SignedResponse;
use zgnode::compute::token::{session_header, sign_header};

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// One HTTP/1.1 exchange: status, `ZG-Res-Key` if any, body.
fn http(addr: SocketAddr, method: &str, path: &str, authorization: Option<&str>, body: &str) -> (u16, Option<String>, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let _ = stream.write_all(request.as_bytes());
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let key = head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("zg-res-key")).map(|(_, v)| v.trim().to_string()));
    (status, key, dechunk(body))
}

/// Undoes chunked transfer encoding when the body is chunked (axum streams SSE that way).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else { return body.to_string() };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { return body.to_string() };
        if size == 0 || after.len() < size {
            return if size == 0 { out } else { body.to_string() };
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
}

fn chat(max_tokens: u32, prompt: &str) -> String {
    serde_json::json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}).to_string()
}

fn account(addr: SocketAddr, user: Address, provider: Address) -> InferenceAccount {
    use alloy_sol_types::SolCall;
    let call = IInferenceServing::getAccountCall { user, provider };
    let out = ok(addr, "eth_call", serde_json::json!([{"to": INFERENCE_ADDRESS, "data": alloy_primitives::Bytes::from(call.abi_encode())}, "latest"]));
    let bytes: alloy_primitives::Bytes = serde_json::from_value(out).unwrap();
    IInferenceServing::getAccountCall::abi_decode_returns(&bytes).unwrap()
}

/// Dev account `user` opens a ledger and a sub-account with `provider` holding `amount` 0G,
/// acknowledged if asked; returns the user's next nonce.
fn fund(addr: SocketAddr, user: usize, provider: Address, amount: u64, acknowledge: bool) -> u64 {
    assert!(send_call(addr, user, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, ether(10), 0));
    let transfer = ILedgerManager::transferFundCall { provider, serviceName: INFERENCE_SERVICE_NAME.into(), amount: ether(amount) };
    assert!(send_call(addr, user, LEDGER_ADDRESS, &transfer, U256::ZERO, 1));
    if !acknowledge {
        return 2;
    }
    assert!(send_call(addr, user, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerCall { provider, acknowledged: true }, U256::ZERO, 2));
    3
}

fn balance_of(addr: SocketAddr, who: Address) -> U256 {
    serde_json::from_value(ok(addr, "eth_getBalance", serde_json::json!([who, "latest"]))).unwrap()
}

fn head(addr: SocketAddr) -> u64 {
    u64::from_str_radix(ok(addr, "eth_blockNumber", serde_json::json!([])).as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// What `who` paid in gas in blocks `from..=head`.
fn gas_spent_by(addr: SocketAddr, who: Address, from: u64) -> U256 {
    let mut spent = U256::ZERO;
    for number in from..=head(addr) {
        let block = ok(addr, "eth_getBlockByNumber", serde_json::json!([format!("0x{number:x}"), true]));
        for tx in block["transactions"].as_array().unwrap() {
            if tx["from"].as_str().unwrap().eq_ignore_ascii_case(&who.to_string()) {
                let receipt = ok(addr, "eth_getTransactionReceipt", serde_json::json!([tx["hash"]]));
                let used: U256 = serde_json::from_value(receipt["gasUsed"].clone()).unwrap();
                let price: U256 = serde_json::from_value(receipt["effectiveGasPrice"].clone()).unwrap();
                spent += used * price;
            }
        }
    }
    spent
}

fn fee_of(addr: SocketAddr, chat_id: &str) -> U256 {
    let (status, _, body) = http(addr, "GET", &format!("/v1/proxy/signature/{chat_id}"), None, "");
    assert_eq!(status, 200, "{body}");
    let signed: SignedResponse = serde_json::from_str(&body).unwrap();
    signed.record().expect("our record").fee
}

/// `tests/compute-sdk/chat.mjs` against `zgnode dev`'s built-in provider with the SDK package
/// `sdk` (the script picks it from `ZG_COMPUTE_SDK`).
fn chat_with_sdk(sdk_package: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = dev_args(dir.path());
    args.retain(|a| a != "--no-compute-provider");
    args.extend(["--compute-addr".into(), "127.0.0.1:0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    assert!(node.compute_addr.is_some(), "the banner names the provider");
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compute-sdk");
    ensure_npm_dir(&sdk, &["@0glabs/0g-serving-broker", "@0gfoundation/0g-compute-ts-sdk"]);
    let key = |i: usize| zgnode::dev::dev_accounts()[i].private_key.to_string();
    let output = Command::new("node")
        .arg(sdk.join("chat.mjs"))
        .arg(format!("http://{}", node.addr))
        .args([key(3), dev_key(DEV_PROVIDER_ACCOUNT).address().to_string(), key(4)])
        .env("ZG_COMPUTE_SDK", sdk_package)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stdout.contains("all chat checks passed"), "{sdk_package}\n{stdout}\n{stderr}");
}

/// 0G's current SDK (0.9.0): also its tiered prices, `/v1/models` and the GPU attestation check.
#[test]
fn the_current_official_sdk_chats_with_zgnode_devs_built_in_provider() {
    chat_with_sdk("@0gfoundation/0g-compute-ts-sdk");
}

/// The package name 0G's docs still show (0.7.4), while they do.
#[test]
fn the_older_official_sdk_still_chats_with_zgnode_devs_built_in_provider() {
    chat_with_sdk("@0glabs/0g-serving-broker");
}

#[test]
fn hostile_requests_are_refused_and_only_what_was_served_is_paid() {
    let mut config = test_config();
    config.rpc.dev_methods = true;
    let node = start_node(&config);
    let addr = node.addr;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut provider_config = dev_config(&format!("http://{addr}"), "127.0.0.1:0".parse().unwrap(), dir.path());
    provider_config.settle_interval_secs = 3600;
    provider_config.input_price = 1_000_000_000_000_000;
    provider_config.output_price = 2_000_000_000_000_000;
    provider_config.max_request_bytes = 8192;
    let handle = runtime.block_on(zgnode::compute::dev_provider::start(provider_config)).unwrap();
    let (api, provider) = (handle.addr, handle.state.provider);
    let (user, unacknowledged, no_account) = (1usize, 2usize, 3usize);
    let mut user_nonce = fund(addr, user, provider, 1, true);
    fund(addr, unacknowledged, provider, 1, false);
    assert!(send_call(addr, no_account, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, ether(10), 0));
    let session = |i: usize| session_header(&dev_key(i), provider, now_ms(), 0).unwrap();
    let header = session(user);

    // Served: a plain request and one with a revocable API key (token id 3).
    let (status, chat_id, body) = http(api, "POST", "/v1/proxy/chat/completions", Some(&header), &chat(4, "hi"));
    assert_eq!(status, 200, "{body}");
    let mut served = vec![chat_id.expect("ZG-Res-Key")];
    let api_key = |token_id: u64, issued: u64, expires: u64, signer: usize| {
        let message = format!(
            r#"{{"address":"{}","provider":"{provider}","timestamp":{issued},"expiresAt":{expires},"nonce":"n","generation":0,"tokenId":{token_id}}}"#,
            dev_key(user).address()
        );
        sign_header(&dev_key(signer), &message).unwrap()
    };
    let key3 = api_key(3, now_ms(), 0, user);
    let (status, chat_id, body) = http(api, "POST", "/v1/proxy/chat/completions", Some(&key3), &chat(4, "hello"));
    assert_eq!(status, 200, "{body}");
    served.push(chat_id.unwrap());

    let refusals: Vec<(Option<String>, String, u16, &str)> = vec![
        (None, chat(4, "x"), 401, "Authorization"),
        (Some("Bearer sk-openai".into()), chat(4, "x"), 401, "app-sk"),
        (Some(api_key(4, now_ms() - 10_000, now_ms() - 5_000, user)), chat(4, "x"), 401, "expired"),
        (Some(api_key(4, now_ms(), 0, 5)), chat(4, "x"), 401, "signed by"),
        (Some(session(unacknowledged)), chat(4, "x"), 403, "acknowledge"),
        (Some(session(no_account)), chat(4, "x"), 403, "no sub-account"),
        (Some(header.clone()), chat(4, &"y".repeat(1200)), 402, "cannot cover"),
        (Some(header.clone()), chat(4, &"z".repeat(9000)), 413, ""),
        (Some(header.clone()), "{\"messages\": 5}".into(), 400, "messages"),
        (Some(header.clone()), chat(100_000, "x"), 400, "max_tokens"),
    ];
    for (auth, body, want, words) in refusals {
        let (status, key, answer) = http(api, "POST", "/v1/proxy/chat/completions", auth.as_deref(), &body);
        assert_eq!(status, want, "{auth:?}: {answer}");
        assert!(answer.contains(words), "{want}: {answer}");
        assert!(key.is_none(), "no chat id for a refused request");
    }
    // Revocations on chain take effect at once: the one API key, then every token.
    assert!(send_call(addr, user, INFERENCE_ADDRESS, &IInferenceServing::revokeTokenCall { provider, tokenId: 3 }, U256::ZERO, user_nonce));
    user_nonce += 1;
    let (status, _, body) = http(api, "POST", "/v1/proxy/chat/completions", Some(&key3), &chat(4, "again"));
    assert!(status == 401 && body.contains("revoked"), "{status} {body}");
    assert!(send_call(addr, user, INFERENCE_ADDRESS, &IInferenceServing::revokeAllTokensCall { provider }, U256::ZERO, user_nonce));
    let (status, _, body) = http(api, "POST", "/v1/proxy/chat/completions", Some(&header), &chat(4, "again"));
    assert!(status == 401 && body.contains("generation"), "{status} {body}");

    // Only the two served requests are owed, and they are paid once.
    let owed: U256 = served.iter().map(|id| fee_of(api, id)).sum();
    let (status, _, body) = http(api, "GET", &format!("/v1/user/{}/unsettledfee", dev_key(user).address()), Some(&session_header(&dev_key(user), provider, now_ms(), 1).unwrap()), "");
    assert!(status == 200 && body.contains(&owed.to_string()), "{body}");
    let before = account(addr, dev_key(user).address(), provider);
    let provider_before = balance_of(addr, provider);
    let first_block = head(addr) + 1;
    let round = runtime.block_on(zgnode::compute::provider::settle::settle_round(&handle.state)).unwrap();
    assert_eq!((round.confirmed, round.requests_paid, round.paid, round.transactions), (1, 2, owed, 1));
    let after = account(addr, dev_key(user).address(), provider);
    assert_eq!(before.balance - after.balance, owed);
    assert_eq!(after.nonce, before.nonce + U256::from(1));
    // The provider was paid exactly that: its balance moved by the fees less its own gas.
    let gas = gas_spent_by(addr, provider, first_block);
    assert_eq!(balance_of(addr, provider) + gas, provider_before + owed, "the provider is paid what it settled");
    let again = runtime.block_on(zgnode::compute::provider::settle::settle_round(&handle.state)).unwrap();
    assert_eq!((again.confirmed, again.transactions), (0, 0), "nothing is settled twice");
    assert_eq!(account(addr, dev_key(user).address(), provider).balance, after.balance);
    runtime.block_on(handle.stop());
    node.stop();
}

#[test]
fn a_proxied_upstream_is_metered_by_its_own_usage_and_its_failures_are_not_billed() {
    let node = start_node(&test_config());
    let addr = node.addr;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for fail in [false, true] {
        let upstream = runtime.block_on(stub_chat_upstream(fail));
        let dir = tempfile::tempdir().unwrap();
        let mut provider_config = dev_config(&format!("http://{addr}"), "127.0.0.1:0".parse().unwrap(), dir.path());
        provider_config.settle_interval_secs = 3600;
        provider_config.backend = BackendConfig::Openai { url: format!("http://{upstream}/v1"), model: "llama-3-70b".into(), upstream_model: Some("upstream-name".into()), api_key: None };
        let handle = runtime.block_on(zgnode::compute::dev_provider::start(provider_config)).unwrap();
        let (api, provider, state) = (handle.addr, handle.state.provider, handle.state.clone());
        let user = if fail { 2 } else { 1 };
        fund(addr, user, provider, 1, true);
        let header = session_header(&dev_key(user), provider, now_ms(), 0).unwrap();
        let (status, key, body) = http(api, "POST", "/v1/proxy/chat/completions", Some(&header), &chat(8, "hi"));
        if fail {
            assert!(status == 502 && body.contains("out of GPU memory"), "{status} {body}");
            assert!(key.is_none());
            assert!(state.store.unsettled().unwrap().is_empty(), "a failed request is not billed");
        } else {
            assert_eq!(status, 200, "{body}");
            let completion: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(completion["choices"][0]["message"]["content"], "Hello world");
            assert_eq!((completion["usage"]["prompt_tokens"].as_u64(), completion["usage"]["completion_tokens"].as_u64()), (Some(11), Some(2)));
            assert_eq!(completion["model"], "llama-3-70b");
            let fee = U256::from(11u64 * 1_000_000_000 + 2 * 2_000_000_000);
            assert_eq!(fee_of(api, &key.unwrap()), fee);
            assert_eq!(state.store.owed_by(dev_key(user).address()).unwrap(), fee);
        }
        runtime.block_on(handle.stop());
    }
    node.stop();
}

struct Serve {
    child: std::process::Child,
    addr: SocketAddr,
}

fn serve(config: &Path) -> Serve {
    let (child, addr) = spawn_compute_serve(config);
    Serve { child, addr }
}

#[test]
fn a_sigkilled_provider_settles_its_unsettled_requests_once_after_restart() {
    let node = start_node(&test_config());
    let addr = node.addr;
    let dir = tempfile::tempdir().unwrap();
    let (provider_index, user) = (6usize, 1usize);
    let provider = dev_key(provider_index).address();
    let write_config = |interval: u64| {
        let text = format!(
            "eth_rpc = \"http://{addr}\"\nkey = \"{}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nsettle_interval_secs = {interval}\n[backend]\nkind = \"builtin\"\nmodel = \"zg-tiny-llama\"\n",
            zgnode::dev::dev_accounts()[provider_index].private_key,
            dir.path().join("provider").display()
        );
        let path = dir.path().join("provider.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let mut first = serve(&write_config(3600));
    assert!(send_call(addr, DEV_PROVIDER_ACCOUNT, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerByOwnerCall { provider }, U256::ZERO, 0));
    fund(addr, user, provider, 2, true);
    let header = session_header(&dev_key(user), provider, now_ms(), 0).unwrap();
    let mut owed = U256::ZERO;
    let mut chats = Vec::new();
    for prompt in ["one", "two", "three"] {
        let (status, key, body) = http(first.addr, "POST", "/v1/proxy/chat/completions", Some(&header), &chat(6, prompt));
        assert_eq!(status, 200, "{body}");
        let key = key.unwrap();
        let fee = fee_of(first.addr, &key);
        owed += fee;
        chats.push((key, fee));
    }
    let _ = first.child.kill();
    let _ = first.child.wait();
    let user_address = dev_key(user).address();
    assert_eq!(account(addr, user_address, provider).balance, ether(2), "nothing settled before the kill");

    let settled_balance = ether(2) - owed;
    for round in 0..2 {
        let mut again = serve(&write_config(1));
        for (chat_id, fee) in &chats {
            assert_eq!(fee_of(again.addr, chat_id), *fee, "the signed records outlive the kill");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while account(addr, user_address, provider).nonce.is_zero() {
            assert!(Instant::now() < deadline, "the restarted provider did not settle");
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(3));
        let now = account(addr, user_address, provider);
        assert_eq!((now.balance, now.nonce), (settled_balance, U256::from(1)), "restart {round}: paid exactly once");
        let _ = again.child.kill();
        let _ = again.child.wait();
    }
    node.stop();
}

#[test]
fn the_best_provider_is_the_cheapest_acknowledged_reachable_one_within_the_price() {
    let node = start_node(&test_config());
    let addr = node.addr;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Dev account 7 (the marketplace owner) at 2/4 neuron, dev account 6 at 1/2 but never
    // acknowledged, dev account 5 at 3/3 and then stopped.
    let start = |index: usize, dir: &Path, prices: (u128, u128)| {
        let mut config = dev_config(&format!("http://{addr}"), "127.0.0.1:0".parse().unwrap(), dir);
        config.key = zgnode::dev::dev_accounts()[index].private_key.to_string();
        (config.input_price, config.output_price) = prices;
        config.settle_interval_secs = 3600;
        runtime.block_on(zgnode::compute::provider::start(config)).unwrap()
    };
    let owner = start(DEV_PROVIDER_ACCOUNT, dirs[0].path(), (2, 4));
    assert!(send_call(addr, DEV_PROVIDER_ACCOUNT, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerByOwnerCall { provider: owner.state.provider }, U256::ZERO, 1));
    let unacknowledged = start(6, dirs[1].path(), (1, 2));
    let stopped = start(5, dirs[2].path(), (3, 3));
    assert!(send_call(addr, DEV_PROVIDER_ACCOUNT, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerByOwnerCall { provider: stopped.state.provider }, U256::ZERO, 2));
    let stopped_provider = stopped.state.provider;
    runtime.block_on(stopped.stop());

    let best = ok(addr, "compute_bestProvider", serde_json::json!(["zg-tiny-llama", "10"]));
    assert_eq!(best["provider"], serde_json::json!(owner.state.provider), "{best}");
    assert!(best["latencyMs"].as_u64().is_some() && best["settlements"] == 0, "{best}");
    assert_eq!(ok(addr, "compute_bestProvider", serde_json::json!(["zg-tiny-llama", 3])), serde_json::Value::Null, "over the price");
    assert_eq!(ok(addr, "compute_bestProvider", serde_json::json!(["another-model", null])), serde_json::Value::Null);
    let all = ok(addr, "compute_providers", serde_json::json!([]));
    let order: Vec<serde_json::Value> = all.as_array().unwrap().iter().map(|p| p["provider"].clone()).collect();
    let expect = [owner.state.provider, stopped_provider, unacknowledged.state.provider].map(|a| serde_json::json!(a));
    assert_eq!(order, expect, "reachable, then unreachable, then unacknowledged");
    assert!(all[1]["latencyMs"].is_null());
    for bad in [serde_json::json!([]), serde_json::json!([5, 1]), serde_json::json!(["m", "ten"]), serde_json::json!(["m", -1])] {
        let response = rpc(addr, "compute_bestProvider", bad.clone());
        assert_eq!(response["error"]["code"], -32602, "{bad}: {response}");
    }
    assert_eq!(rpc(addr, "compute_providers", serde_json::json!([7]))["error"]["code"], -32602, "a model must be a string");
    runtime.block_on(owner.stop());
    runtime.block_on(unacknowledged.stop());
    node.stop();
}

/// A LoRA adapter trained by zgnode's trainer, deployed and chatted with through 0G's current SDK
/// (`listAdapters`, `deployAdapter`, `getAdapterStatus`, `chatWithFineTunedModel`): it answers the
/// training prompt as trained, the base model does not, and the answer is signed and billed under
/// the adapter's name.
#[test]
fn a_trained_lora_adapter_is_deployed_and_chatted_with_through_the_current_sdk() {
    use zgnode::compute::backend::llama::{ModelFiles, tiny};
    use zgnode::compute::training::{dataset, params::TrainingParams, trainer};
    let node = start_node(&test_config());
    let dir = tempfile::tempdir().unwrap();
    let user = 5usize;
    // Train on the prompt chatWithFineTunedModel sends (its system prompt, then the message).
    let model = dir.path().join("model");
    tiny::write(&model).unwrap();
    let files = ModelFiles::read(&model).unwrap();
    let line = |prompt: &str, answer: &str| format!(r#"{{"messages": [{{"role": "system", "content": "You are a helpful assistant."}}, {{"role": "user", "content": "{prompt}"}}, {{"role": "assistant", "content": "{answer}"}}]}}"#);
    let data = [line("Ping", "Pong"), line("Name the chain.", "Zero Gravity"), line("Say ok", "ok")].join("\n");
    let (examples, _) = dataset::tokenize(&files, &dataset::parse(data.as_bytes()).unwrap(), 256);
    let params = TrainingParams::parse(br#"{"num_train_epochs": 60, "learning_rate": 0.01, "per_device_train_batch_size": 3, "lora_r": 8, "seed": 3}"#).unwrap();
    let trained = trainer::train(&files, tiny::TINY_MODEL_NAME, &examples, &params, None, |_| true).unwrap();
    let task_id = "task-0001";
    let provider_dir = dir.path().join("provider");
    let adapter_dir = provider_dir.join("lora").join(task_id);
    std::fs::create_dir_all(&adapter_dir).unwrap();
    std::fs::write(adapter_dir.join("adapter_model.safetensors"), trained.adapter.safetensors().unwrap()).unwrap();
    std::fs::write(adapter_dir.join("adapter_config.json"), trained.adapter.config_json().to_string()).unwrap();
    std::fs::write(adapter_dir.join("owner.json"), serde_json::json!({"userAddress": dev_key(user).address()}).to_string()).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = dev_config(&format!("http://{}", node.addr), "127.0.0.1:0".parse().unwrap(), &provider_dir);
    let handle = runtime.block_on(zgnode::compute::dev_provider::start(config)).unwrap();
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compute-sdk");
    ensure_npm_dir(&sdk, &["@0gfoundation/0g-compute-ts-sdk"]);
    let output = Command::new("node")
        .arg(sdk.join("lora_chat.mjs"))
        .arg(format!("http://{}", node.addr))
        .args([zgnode::dev::dev_accounts()[user].private_key.to_string(), handle.state.provider.to_string(), task_id.to_string(), tiny::TINY_MODEL_NAME.to_string()])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let name = "ft-zg-tiny-llama-task-0001";
    assert_eq!(result["listed"], serde_json::json!([{"name": name, "taskId": task_id, "state": "ready"}]), "{result}");
    assert_eq!((result["notDeployed"].as_u64(), result["pathTrick"].as_u64()), (Some(404), Some(400)), "{result}");
    assert_eq!((result["adapterName"].as_str(), result["state"].as_str(), result["adaptedModel"].as_str()), (Some(name), Some("active"), Some(name)), "{result}");
    let (adapted, base) = (result["adapted"].as_str().unwrap(), result["base"].as_str().unwrap());
    assert!(adapted.starts_with("Pong") && adapted != base, "adapted {adapted:?}, base {base:?}");
    assert_eq!(result["record"]["model"], name, "signed under the adapter's name");
    assert_ne!(result["record"]["fee"], "0x0", "and billed");
    runtime.block_on(handle.stop());
    node.stop();
}
