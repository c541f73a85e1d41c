//! Fine-tuning on the marketplace, from outside: 0G's current SDK drives zgnode's fine-tuning
//! provider through the whole flow (tests/compute-sdk/fine_tuning.mjs), and the chain and the
//! node's storage are checked for what was paid and delivered; a user who never acknowledges
//! pays the contract's 30 % and gets no key.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_sol_types::SolCall;
use serde_json::{Value, json};

use common::*;
use zg_systems::compute::contracts::{FINE_TUNING_ADDRESS, FineTuningAccount, FineTuningDeliverable, IFineTuningServing};
use zgnode::compute::backend::llama::tiny::TINY_MODEL_NAME;
use zgnode::compute::dev_provider::{dev_config, dev_fine_tuning};

fn view<C: SolCall>(addr: std::net::SocketAddr, call: &C) -> C::Return {
    let output = ok(addr, "eth_call", json!([{"to": FINE_TUNING_ADDRESS, "data": Bytes::from(call.abi_encode())}, "latest"]));
    let bytes: Bytes = serde_json::from_value(output).unwrap();
    C::abi_decode_returns(&bytes).unwrap()
}

fn account(addr: std::net::SocketAddr, user: Address, provider: Address) -> FineTuningAccount {
    view(addr, &IFineTuningServing::getAccountCall { user, provider })
}

fn deliverable(addr: std::net::SocketAddr, user: Address, provider: Address, id: &str) -> FineTuningDeliverable {
    view(addr, &IFineTuningServing::getDeliverableCall { user, provider, id: id.into() })
}

/// One HTTP/1.1 request; the status and the body (the API's bodies carry a length).
fn http_request(addr: std::net::SocketAddr, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    // A server that is gone (the crash drill's) answers status 0 with the reason.
    let mut stream = match std::net::TcpStream::connect(addr) {
        Ok(stream) => stream,
        Err(error) => return (0, error.to_string()),
    };
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    if let Err(error) = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)) {
        return (0, error.to_string());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body.to_string())
}

/// The ledger with 5 0G, 1 0G (the ledger's least) moved to `provider`'s fine-tuning
/// sub-account, the provider's signer acknowledged: what a user does before a task.
fn fund_fine_tuning(addr: std::net::SocketAddr, user: &alloy_signer_local::PrivateKeySigner, provider: Address) {
    use zg_systems::compute::contracts::{ILedgerManager, LEDGER_ADDRESS};
    let from = user.address();
    let call = |to: Address, data: Vec<u8>, value: U256| {
        let hash = ok(addr, "eth_sendTransaction", json!([{"from": from, "to": to, "data": Bytes::from(data), "value": value}]));
        assert_eq!(wait_receipt(addr, hash.as_str().unwrap(), Duration::from_secs(30))["status"], "0x1");
    };
    call(LEDGER_ADDRESS, ILedgerManager::addLedgerCall { additionalInfo: String::new() }.abi_encode(), U256::from(5u64) * U256::from(10u64).pow(U256::from(18)));
    call(LEDGER_ADDRESS, ILedgerManager::transferFundCall { provider, serviceName: zg_systems::compute::contracts::FINE_TUNING_SERVICE_NAME.into(), amount: U256::from(10u64).pow(U256::from(18)) }.abi_encode(), U256::ZERO);
    call(FINE_TUNING_ADDRESS, IFineTuningServing::acknowledgeTEESignerCall { provider, acknowledged: true }.abi_encode(), U256::ZERO);
}

fn sign_digest(user: &alloy_signer_local::PrivateKeySigner, digest: alloy_primitives::B256) -> String {
    alloy_primitives::hex::encode_prefixed(user.sign_message_sync(digest.as_slice()).unwrap().as_bytes())
}

/// A task for `epochs` epochs signed with `nonce`, straight to the provider's API. The task's
/// id and the signed task (to replay).
fn submit_task(base: std::net::SocketAddr, user: &alloy_signer_local::PrivateKeySigner, model_hash: &str, nonce: u64, epochs: u32) -> (String, Value) {
    let task = signed_task(base, user, model_hash, nonce, epochs);
    let (status, body) = http_request(base, "POST", &format!("/v1/user/{}/task", user.address().to_checksum(None)), "application/json", task.to_string().as_bytes());
    assert_eq!(status, 200, "{body}");
    (serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap().to_string(), task)
}

/// A one-example dataset uploaded, and a task on it signed by `user`.
fn signed_task(base: std::net::SocketAddr, user: &alloy_signer_local::PrivateKeySigner, model_hash: &str, nonce: u64, epochs: u32) -> Value {
    let dataset = r#"{"instruction": "Ping", "output": "Pong"}"#;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let user_text = user.address().to_checksum(None);
    let upload_signature = sign_digest(user, zg_systems::compute::fine_tuning::dataset_upload_digest(&user_text, now));
    let boundary = "zgnodeboundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.jsonl\"\r\n\r\n{dataset}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\n{upload_signature}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"timestamp\"\r\n\r\n{now}\r\n--{boundary}--\r\n"
    );
    let (status, body) = http_request(base, "POST", &format!("/v1/user/{user_text}/dataset"), &format!("multipart/form-data; boundary={boundary}"), form.as_bytes());
    assert_eq!(status, 200, "{body}");
    let dataset_hash = serde_json::from_str::<Value>(&body).unwrap()["datasetHash"].as_str().unwrap().to_string();
    json!({
        "userAddress": user_text, "datasetHash": dataset_hash, "trainingParams": format!(r#"{{"num_train_epochs": {epochs}}}"#),
        "preTrainedModelHash": model_hash, "fee": "0", "nonce": nonce.to_string(),
        "signature": sign_digest(user, zg_systems::compute::fine_tuning::task_request_digest(user.address(), U256::from(nonce), &dataset_hash)), "wait": false,
    })
}

/// The user's latest task, as the provider lists it.
fn listed_task(base: std::net::SocketAddr, user: &alloy_signer_local::PrivateKeySigner) -> String {
    let (_, body) = http_request(base, "GET", &format!("/v1/user/{}/task", user.address().to_checksum(None)), "application/json", b"");
    let listed: Value = serde_json::from_str(&body).unwrap();
    listed[0]["id"].as_str().unwrap_or_else(|| panic!("the admitted task survives: {listed}")).to_string()
}

fn get_task(base: std::net::SocketAddr, user: &alloy_signer_local::PrivateKeySigner, id: &str) -> Value {
    let (_, body) = http_request(base, "GET", &format!("/v1/user/{}/task/{id}", user.address().to_checksum(None)), "application/json", b"");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("not a task: {body}"))
}

/// Polls the task until it is `wanted` (never Failed on the way).
fn wait_for_progress(base: std::net::SocketAddr, user: &alloy_signer_local::PrivateKeySigner, id: &str, wanted: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let task = get_task(base, user, id);
        if task["progress"] == wanted {
            return task;
        }
        assert_ne!(task["progress"], "Failed", "{task}");
        assert!(Instant::now() < deadline, "still {task}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Running {
    node: NodeProcess,
    runtime: tokio::runtime::Runtime,
    provider: zgnode::compute::provider::ProviderHandle,
    _dir: tempfile::TempDir,
}

fn start(with_storage: bool) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::spawn(&dev_args(&dir.path().join("node")).iter().map(String::as_str).collect::<Vec<_>>());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut config = dev_config(&format!("http://{}", node.addr), "127.0.0.1:0".parse().unwrap(), &dir.path().join("provider"));
    let storage = with_storage.then(|| format!("http://{}", node.storage_addr.expect("the dev node serves storage")));
    config.fine_tuning = Some(dev_fine_tuning(storage));
    let provider = runtime.block_on(zgnode::compute::dev_provider::start(config)).unwrap();
    Running { node, runtime, provider, _dir: dir }
}

/// The whole flow through the official SDK, the money on chain, the model in storage.
#[test]
fn the_official_sdk_fine_tunes_acknowledges_decrypts_and_chats_with_the_adapter() {
    let running = start(true);
    let addr = running.node.addr;
    let provider = running.provider.state.provider;
    let user = 5usize;
    let user_address = dev_key(user).address();
    let work = tempfile::tempdir().unwrap();
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compute-sdk");
    ensure_npm_dir(&sdk, &["@0gfoundation/0g-compute-ts-sdk"]);
    let output = Command::new("node")
        .arg(sdk.join("fine_tuning.mjs"))
        .arg(format!("http://{addr}"))
        .args([zgnode::dev::dev_accounts()[user].private_key.to_string(), provider.to_string(), work.path().display().to_string(), TINY_MODEL_NAME.to_string()])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    println!("{result}");

    assert_eq!((result["listed"].as_bool(), result["customized"].as_str()), (Some(true), Some(TINY_MODEL_NAME)), "{result}");
    assert_eq!(result["pricePerToken"], "1000000000000");
    let progresses: Vec<&str> = result["progresses"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(progresses.last(), Some(&"Finished"), "{progresses:?}");
    assert!(progresses.contains(&"Delivered"), "{progresses:?}");
    let log = result["log"].as_str().unwrap();
    assert!(log.contains("step 60/60") && log.contains("trained: 60 steps") && log.contains("uploaded the encrypted model"), "{log}");
    let hostile = &result["hostile"];
    for (what, status) in [
        ("forgedSignature", 401),
        ("whileRunning", 409),
        ("pathTrickDataset", 400),
        ("pathTrickModel", 404),
        ("otherUsersTask", 404),
        ("malformedDataset", 400),
        ("oversizedDataset", 413),
        ("forgedUpload", 401),
        ("staleUpload", 401),
        ("someoneElsesDownload", 401),
        ("replayed", 400),
    ] {
        assert_eq!(hostile[what].as_u64(), Some(status), "{what}: {hostile}");
    }
    let over = hostile["overBalance"].as_str().unwrap();
    assert!(over.starts_with("the task costs") && over.contains("0G available"), "{hostile}");
    assert_eq!(result["cancelled"]["progress"], "Failed");
    assert!(result["cancelled"]["reason"].as_str().unwrap().starts_with("cancelled by the user"), "{result}");
    assert!(result["adapted"].as_str().unwrap().starts_with("Pong"), "{result}");

    // Paid once, exactly the fee the task showed, and the key is on chain.
    let task_id = result["taskId"].as_str().unwrap();
    let fee: U256 = result["fee"].as_str().unwrap().parse().unwrap();
    assert!(fee > U256::ZERO);
    let sub_account = account(addr, user_address, provider);
    assert_eq!(sub_account.balance, U256::from(10u64).pow(U256::from(18)) - fee, "the sub-account paid the task's fee, once");
    let delivered = deliverable(addr, user_address, provider, task_id);
    assert!(delivered.acknowledged && delivered.settled && !delivered.encryptedSecret.is_empty());
    assert_eq!(format!("{}", alloy_primitives::B256::from_slice(&delivered.modelRootHash)), result["finished"]["deliverIndex"].as_str().unwrap());

    // The 0G storage path holds the same encrypted file the provider served, and the decrypted
    // zip is the adapter.
    let storage = zgnode::storage::client::StorageClient::new(&format!("http://{addr}"), &format!("http://{}", running.node.storage_addr.unwrap())).unwrap();
    let root = alloy_primitives::B256::from_slice(&delivered.modelRootHash);
    let stored = running.runtime.block_on(storage.download(root, |_| {})).unwrap();
    let served = std::fs::read(work.path().join("out").join(format!("lora_model_{task_id}.zip"))).unwrap();
    assert_eq!(stored, served, "storage and the provider deliver the same encrypted model");
    let zip = std::fs::read(result["decrypted"].as_str().unwrap()).unwrap();
    let names: Vec<String> = zgnode::compute::fine_tuning::crypto::unzip_files(&zip).unwrap().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["adapter_config.json", "adapter_model.safetensors"]);

    let Running { node, runtime, provider, .. } = running;
    runtime.block_on(provider.stop());
    node.kill();
}

/// A user who never acknowledges: after the lock time the provider settles 30 % of the fee and
/// reveals no key; the user's signed task cannot be replayed.
#[test]
fn an_unacknowledged_model_pays_thirty_percent_and_reveals_nothing() {
    let running = start(false);
    let addr = running.node.addr;
    let state = &running.provider.state;
    let ft = state.fine_tuning.clone().expect("the fine-tuning service runs");
    let provider = state.provider;
    let user = dev_key(4);
    fund_fine_tuning(addr, &user, provider);
    let base = running.provider.addr;
    let (id, task) = submit_task(base, &user, &ft.model.hash, 7, 2);
    let wait_for = |wanted: &str| wait_for_progress(base, &user, &id, wanted, Duration::from_secs(90));
    let delivered = wait_for("Delivered");
    let fee: U256 = delivered["fee"].as_str().unwrap().parse().unwrap();
    let before = account(addr, user.address(), provider).balance;
    // The user never acknowledges; the lock time (60 s in the dev genesis) passes on chain.
    ok(addr, "evm_increaseTime", json!([61]));
    ok(addr, "evm_mine", json!([]));
    let finished = wait_for("Finished");
    assert!(finished["reason"].as_str().unwrap().contains("no key revealed"), "{finished}");
    let settled = deliverable(addr, user.address(), provider, &id);
    assert!(settled.settled && !settled.acknowledged && settled.encryptedSecret.is_empty());
    assert_eq!(account(addr, user.address(), provider).balance, before - fee * U256::from(30) / U256::from(100));
    // Replaying the signed task is refused (its nonce is spent).
    let (status, body) = http_request(base, "POST", &format!("/v1/user/{}/task", user.address().to_checksum(None)), "application/json", task.to_string().as_bytes());
    assert_eq!(status, 400, "{body}");
    let Running { node, runtime, provider, .. } = running;
    runtime.block_on(provider.stop());
    node.kill();
}

/// The provider dies (no cleanup, as under `kill -9`) at every step of a task in turn — each
/// phase written, a checkpoint, the upload, the deliverable on chain, the settlement on chain —
/// and is started again each time: the task ends Finished, trained from its checkpoint, with
/// one deliverable whose root never changed, and the user paid its fee exactly once.
#[test]
fn a_provider_killed_at_every_step_of_a_task_loses_nothing_and_is_paid_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::spawn(&dev_args(&dir.path().join("node")).iter().map(String::as_str).collect::<Vec<_>>());
    let addr = node.addr;
    let provider_index = 6usize;
    let provider = dev_key(provider_index).address();
    let config = dir.path().join("provider.toml");
    std::fs::write(
        &config,
        format!(
            "eth_rpc = \"http://{addr}\"\nkey = \"{}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[backend]\nkind = \"builtin\"\nmodel = \"{TINY_MODEL_NAME}\"\n[fine_tuning]\nprice_per_token = 1000000000000\nstorage_rpc = \"http://{}\"\npoll_secs = 1\n",
            zgnode::dev::dev_accounts()[provider_index].private_key,
            dir.path().join("provider").display(),
            node.storage_addr.expect("the dev node serves storage"),
        ),
    )
    .unwrap();
    let dies_at = |point: &str| {
        let (mut child, base) = spawn_compute_serve_with(&config, &[("ZG_CRASH_AT", point)]);
        (base, move |what: &str| {
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(!status.success(), "{what}: the provider exited cleanly instead of dying at {what}");
                    return;
                }
                assert!(Instant::now() < deadline, "the provider never reached {what}");
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let user = dev_key(3);
    fund_fine_tuning(addr, &user, provider);
    let balance = account(addr, user.address(), provider).balance;

    // Admitted by the first run, which dies as it sets the task up (its reply may be lost with it).
    let (base, mut died) = dies_at("fine-tuning:SettingUp");
    let base = base.expect("nothing to resume: the first run serves");
    // Until the marketplace's owner acknowledges the provider's signer, no task is taken (it
    // could never be settled).
    let (_, body) = http_request(base, "GET", "/v1/model", "application/json", b"");
    let models: Value = serde_json::from_str(&body).unwrap();
    let model_hash = models[0]["hash"].as_str().unwrap_or_else(|| panic!("{models}")).to_string();
    let task = signed_task(base, &user, &model_hash, 1, 40);
    let (status, body) = http_request(base, "POST", &format!("/v1/user/{}/task", user.address().to_checksum(None)), "application/json", task.to_string().as_bytes());
    assert!(status == 503 && body.contains("not acknowledged by the marketplace"), "{status} {body}");
    let owner = dev_key(zgnode::compute::dev_provider::DEV_PROVIDER_ACCOUNT).address();
    let data = IFineTuningServing::acknowledgeTEESignerByOwnerCall { provider }.abi_encode();
    let hash = ok(addr, "eth_sendTransaction", json!([{"from": owner, "to": FINE_TUNING_ADDRESS, "data": Bytes::from(data)}]));
    assert_eq!(wait_receipt(addr, hash.as_str().unwrap(), Duration::from_secs(30))["status"], "0x1");
    let _ = http_request(base, "POST", &format!("/v1/user/{}/task", user.address().to_checksum(None)), "application/json", task.to_string().as_bytes());
    died("fine-tuning:SettingUp");
    let mut id = String::new();

    let mut root = None;
    for point in ["Training", "checkpoint", "Trained", "Delivering", "uploaded", "deliverable-added", "Delivered", "UserAcknowledged", "settled", "Finished"] {
        let point = format!("fine-tuning:{point}");
        if point == "fine-tuning:UserAcknowledged" {
            // The user acknowledges while the provider is down.
            let data = IFineTuningServing::acknowledgeDeliverableCall { provider, id: id.clone() }.abi_encode();
            let hash = ok(addr, "eth_sendTransaction", json!([{"from": user.address(), "to": FINE_TUNING_ADDRESS, "data": Bytes::from(data)}]));
            assert_eq!(wait_receipt(addr, hash.as_str().unwrap(), Duration::from_secs(30))["status"], "0x1");
        }
        // A run may die before it serves: the stored task is ordered as it starts.
        let (base, mut died) = dies_at(&point);
        // And a run may die while it answers: what it says is checked when it said it.
        if let Some(base) = base {
            let user_text = user.address().to_checksum(None);
            if id.is_empty()
                && let (200, body) = http_request(base, "GET", &format!("/v1/user/{user_text}/task"), "application/json", b"")
            {
                id = serde_json::from_str::<Value>(&body).unwrap()[0]["id"].as_str().unwrap_or_default().to_string();
            }
            if let (200, body) = http_request(base, "GET", &format!("/v1/user/{user_text}/task/{id}"), "application/json", b"") {
                let task: Value = serde_json::from_str(&body).unwrap();
                assert_ne!(task["progress"], "Failed", "restarted before {point}: {task}");
            }
        }
        died(&point);
        // Once on chain, the deliverable's root never changes (getDeliverable reverts before).
        let call = IFineTuningServing::getDeliverableCall { user: user.address(), provider, id: id.clone() };
        let response = rpc(addr, "eth_call", json!([{"to": FINE_TUNING_ADDRESS, "data": Bytes::from(call.abi_encode())}, "latest"]));
        if let Some(output) = response.get("result").filter(|_| !id.is_empty()) {
            let bytes: Bytes = serde_json::from_value(output.clone()).unwrap();
            let on_chain = IFineTuningServing::getDeliverableCall::abi_decode_returns(&bytes).unwrap();
            let now = alloy_primitives::B256::from_slice(&on_chain.modelRootHash);
            assert_eq!(*root.get_or_insert(now), now, "after dying at {point}");
        }
    }

    let (mut child, base) = spawn_compute_serve(&config);
    if id.is_empty() {
        id = listed_task(base, &user);
    }
    let finished = wait_for_progress(base, &user, &id, "Finished", Duration::from_secs(30));
    let fee: U256 = finished["fee"].as_str().unwrap().parse().unwrap();
    assert!(fee > U256::ZERO);
    let settled = deliverable(addr, user.address(), provider, &id);
    assert!(settled.acknowledged && settled.settled && !settled.encryptedSecret.is_empty(), "{finished}");
    assert_eq!(Some(alloy_primitives::B256::from_slice(&settled.modelRootHash)), root);
    assert_eq!(finished["deliverIndex"].as_str().unwrap(), root.unwrap().to_string());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(account(addr, user.address(), provider).balance, balance - fee, "the fee, paid exactly once");
    let (_, log) = http_request(base, "GET", &format!("/v1/user/{}/task/{id}/log", user.address().to_checksum(None)), "application/json", b"");
    assert!(log.contains("resuming training from the last checkpoint") && log.contains("step 40/40"), "{log}");
    let _ = child.kill();
    let _ = child.wait();
    node.kill();
}
