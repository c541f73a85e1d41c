//! AI alignment licences and rewards, driven by ethers v6 (tests/clients/alignment.mjs) against
//! a `zgnode dev` process: the soulbound ERC-721 licence, operator and bond, a report for a
//! finished epoch, the launch share and the epoch's vesting part claimed by the holder.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn a_licence_holder_is_paid_for_the_epoch_its_operator_reported() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    ensure_npm_dir(&clients, &["ethers", "@openzeppelin/contracts"]);
    let dir = tempfile::tempdir().unwrap();
    let args = dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let key = |i: usize| format!("0x{}", alloy_primitives::hex::encode(dev_key(i).to_bytes()));
    let output = Command::new("node")
        .arg(clients.join("alignment.mjs"))
        .arg(format!("http://{}", node.addr))
        .arg(key(0))
        .arg(key(6))
        .output()
        .expect("node runs (Node.js 18+)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "alignment checks failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("all alignment checks passed"), "{stdout}");
}

/// The `E` events `contract` emitted with `first` as their first indexed topic: (block, event).
fn events<E: alloy_sol_types::SolEvent>(addr: std::net::SocketAddr, contract: alloy_primitives::Address, first: alloy_primitives::Address) -> Vec<(u64, E)> {
    let logs = ok(addr, "eth_getLogs", serde_json::json!([{ "fromBlock": "0x0", "toBlock": "latest", "address": contract, "topics": [E::SIGNATURE_HASH, first.into_word()] }]));
    logs.as_array()
        .unwrap()
        .iter()
        .map(|log| {
            let topics: Vec<alloy_primitives::B256> = serde_json::from_value(log["topics"].clone()).unwrap();
            let data: alloy_primitives::Bytes = serde_json::from_value(log["data"].clone()).unwrap();
            (zgnode::rpc::quantity_of(&log["blockNumber"]), E::decode_raw_log(topics, &data).expect("the event asked for"))
        })
        .collect()
}

/// The Reported events of `operator`: (epoch, licences, checked, failed).
fn reports_of(addr: std::net::SocketAddr, operator: alloy_primitives::Address) -> Vec<(u64, Vec<u64>, u64, u64)> {
    use zg_systems::alignment::IAlignmentManager::Reported;
    let number = |v: alloy_primitives::U256| u64::try_from(v).unwrap();
    events::<Reported>(addr, zgnode::alignment::MANAGER_ADDRESS, operator)
        .into_iter()
        .map(|(_, event)| (number(event.epoch), event.tokenIds.into_iter().map(number).collect(), number(event.checked), number(event.failed)))
        .collect()
}

/// A storage node that answers every segment with one byte flipped (what a node serving a
/// corrupted segment looks like from outside), proxying the real one for everything else, and
/// naming both as the holders of every file when asked as an indexer.
fn corrupting_storage_proxy(real: std::net::SocketAddr) -> std::net::SocketAddr {
    use base64::Engine;
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            // As an indexer, it names two holders of every file: the real node and itself.
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if request["method"] == "indexer_getFileLocations" {
                let holders = serde_json::json!([{ "url": format!("http://{real}") }, { "url": format!("http://{addr}") }]);
                let text = serde_json::json!({ "jsonrpc": "2.0", "id": request["id"], "result": holders }).to_string();
                let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
                continue;
            }
            let (_, answer) = http_post(real, &body);
            let mut answer: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
            if let Some(data) = answer["result"]["data"].as_str() {
                let mut bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
                bytes[0] ^= 1;
                answer["result"]["data"] = base64::engine::general_purpose::STANDARD.encode(bytes).into();
            }
            let text = answer.to_string();
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
        }
    });
    addr
}

#[test]
fn dev_audits_files_and_blobs_cleanly_and_a_corrupted_segment_is_reported_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = dev_args(dir.path()).into_iter().filter(|a| a != "--no-alignment").collect();
    let at = args.iter().position(|a| a == "--block-time-ms").unwrap();
    args[at + 1] = "250".into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let storage = node.storage_addr.expect("the dev chain is a storage node");
    // Something to audit: a 600 KiB file (3 segments) and a blob.
    let file = dir.path().join("file.bin");
    std::fs::write(&file, (0..600 * 1024).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let rpc = format!("http://{}", node.addr);
    let key = format!("0x{}", alloy_primitives::hex::encode(dev_key(1).to_bytes()));
    let cli = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_zgnode")).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    cli(&["storage", "upload", file.to_str().unwrap(), "--rpc", &rpc, "--storage", &format!("http://{storage}"), "--key", &key]);
    cli(&["da", "submit", file.to_str().unwrap(), "--rpc", &rpc]);

    // A second operator (dev account 6, licence 7) audits through a storage node that corrupts.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let operator = dev_key(6);
    let proxy = corrupting_storage_proxy(storage);
    let quota = zg_components::alignment::AuditQuota { storage_segments: 3, da_blobs: 1, verified_requests: 0, chat_records: 0 };
    let settings = test_auditor(rpc.clone(), Some(format!("http://{proxy}")), 6, 200, quota);
    let hostile = zgnode::alignment::auditor::start(settings, runtime.handle().clone()).unwrap();

    let honest = dev_key(5).address();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let (clean, caught) = loop {
        // An epoch that opened before the blob was confirmed draws segments only: wait for one
        // that drew both kinds (8 + 2 for the built-in auditor, 3 + 1 for the second).
        let clean: Vec<_> = reports_of(node.addr, honest).into_iter().filter(|r| r.2 == 10).collect();
        let caught: Vec<_> = reports_of(node.addr, operator.address()).into_iter().filter(|r| r.2 == 4).collect();
        if !clean.is_empty() && !caught.is_empty() {
            break (clean, caught);
        }
        assert!(std::time::Instant::now() < deadline, "no audited reports in 120 s: honest {:?}, hostile {:?}", reports_of(node.addr, honest), hostile.stats());
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    let stats = hostile.stats();
    hostile.stop();
    // The built-in auditor (licence 6) found every segment and blob sound.
    assert!(clean.iter().all(|(_, licences, _, _)| licences == &vec![6]), "{clean:?}");
    assert!(reports_of(node.addr, honest).iter().all(|(_, _, _, failed)| *failed == 0), "{:?}", reports_of(node.addr, honest));
    // The one fed corrupted segments reported them failed (and nothing else: the blob passed).
    let (_, licences, checked, failed) = &caught[0];
    assert_eq!(licences, &vec![7]);
    assert_eq!((*checked, *failed), (4, 3), "{caught:?}");
    // Both holders were asked; only the corrupting one failed.
    let failure = stats.last_failure.clone().unwrap_or_default();
    assert!(failure.contains("does not verify") && failure.contains(&proxy.to_string()) && !failure.contains(&format!("http://{storage}:")), "{failure}");
    // Bytes changed on the way carry the node's signature over other bytes: no evidence against
    // the node, so no accusation (and no bond risked).
    assert_eq!(stats.accusations, 0, "{stats:?}");
}

/// The mine's penalties against `miner` for served segments: (block, penalty).
fn segment_penalties(addr: std::net::SocketAddr, miner: alloy_primitives::Address) -> Vec<(u64, alloy_primitives::U256)> {
    use zg_systems::storage::pora::{IPoraMine::ServedBadSegment, MINE_ADDRESS};
    events::<ServedBadSegment>(addr, MINE_ADDRESS, miner).into_iter().map(|(block, event)| (block, event.penalty)).collect()
}

#[test]
fn a_storage_node_serving_corrupted_segments_is_penalized_within_two_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = dev_args(dir.path()).into_iter().filter(|a| a != "--no-alignment").collect();
    let at = args.iter().position(|a| a == "--block-time-ms").unwrap();
    args[at + 1] = "250".into();
    args.push("--fault-drill-corrupt-segments".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let storage = node.storage_addr.expect("the dev chain is a storage node");
    let file = dir.path().join("file.bin");
    std::fs::write(&file, (0..300 * 1024).map(|i| (i * 11 % 241) as u8).collect::<Vec<u8>>()).unwrap();
    let key = format!("0x{}", alloy_primitives::hex::encode(dev_key(1).to_bytes()));
    let rpc = format!("http://{}", node.addr);
    let output = Command::new(env!("CARGO_BIN_EXE_zgnode"))
        .args(["storage", "upload", file.to_str().unwrap(), "--rpc", &rpc, "--storage", &format!("http://{storage}"), "--key", &key])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let published = quantity(&ok(node.addr, "eth_blockNumber", serde_json::json!([])));

    let miner = dev_key(zgnode::dev::DEV_MINER_ACCOUNT).address();
    let auditor = dev_key(5).address();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let penalties = loop {
        let penalties = segment_penalties(node.addr, miner);
        if !penalties.is_empty() {
            break penalties;
        }
        assert!(std::time::Instant::now() < deadline, "no penalty in 120 s; reports {:?}", reports_of(node.addr, auditor));
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    let epoch_blocks = zgnode::alignment::dev_params().epoch_blocks;
    let (penalized_at, penalty) = penalties[0];
    assert!(penalized_at / epoch_blocks <= published / epoch_blocks + 2, "published at block {published}, penalized at {penalized_at}");
    // 10 % of the dev miner's stake, half of it paid to the built-in auditor's operator.
    use alloy_sol_types::SolCall;
    let call = zg_systems::storage::pora::IPoraMine::minersCall { miner };
    let answer = ok(node.addr, "eth_call", serde_json::json!([{ "to": zg_systems::storage::pora::MINE_ADDRESS, "data": alloy_primitives::Bytes::from(call.abi_encode()) }, "latest"]));
    let bytes: alloy_primitives::Bytes = serde_json::from_value(answer).unwrap();
    let status = zg_systems::storage::pora::IPoraMine::minersCall::abi_decode_returns(&bytes).unwrap();
    assert_eq!(status.penalized, penalties.iter().map(|(_, p)| *p).sum::<alloy_primitives::U256>());
    assert!(penalty > alloy_primitives::U256::ZERO);
    // The manager names the miner the mine recovered, upheld, from the built-in auditor.
    use zg_systems::alignment::IAlignmentManager::Accused;
    let (_, accused) = events::<Accused>(node.addr, zgnode::alignment::MANAGER_ADDRESS, auditor).remove(0);
    assert_eq!((accused.target, accused.upheld, accused.kind), (miner, true, 2));
    assert_eq!(accused.amount, penalty / alloy_primitives::U256::from(2), "the reporter's half reaches the operator");
    // The auditor's report for that epoch counts the failure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reports_of(node.addr, auditor).iter().any(|(_, _, _, failed)| *failed > 0) {
        assert!(std::time::Instant::now() < deadline, "no report with a failure: {:?}", reports_of(node.addr, auditor));
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[test]
fn a_chat_provider_whose_signed_answers_are_not_its_models_is_caught_by_the_rerun() {
    use zgnode::compute::dev_provider::{dev_config, start};
    let dir = tempfile::tempdir().unwrap();
    let args = dev_args(&dir.path().join("node"));
    let node = NodeProcess::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let rpc = format!("http://{}", node.addr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let operator = dev_key(6);
    let quota = zg_components::alignment::AuditQuota { storage_segments: 0, da_blobs: 0, verified_requests: 0, chat_records: 1 };
    let settings = test_auditor(rpc.clone(), None, 6, 100, quota);
    // An epoch's report once it audited the provider: (epoch, failed).
    let audited_after = |epoch: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            if let Some(report) = reports_of(node.addr, operator.address()).into_iter().find(|r| r.0 > epoch && r.2 == 1) {
                return (report.0, report.3);
            }
            assert!(std::time::Instant::now() < deadline, "no epoch after {epoch} audited the provider: {:?}", reports_of(node.addr, operator.address()));
            // An idle dev chain seals an empty block a second; move it along an epoch a second.
            ok(node.addr, "anvil_mine", serde_json::json!(["0x4"]));
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    // The built-in provider (dev account 7) runs zg-tiny-llama: its answers are the model's.
    let honest = runtime.block_on(start(dev_config(&rpc, "127.0.0.1:0".parse().unwrap(), &dir.path().join("honest")))).unwrap();
    let auditor = zgnode::alignment::auditor::start(settings, runtime.handle().clone()).unwrap();
    let (clean_epoch, failed) = audited_after(0);
    assert_eq!(failed, 0, "{:?}", auditor.stats());
    runtime.block_on(honest.stop());
    // The same provider comes back under the same model name, answering from an upstream that
    // is another model: its signed answers no longer match the re-run.
    let upstream = runtime.block_on(stub_chat_upstream(false));
    let mut cheat_config = dev_config(&rpc, "127.0.0.1:0".parse().unwrap(), &dir.path().join("cheat"));
    cheat_config.backend = zgnode::compute::provider::config::BackendConfig::Openai {
        url: format!("http://{upstream}/v1"),
        model: zgnode::compute::backend::llama::tiny::TINY_MODEL_NAME.into(),
        upstream_model: Some("upstream-name".into()),
        api_key: None,
    };
    let cheat = runtime.block_on(start(cheat_config)).unwrap();
    let head = quantity(&ok(node.addr, "eth_blockNumber", serde_json::json!([])));
    let epoch_blocks = zgnode::alignment::dev_params().epoch_blocks;
    let (_, failed) = audited_after((head / epoch_blocks).max(clean_epoch));
    let stats = auditor.stats();
    auditor.stop();
    assert_eq!(failed, 1, "{stats:?}");
    let failure = stats.last_failure.unwrap_or_default();
    assert!(failure.contains(&dev_key(7).address().to_string()) && failure.contains("Hello world") && failure.contains("re-run"), "{failure}");
    runtime.block_on(cheat.stop());
}

#[test]
fn signed_segment_answers_refuse_hostile_calls_and_a_node_that_stakes_nothing() {
    // A storage node without a miner key signs nothing.
    let mut config = test_config();
    config.storage.enabled = true;
    config.storage.addr = "127.0.0.1:0".parse().unwrap();
    let node = start_node(&config);
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let root = format!("0x{}", "11".repeat(32));
    let (code, message) = err(storage, "zgs_downloadSegmentWithProofSigned", serde_json::json!([root, 0]));
    assert_eq!(code, -32000);
    assert!(message.contains("stakes nothing"), "{message}");
    node.stop();

    // One that mines: malformed calls are refused as such, an unknown file is null.
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::spawn(&dev_args(dir.path()).iter().map(String::as_str).collect::<Vec<_>>());
    let storage = node.storage_addr.unwrap();
    for params in [serde_json::json!([]), serde_json::json!(["0x12", 0]), serde_json::json!([root, -1]), serde_json::json!([root, "x"]), serde_json::json!({"a": 1})] {
        let (code, _) = err(storage, "zgs_downloadSegmentWithProofSigned", params.clone());
        assert_eq!(code, -32602, "{params}");
    }
    assert_eq!(ok(storage, "zgs_downloadSegmentWithProofSigned", serde_json::json!([root, 0])), serde_json::Value::Null);
}
