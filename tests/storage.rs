//! The storage node role on a dev chain: the official 0G TypeScript SDK uploads and downloads
//! through it unchanged, and hand-made JSON-RPC shows what is refused (wrong proofs, sizes,
//! roots, unknown files, duplicates, oversized calls) and what survives a restart.

mod common;

use alloy_primitives::{B256, Bytes, TxKind, U256};
use alloy_sol_types::SolCall;
use base64::Engine;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use zgnode::storage::client::segment_json;
use zg_components::storage::merkle::{self, FileCommitment, SEGMENT_CHUNKS, SEGMENT_SIZE};
use zg_systems::storage::flow::{self, IFlow, Submission, SubmissionData, SubmissionNode};

const TIMEOUT: Duration = Duration::from_secs(60);

fn storage_config() -> zgnode::NodeConfig {
    let mut config = test_config();
    config.storage.enabled = true;
    config.storage.addr = "127.0.0.1:0".parse().unwrap();
    config.storage.max_request_bytes = 4 * 1024 * 1024;
    config
}

/// A storage node whose chain and segments live in `dir` (not in memory).
fn storage_config_in(dir: &Path) -> zgnode::NodeConfig {
    let mut config = storage_config();
    config.node.ephemeral = false;
    config.node.data_dir = dir.to_path_buf();
    config
}

fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i * 131 + 7) % 251) as u8).collect()
}

/// Publishes a file on the Flow contract from dev account `key` and waits until the storage
/// node knows it; returns its tx seq.
fn publish(rpc: SocketAddr, storage: SocketAddr, commitment: &FileCommitment, key: usize, nonce: u64) -> u64 {
    let nodes = commitment.submission.nodes.iter().map(|(root, height)| SubmissionNode { root: *root, height: U256::from(*height) }).collect();
    let submission = Submission {
        data: SubmissionData { length: U256::from(commitment.size), tags: Bytes::new(), nodes },
        submitter: dev_key(key).address(),
    };
    let sectors: u64 = commitment.submission.nodes.iter().map(|(_, h)| 1u64 << h).sum();
    let fee = U256::from(sectors) * U256::from(flow::DEFAULT_PRICE_PER_SECTOR);
    let input = IFlow::submitCall { submission }.abi_encode();
    let tx = sign(&dev_key(key), TxKind::Call(flow::FLOW_ADDRESS), fee, input.into(), nonce, 500_000);
    let hash = ok(rpc, "eth_sendRawTransaction", json!([raw(&tx)]));
    let receipt = wait_receipt(rpc, hash.as_str().unwrap(), TIMEOUT);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let started = Instant::now();
    loop {
        let info = ok(storage, "zgs_getFileInfo", json!([commitment.root(), true]));
        if !info.is_null() {
            return info["tx"]["seq"].as_u64().unwrap();
        }
        assert!(started.elapsed() < TIMEOUT, "the storage node never saw the submission");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn error_of(response: &Value) -> (i64, String, String) {
    let error = response.get("error").unwrap_or_else(|| panic!("expected an error: {response}"));
    (
        error["code"].as_i64().unwrap(),
        error["message"].as_str().unwrap_or_default().to_string(),
        error.get("data").map(|d| d.to_string()).unwrap_or_default(),
    )
}

#[test]
fn uploads_are_checked_against_the_chain_and_bad_ones_refused() {
    let node = start_node(&storage_config());
    let running = node.node.as_ref().unwrap();
    let storage = running.storage_addr.expect("storage role on");
    let rpc = node.addr;

    // Status and shard config take no params at all, as the SDK sends them.
    let (status, body) = http_post(storage, br#"{"jsonrpc":"2.0","id":18446744073709551,"method":"zgs_getStatus"}"#);
    assert_eq!(status, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["id"], json!(18446744073709551u64), "large numeric ids are echoed");
    assert_eq!(status["result"]["networkIdentity"]["chainId"], CHAIN_ID);
    assert_eq!(status["result"]["networkIdentity"]["flowAddress"].as_str().unwrap().to_lowercase(), format!("{:#x}", flow::FLOW_ADDRESS));
    assert_eq!(ok(storage, "zgs_getShardConfig", json!([])), json!({"shardId": 0, "numShard": 1}));

    let data = pattern(2 * SEGMENT_SIZE + 1000);
    let commitment = FileCommitment::of(&data);
    assert!(ok(storage, "zgs_getFileInfo", json!([commitment.root(), false])).is_null(), "unknown until published");
    let seq = publish(rpc, storage, &commitment, 0, dev0_nonce(0));

    let upload = |segments: Vec<Value>, seq: u64| rpc_call(storage, "zgs_uploadSegmentsByTxSeq", json!([segments, seq]));
    // A proof for another position.
    let mut wrong = segment_json(&data, &commitment, 0);
    wrong["index"] = json!(1);
    let (code, message, _) = error_of(&upload(vec![wrong], seq));
    assert_eq!(code, -32602);
    assert!(message.contains("invalid segment proof"), "{message}");
    let mut tampered = segment_json(&data, &commitment, 1);
    tampered["proof"]["lemma"][1] = json!(B256::repeat_byte(7));
    assert!(error_of(&upload(vec![tampered], seq)).1.contains("invalid segment proof"));
    // Data that is not the segment's.
    let mut swapped = segment_json(&data, &commitment, 0);
    swapped["data"] = segment_json(&data, &commitment, 1)["data"].clone();
    assert!(error_of(&upload(vec![swapped], seq)).1.contains("invalid segment proof"));
    let mut short = segment_json(&data, &commitment, 0);
    short["data"] = json!(base64::engine::general_purpose::STANDARD.encode([1u8; 256]));
    assert!(error_of(&upload(vec![short], seq)).1.contains("must be 262144 bytes"));
    let mut not_base64 = segment_json(&data, &commitment, 0);
    not_base64["data"] = json!("***");
    assert!(error_of(&upload(vec![not_base64], seq)).1.contains("not base64"));
    let mut other_root = segment_json(&data, &commitment, 0);
    other_root["root"] = json!(B256::repeat_byte(9));
    assert!(error_of(&upload(vec![other_root], seq)).1.contains("is not the root"));
    let mut wrong_size = segment_json(&data, &commitment, 0);
    wrong_size["fileSize"] = json!(5);
    assert!(error_of(&upload(vec![wrong_size], seq)).1.contains("fileSize"));
    assert!(error_of(&upload(vec![segment_json(&data, &commitment, 0)], seq + 100)).1.contains("no file with tx seq"));
    let mut beyond = segment_json(&data, &commitment, 0);
    beyond["index"] = json!(3);
    assert!(error_of(&upload(vec![beyond], seq)).1.contains("out of range"));
    let too_many: Vec<Value> = (0..65).map(|_| json!({})).collect();
    assert_eq!(error_of(&upload(too_many, seq)).0, -32602);
    let (code, _) = err(storage, "zgs_uploadSegmentsByTxSeq", json!(["nope"]));
    assert_eq!(code, -32602);
    // Nothing was stored by any of that.
    let info = ok(storage, "zgs_getFileInfoByTxSeq", json!([seq]));
    assert_eq!((info["uploadedSegNum"].as_u64(), info["finalized"].as_bool()), (Some(0), Some(false)));
    assert!(ok(storage, "zgs_downloadSegmentByTxSeq", json!([seq, 0, 1024])).is_null(), "not held yet");

    // Two of three segments: not finalized (real 0G would say it is).
    assert_eq!(upload(vec![segment_json(&data, &commitment, 0), segment_json(&data, &commitment, 2)], seq)["result"], Value::Null);
    let info = ok(storage, "zgs_getFileInfo", json!([commitment.root(), true]));
    assert_eq!((info["uploadedSegNum"].as_u64(), info["finalized"].as_bool()), (Some(2), Some(false)));
    assert_eq!(upload(vec![segment_json(&data, &commitment, 1)], seq)["result"], Value::Null);
    let info = ok(storage, "zgs_getFileInfo", json!([commitment.root(), true]));
    assert_eq!(info["finalized"], true);
    assert_eq!(info["tx"]["size"], data.len());
    // A complete file answers the SDK's "success" error for more uploads.
    let (code, message, data_field) = error_of(&upload(vec![segment_json(&data, &commitment, 1)], seq));
    assert_eq!((code, message.as_str()), (-32602, "Invalid params"));
    assert!(data_field.contains("already uploaded and finalized"), "{data_field}");

    // Downloads: byte for byte, by chunk range, with proofs that verify.
    let chunks = merkle::chunk_count(data.len() as u64);
    let mut back = Vec::new();
    for segment in 0..3u64 {
        let start = segment * SEGMENT_CHUNKS as u64;
        let end = (start + SEGMENT_CHUNKS as u64).min(chunks);
        let part = ok(storage, "zgs_downloadSegmentByTxSeq", json!([seq, start, end]));
        back.extend(base64::engine::general_purpose::STANDARD.decode(part.as_str().unwrap()).unwrap());
    }
    back.truncate(data.len());
    assert_eq!(back, data);
    let part = ok(storage, "zgs_downloadSegment", json!([commitment.root(), 1000, 1030]));
    let bytes = base64::engine::general_purpose::STANDARD.decode(part.as_str().unwrap()).unwrap();
    assert_eq!(bytes, data[1000 * 256..1030 * 256]);
    let with_proof = ok(storage, "zgs_downloadSegmentWithProof", json!([commitment.root(), 2]));
    let proof: zg_components::storage::Proof = serde_json::from_value(with_proof["proof"].clone()).unwrap();
    let segment_data = base64::engine::general_purpose::STANDARD.decode(with_proof["data"].as_str().unwrap()).unwrap();
    let leaf = merkle::segment_root(data.len() as u64, 2, &merkle::chunk_hashes(&segment_data));
    proof.validate(&commitment.root(), &leaf, 2, commitment.segment_roots.len()).unwrap();
    let (code, _) = err(storage, "zgs_downloadSegmentByTxSeq", json!([seq, 5, 5]));
    assert_eq!(code, -32602);
    let (code, _) = err(storage, "zgs_downloadSegmentByTxSeq", json!([seq, 0, chunks + 1]));
    assert_eq!(code, -32602);
    assert!(ok(storage, "zgs_downloadSegmentByTxSeq", json!([seq + 9, 0, 1])).is_null());

    // A request over the size limit is refused at the door.
    let huge = vec![b'x'; 5 * 1024 * 1024];
    let (status, _) = http_post(storage, &huge);
    assert_eq!(status, 413);
    node.stop();
}

fn rpc_call(addr: SocketAddr, method: &str, params: Value) -> Value {
    rpc(addr, method, params)
}

#[test]
fn acknowledged_segments_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = storage_config_in(dir.path());
    let data = pattern(3 * SEGMENT_SIZE);
    let commitment = FileCommitment::of(&data);
    let node = start_node(&config);
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let seq = publish(node.addr, storage, &commitment, 1, 0);
    let result = rpc(storage, "zgs_uploadSegmentsByTxSeq", json!([[segment_json(&data, &commitment, 1)], seq]));
    assert_eq!(result["result"], Value::Null, "{result}");
    node.stop();

    let node = start_node(&config);
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let info = ok(storage, "zgs_getFileInfoByTxSeq", json!([seq]));
    assert_eq!((info["uploadedSegNum"].as_u64(), info["finalized"].as_bool()), (Some(1), Some(false)));
    for index in [0, 2] {
        let result = rpc(storage, "zgs_uploadSegmentsByTxSeq", json!([[segment_json(&data, &commitment, index)], seq]));
        assert_eq!(result["result"], Value::Null, "{result}");
    }
    assert_eq!(ok(storage, "zgs_getFileInfoByTxSeq", json!([seq]))["finalized"], true);
    node.stop();
}

/// A bit flipped in a segment file on disk (a failing drive) is caught before anything is
/// served: the download gets a clear error, never the damaged bytes; other segments still serve.
#[test]
fn a_segment_damaged_on_disk_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = storage_config_in(dir.path());
    let data = pattern(2 * SEGMENT_SIZE);
    let commitment = FileCommitment::of(&data);
    let node = start_node(&config);
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let seq = publish(node.addr, storage, &commitment, 1, 0);
    for index in [0, 1] {
        let result = rpc(storage, "zgs_uploadSegmentsByTxSeq", json!([[segment_json(&data, &commitment, index)], seq]));
        assert_eq!(result["result"], Value::Null, "{result}");
    }
    let segment_file = dir.path().join("segments").join(format!("{seq}.seg"));
    let mut bytes = std::fs::read(&segment_file).unwrap();
    bytes[SEGMENT_SIZE + 1000] ^= 0x10;
    std::fs::write(&segment_file, &bytes).unwrap();

    let chunks_per_segment = (SEGMENT_SIZE / 256) as u64;
    let (code, message, _) = error_of(&rpc(storage, "zgs_downloadSegmentByTxSeq", json!([seq, chunks_per_segment, 2 * chunks_per_segment])));
    assert_eq!(code, -32000);
    assert!(message.contains("damaged"), "{message}");
    let (code, _, _) = error_of(&rpc(storage, "zgs_downloadSegmentWithProofByTxSeq", json!([seq, 1])));
    assert_eq!(code, -32000);
    let first = ok(storage, "zgs_downloadSegmentByTxSeq", json!([seq, 0, chunks_per_segment]));
    let first = base64::engine::general_purpose::STANDARD.decode(first.as_str().unwrap()).unwrap();
    assert_eq!(first, data[..SEGMENT_SIZE], "the intact segment still serves");
    node.stop();
}

/// Runs one of the SDK scripts in `tests/storage-sdk` against a node; its last stdout line.
fn run_sdk_script(script: &str, node: SocketAddr, storage: SocketAddr, key: usize, size: usize, extra: &[&str]) -> Value {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/storage-sdk");
    ensure_sdk(&sdk);
    let output = Command::new("node")
        .arg(sdk.join(script))
        .arg(format!("http://{node}"))
        .arg(format!("http://{storage}"))
        .arg(format!("{:#x}", flow::FLOW_ADDRESS))
        .arg(zgnode::dev::dev_accounts()[key].private_key.to_string())
        .arg(size.to_string())
        .args(extra)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script}: round trip of {size} bytes failed\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn the_official_0g_sdk_uploads_and_downloads_unchanged() {
    let node = start_node(&storage_config());
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    for size in [1usize, 600_000] {
        let result = run_sdk_script("upload_download.mjs", node.addr, storage, 2, size, &[]);
        assert_eq!(result["same"], true);
        assert_eq!(result["root"], json!(FileCommitment::of(&pattern(size)).root()), "the SDK's root is ours");
    }
    node.stop();
}

#[test]
fn the_legacy_0g_sdk_uploads_and_downloads_unchanged() {
    // @0glabs/0g-ts-sdk 0.3.3: the other `submit` overload, the tx seq from the receipt's event.
    let node = start_node(&storage_config());
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for size in [1usize, 600_000] {
        let out = dir.path().join(format!("back-{size}"));
        let result = run_sdk_script("legacy_upload_download.mjs", node.addr, storage, 3, size, &[out.to_str().unwrap()]);
        assert_eq!(result["same"], true);
        assert_eq!(result["root"], json!(FileCommitment::of(&pattern(size)).root()), "the SDK's root is ours");
    }
    node.stop();
}

#[test]
fn a_storage_node_killed_mid_upload_keeps_every_acknowledged_segment() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("node");
    let args = dev_args(&data_dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let storage = node.storage_addr.expect("storage role on in dev");
    let data = pattern(8 * SEGMENT_SIZE);
    let commitment = FileCommitment::of(&data);
    let seq = publish(node.addr, storage, &commitment, 3, 0);

    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let uploader = {
        let (acknowledged, data, commitment) = (acknowledged.clone(), data.clone(), commitment.clone());
        std::thread::spawn(move || {
            for index in 0..8 {
                let request = json!({"jsonrpc": "2.0", "id": 1, "method": "zgs_uploadSegmentsByTxSeq",
                    "params": [[segment_json(&data, &commitment, index)], seq]});
                let Ok(mut stream) = std::net::TcpStream::connect(storage) else { return };
                let body = request.to_string();
                let head = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                use std::io::{Read, Write};
                if stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes())).is_err() {
                    return;
                }
                let mut response = String::new();
                let _ = stream.read_to_string(&mut response);
                if response.contains("\"result\":null") {
                    acknowledged.lock().unwrap().push(index);
                } else {
                    return;
                }
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    node.kill();
    uploader.join().unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();

    let node = NodeProcess::spawn(&args);
    let storage = node.storage_addr.unwrap();
    let info = ok(storage, "zgs_getFileInfoByTxSeq", json!([seq]));
    assert!(info["uploadedSegNum"].as_u64().unwrap() >= acknowledged.len() as u64, "{info} vs {acknowledged:?}");
    for index in &acknowledged {
        let start = *index as u64 * SEGMENT_CHUNKS as u64;
        let part = ok(storage, "zgs_downloadSegmentByTxSeq", json!([seq, start, start + SEGMENT_CHUNKS as u64]));
        let bytes = base64::engine::general_purpose::STANDARD.decode(part.as_str().expect("held")).unwrap();
        assert_eq!(bytes, data[*index * SEGMENT_SIZE..(*index + 1) * SEGMENT_SIZE], "segment {index}");
    }
    // The rest is accepted after the restart, and the file completes.
    for index in 0..8 {
        let response = rpc(storage, "zgs_uploadSegmentsByTxSeq", json!([[segment_json(&data, &commitment, index)], seq]));
        assert!(response.get("result").is_some() || response.to_string().contains("already uploaded"), "{response}");
    }
    assert_eq!(ok(storage, "zgs_getFileInfoByTxSeq", json!([seq]))["finalized"], true);
}

#[test]
fn the_storage_node_answers_pora_challenges_and_earns() {
    use zg_systems::storage::pora::{IPoraMine, MINE_ADDRESS};
    let mut config = storage_config();
    let miner = dev_key(zgnode::dev::DEV_MINER_ACCOUNT);
    config.storage.miner_key = Some(format!("0x{}", alloy_primitives::hex::encode(miner.to_bytes())));
    let node = start_node(&config);
    let running = node.node.as_ref().unwrap();
    assert_eq!(running.miner_address, Some(miner.address()));
    let storage = running.storage_addr.unwrap();
    let data = pattern(3 * SEGMENT_SIZE + 12_345);
    let commitment = FileCommitment::of(&data);
    let seq = publish(node.addr, storage, &commitment, 4, 0);
    for index in 0..4 {
        let result = rpc(storage, "zgs_uploadSegmentsByTxSeq", json!([[segment_json(&data, &commitment, index)], seq]));
        assert_eq!(result["result"], Value::Null, "{result}");
    }
    let status = || {
        let input = IPoraMine::minersCall { miner: miner.address() }.abi_encode();
        let call = json!({"to": MINE_ADDRESS, "data": alloy_primitives::hex::encode_prefixed(input)});
        let output = ok(node.addr, "eth_call", json!([call, "latest"]));
        IPoraMine::minersCall::abi_decode_returns(&alloy_primitives::hex::decode(output.as_str().unwrap()).unwrap()).unwrap()
    };
    let reward = zgnode::storage::dev_mine_params().reward_per_challenge;
    let started = Instant::now();
    // Two full epochs of challenges, every one proven from the segments in redb.
    while status().earned < reward * U256::from(16) {
        assert!(started.elapsed() < TIMEOUT, "the miner did not earn: {:?}", status().earned);
        std::thread::sleep(Duration::from_millis(100));
    }
    let miner_status = status();
    assert!(miner_status.registered);
    assert_eq!(miner_status.penalized, U256::ZERO);
    // The status page shows the same standing, read from the contract (8 challenges an epoch).
    let pora = &status_snapshot(node.addr)["roles"]["storage"]["poraStanding"];
    assert!(pora["registered"] == true && pora["penalized"] == "0 0G" && pora["earned"] != "0 0G", "{pora}");
    assert!(pora["passedLastEpoch"].as_str().is_some_and(|passed| passed.ends_with(" of 8")), "{pora}");
    node.stop();
}

#[test]
fn sector_proofs_lead_from_a_chunk_to_its_file_root() {
    let node = start_node(&storage_config());
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let data = pattern(3 * SEGMENT_SIZE + 12_345);
    let commitment = FileCommitment::of(&data);
    let seq = publish(node.addr, storage, &commitment, 4, 0);
    let info = ok(storage, "zgs_getFileInfoByTxSeq", json!([seq]));
    let start = info["tx"]["startEntryIndex"].as_u64().unwrap();
    let root = commitment.root();
    // Not served before the data is here.
    assert_eq!(ok(storage, "zgs_getSectorProof", json!([start, root])), Value::Null);
    for index in 0..4 {
        ok(storage, "zgs_uploadSegmentsByTxSeq", json!([[segment_json(&data, &commitment, index)], seq]));
    }
    let chunks = merkle::chunk_count(data.len() as u64);
    let padded = merkle::padded_chunks(chunks);
    // First, inside, the last data chunk (zero-padded), a padding chunk, the last padding chunk.
    for sector in [0, 1_500, chunks - 1, chunks, padded - 1] {
        let proof: merkle::Proof = serde_json::from_value(ok(storage, "zgs_getSectorProof", json!([start + sector, root]))).unwrap();
        let mut chunk = data.get(sector as usize * 256..).map(|rest| rest[..rest.len().min(256)].to_vec()).unwrap_or_default();
        chunk.resize(256, 0);
        assert_eq!(proof.lemma[0], alloy_primitives::keccak256(&chunk), "sector {sector}: the leaf is the chunk's hash");
        assert_eq!(proof.lemma.last(), Some(&root));
        assert_eq!(proof.lemma.len(), proof.path.len() + 2);
        let mut node_hash = proof.lemma[0];
        for (sibling, left) in proof.lemma[1..proof.lemma.len() - 1].iter().zip(&proof.path) {
            node_hash = if *left { merkle::hash_pair(&node_hash, sibling) } else { merkle::hash_pair(sibling, &node_hash) };
        }
        assert_eq!(node_hash, root, "sector {sector}: folds to the file root");
    }
    // Outside the file, an unknown root, malformed params: clear errors.
    let (code, message, _) = error_of(&rpc(storage, "zgs_getSectorProof", json!([start + padded, root])));
    assert_eq!(code, -32602);
    assert!(message.contains("is not in a file with root"), "{message}");
    let (code, _, _) = error_of(&rpc(storage, "zgs_getSectorProof", json!([start, B256::repeat_byte(3)])));
    assert_eq!(code, -32602);
    let (code, _, _) = error_of(&rpc(storage, "zgs_getSectorProof", json!(["zero", root])));
    assert_eq!(code, -32602);
    let (code, _, _) = error_of(&rpc(storage, "zgs_getSectorProof", json!([-1, root])));
    assert_eq!(code, -32602);
    node.stop();
}

/// A publication that would make every storage node audit and keep shards of a multi-terabyte
/// file is refused by Flow itself (the fee alone, one gwei a sector, would be cheap for it).
#[test]
fn flow_refuses_a_file_over_one_tebibyte() {
    let node = start_node(&storage_config());
    let rpc = node.addr;
    let submission = |height: u64| {
        let sectors = 1u64 << height;
        Submission {
            data: SubmissionData {
                length: U256::from(sectors * 256),
                tags: Bytes::new(),
                nodes: vec![SubmissionNode { root: B256::repeat_byte(5), height: U256::from(height) }],
            },
            submitter: dev_key(3).address(),
        }
    };
    let call = |height: u64| {
        let fee = U256::from(1u64 << height) * U256::from(flow::DEFAULT_PRICE_PER_SECTOR);
        let input = IFlow::submitCall { submission: submission(height) }.abi_encode();
        let request = json!({
            "from": dev_key(3).address(),
            "to": flow::FLOW_ADDRESS,
            "value": format!("{fee:#x}"),
            "data": alloy_primitives::hex::encode_prefixed(input),
        });
        rpc_call(rpc, "eth_call", json!([request, "latest"]))
    };
    // 1 TiB exactly is a file; twice that is not, whatever it pays.
    assert!(call(32).get("result").is_some(), "{}", call(32));
    let (code, message, _) = error_of(&call(33));
    assert_eq!(code, 3);
    assert!(message.contains("file over 1 TiB"), "{message}");
    node.stop();
}

#[test]
fn files_start_on_boundaries_of_their_largest_piece_as_in_0gs_flow() {
    let node = start_node(&storage_config());
    let (rpc, storage) = (node.addr, node.node.as_ref().unwrap().storage_addr.unwrap());
    // 4 chunks at 0; then 2,344 chunks (padded to 2,560: pieces 2048 + 512) start at 2048, not 4:
    // a multi-segment file begins on a segment boundary, where 0G's clients count its segments from.
    let small = FileCommitment::of(&pattern(1_000));
    let large = FileCommitment::of(&pattern(600_000));
    assert_eq!(large.submission.nodes.iter().map(|(_, h)| *h).collect::<Vec<_>>(), vec![11, 9]);
    publish(rpc, storage, &small, 3, 0);
    publish(rpc, storage, &large, 3, 1);
    let start = |root: B256| ok(storage, "zgs_getFileInfo", json!([root, true]))["tx"]["startEntryIndex"].as_u64().unwrap();
    assert_eq!(start(small.root()), 0);
    assert_eq!(start(large.root()), 2_048);
    // Pieces that are not largest first would leave some unaligned: refused.
    let mut nodes: Vec<SubmissionNode> = large.submission.nodes.iter().map(|(root, height)| SubmissionNode { root: *root, height: U256::from(*height) }).collect();
    nodes.swap(0, 1);
    let submission = Submission { data: SubmissionData { length: U256::from(600_000u64), tags: Bytes::new(), nodes }, submitter: dev_key(3).address() };
    let request = json!({
        "from": dev_key(3).address(),
        "to": flow::FLOW_ADDRESS,
        "value": format!("{:#x}", U256::from(2_560u64) * U256::from(flow::DEFAULT_PRICE_PER_SECTOR)),
        "data": alloy_primitives::hex::encode_prefixed(IFlow::submitCall { submission }.abi_encode()),
    });
    let (code, message, _) = error_of(&rpc_call(rpc, "eth_call", json!([request, "latest"])));
    assert_eq!(code, 3);
    assert!(message.contains("pieces not in descending size"), "{message}");
    node.stop();
}
