//! The KV layer (0G's `0g-storage-kv`) on a zgnode storage port: the official Go client's
//! `kv-write`/`kv-read` and the TS SDK's `Batcher` + `KvClient` unchanged against `zgnode dev`;
//! `kv_*` shapes and hostile parameters; writes refused to non-writers; reads at versions before
//! and after a write; state kept across a restart; `admin_addStream` replaying a new stream.

mod common;

use alloy_primitives::{Address, B256};
use alloy_signer::SignerSync;
use base64::Engine;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use zg_components::storage::kv::acl;
use zg_systems::storage::kv::{StreamDataBuilder, tags_for};
use zgnode::storage::client::StorageClient;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(value.as_str().expect("base64 string")).expect("base64")
}

/// Waits until the node replayed every submission through `seq`.
fn replayed_through(storage: SocketAddr, seq: u64) {
    let started = Instant::now();
    while ok(storage, "kv_getReplayProgress", json!([]))["appliedSeq"].as_u64().unwrap_or(0) <= seq {
        assert!(started.elapsed() < Duration::from_secs(60), "kv replay never reached seq {seq}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Submits and uploads a stream write from dev account `key`; its tx seq, once replayed.
fn write(runtime: &tokio::runtime::Runtime, client: &StorageClient, storage: SocketAddr, key: usize, data: &StreamDataBuilder) -> u64 {
    let tags = tags_for(&data.streams());
    let report = runtime.block_on(client.upload_tagged(&data.encode(), &tags, &dev_key(key), |_| ())).expect("uploaded");
    replayed_through(storage, report.tx_seq);
    report.tx_seq
}

fn value(storage: SocketAddr, stream: B256, key: &[u8], version: Option<u64>) -> (u64, Vec<u8>) {
    let mut params = vec![json!(stream), json!(b64(key)), json!(0), json!(1 << 20)];
    params.extend(version.map(|v| json!(v)));
    let found = ok(storage, "kv_getValue", Value::Array(params));
    (found["version"].as_u64().unwrap(), unb64(&found["data"]))
}

#[test]
fn the_official_clients_write_and_read_kv_streams_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let args = dev_args(&dir.path().join("node"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let storage_addr = node.storage_addr.expect("zgnode dev serves storage");
    let (rpc, storage) = (format!("http://{}", node.addr), format!("http://{storage_addr}"));
    let stream = format!("0x{}", "ab".repeat(32));
    let owner = dev_key(6).to_bytes().to_string();

    run_go(&["kv-write", "--url", &rpc, "--key", &owner, "--node", &storage, "--stream-id", &stream, "--stream-keys", "k1,k2", "--stream-values", "hello,world"]);
    replayed_through(storage_addr, 0);
    let read = run_go(&["kv-read", "--node", &storage, "--stream-id", &stream, "--stream-keys", "k1,k2,missing"]);
    let line = read.lines().find(|l| l.starts_with('{')).expect("kv-read prints JSON");
    assert_eq!(serde_json::from_str::<Value>(line).unwrap(), json!({"k1": "hello", "k2": "world", "missing": ""}));
    assert_eq!(ok(storage_addr, "kv_getTransactionResult", json!([0])), json!("Commit"));
    assert_eq!(ok(storage_addr, "zgs_getFileInfoByTxSeq", json!([0]))["tx"]["streamIds"], json!([stream]), "the tags as 0G's node shows them");

    // The attacker: another account writes the owner's key through the same client.
    let stranger = dev_key(9).to_bytes().to_string();
    run_go(&["kv-write", "--url", &rpc, "--key", &stranger, "--node", &storage, "--stream-id", &stream, "--stream-keys", "k1", "--stream-values", "stolen"]);
    replayed_through(storage_addr, 1);
    assert_eq!(ok(storage_addr, "kv_getTransactionResult", json!([1])), json!("SenderNoWritePermission"));
    let read = run_go(&["kv-read", "--node", &storage, "--stream-id", &stream, "--stream-keys", "k1"]);
    assert!(read.contains(r#"{"k1":"hello"}"#), "the owner's value stands: {read}");

    // The TS SDK's Batcher and KvClient, through the node's indexer, on a stream of their own.
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/storage-sdk");
    ensure_sdk(&sdk);
    let ts_stream = format!("0x{}", "cd".repeat(32));
    let output = Command::new("node")
        .arg(sdk.join("kv_batcher.mjs"))
        .args([&rpc, &storage, &dev_key(8).to_bytes().to_string(), &ts_stream])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "Batcher / KvClient\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["one"], "value one", "{result}");
    assert_eq!(result["two"], "value two", "{result}");
    assert_eq!((result["first"].as_str(), result["next"].as_str()), (Some("ts-key-1"), Some("ts-key-2")), "{result}");
    assert_eq!((result["admin"].as_bool(), result["writer"].as_bool(), result["holds"].as_bool()), (Some(true), Some(true), Some(true)), "{result}");
    assert_eq!(result["version"], result["txSeq"], "a key's version is the seq that wrote it");
    node.kill();
}

fn storage_config_in(dir: &Path) -> zgnode::NodeConfig {
    let mut config = test_config();
    config.storage.enabled = true;
    config.storage.addr = "127.0.0.1:0".parse().unwrap();
    config.node.ephemeral = false;
    config.node.data_dir = dir.to_path_buf();
    config
}

#[test]
fn kv_methods_answer_in_0gs_shapes_at_every_version_and_refuse_hostile_input() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(&storage_config_in(dir.path()));
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let client = StorageClient::new(&format!("http://{}", node.addr), &format!("http://{storage}")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s = B256::repeat_byte(0x5a);
    let (owner, writer, stranger) = (dev_key(1).address(), dev_key(2).address(), dev_key(3).address());

    let big_key = vec![b'k'; 100_000];
    let big_value: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let v0 = write(&runtime, &client, storage, 1, &StreamDataBuilder::new(u64::MAX).write(s, b"a", b"first").write(s, b"c", b"see").write(s, &big_key, &big_value));
    let v1 = write(&runtime, &client, storage, 1, &StreamDataBuilder::new(u64::MAX).write(s, b"a", b"second").control(acl::GRANT_WRITER_ROLE, s, None, Some(writer)));
    assert_eq!(ok(storage, "kv_getTransactionResult", json!([v1])), json!("Commit"));

    // Reads before and after a write.
    assert_eq!(value(storage, s, b"a", Some(v0)), (v0, b"first".to_vec()));
    assert_eq!(value(storage, s, b"a", None), (v1, b"second".to_vec()));
    assert_eq!(value(storage, s, b"a", Some(v0.saturating_sub(1))).0, 0, "before any write: no version");
    assert_eq!(ok(storage, "kv_getValue", json!([s, b64(b"nope"), 0, 100])), json!({"version": 0, "data": "", "size": 0}));
    // A 100 KB key and a 700 KB value spanning three segments, read whole and in windows.
    let (_, whole) = value(storage, s, &big_key, None);
    assert_eq!(whole, big_value);
    let window = ok(storage, "kv_getValue", json!([s, b64(&big_key), 300_000, 10]));
    assert_eq!((unb64(&window["data"]), window["size"].as_u64()), (big_value[300_000..300_010].to_vec(), Some(700_000)));

    // Range queries; a deleted key is passed over.
    let v2 = write(&runtime, &client, storage, 2, &StreamDataBuilder::new(u64::MAX).write(s, b"c", b""));
    let next = ok(storage, "kv_getNext", json!([s, b64(b"a"), 0, 64, false]));
    assert_eq!(unb64(&next["key"]), big_key, "c is deleted at the newest version");
    let next_before = ok(storage, "kv_getNext", json!([s, b64(b"a"), 0, 64, false, v1]));
    assert_eq!((unb64(&next_before["key"]), unb64(&next_before["data"])), (b"c".to_vec(), b"see".to_vec()));
    assert_eq!(unb64(&ok(storage, "kv_getFirst", json!([s, 0, 8]))["key"]), b"a");
    assert_eq!(unb64(&ok(storage, "kv_getLast", json!([s, 0, 8]))["key"]), big_key);
    assert_eq!(unb64(&ok(storage, "kv_getPrev", json!([s, b64(&big_key), 0, 8, false]))["key"]), b"a");
    assert_eq!(ok(storage, "kv_getPrev", json!([s, b64(b"a"), 0, 8, false])), Value::Null, "nothing before the first key");

    // Access control as the writer and a stranger see it.
    assert_eq!(ok(storage, "kv_isAdmin", json!([owner, s])), json!(true));
    assert_eq!(ok(storage, "kv_IsAdmin", json!([writer, s])), json!(false), "the TS SDK's spelling");
    assert_eq!(ok(storage, "kv_isWriterOfStream", json!([writer, s])), json!(true));
    assert_eq!(ok(storage, "kv_isWriterOfStream", json!([writer, s, v0])), json!(false), "before it was granted");
    assert_eq!(ok(storage, "kv_hasWritePermission", json!([stranger, s, b64(b"a")])), json!(false));
    assert_eq!(ok(storage, "kv_getTransactionResult", json!([v2])), json!("Commit"), "the writer deleted c");
    let theft = write(&runtime, &client, storage, 3, &StreamDataBuilder::new(u64::MAX).write(s, b"a", b"stolen"));
    assert_eq!(ok(storage, "kv_getTransactionResult", json!([theft])), json!("SenderNoWritePermission"));
    let escalate = write(&runtime, &client, storage, 2, &StreamDataBuilder::new(u64::MAX).control(acl::GRANT_ADMIN_ROLE, s, None, Some(stranger)));
    assert!(ok(storage, "kv_getTransactionResult", json!([escalate])).as_str().unwrap().starts_with("AccessControlPermissionDenied: operation: GRANT_ADMIN_ROLE"));
    let stale = write(&runtime, &client, storage, 1, &StreamDataBuilder::new(v0).read(s, b"a").write(s, b"b", b"x"));
    assert_eq!(ok(storage, "kv_getTransactionResult", json!([stale])), json!("VersionConfliction"));
    assert_eq!(value(storage, s, b"a", None).1, b"second", "nothing refused landed");

    // Malformed stream data: a key length past the end of the file.
    let mut malformed = StreamDataBuilder::new(u64::MAX).write(s, b"zz", b"v").encode();
    malformed[8 + 4 + 4 + 32..8 + 4 + 4 + 32 + 3].copy_from_slice(&[0xff, 0xff, 0xff]);
    let report = runtime.block_on(client.upload_tagged(&malformed, &tags_for(&[s]), &dev_key(1), |_| ())).unwrap();
    replayed_through(storage, report.tx_seq);
    let result = ok(storage, "kv_getTransactionResult", json!([report.tx_seq]));
    let all: Vec<Value> = (0..=report.tx_seq + 1).map(|q| ok(storage, "kv_getTransactionResult", json!([q]))).collect();
    assert!(result.as_str().unwrap_or_default().starts_with("DataParseError: key runs past the end"), "{result} {all:?} {}", report.tx_seq);
    // A file without stream tags is not a KV write: no result.
    let plain = runtime.block_on(client.upload(b"just a file", &dev_key(4), |_| ())).unwrap();
    replayed_through(storage, plain.tx_seq);
    assert_eq!(ok(storage, "kv_getTransactionResult", json!([plain.tx_seq])), Value::Null);
    assert_eq!(ok(storage, "kv_getTransactionResult", json!(["1"])), json!("Commit"), "the TS SDK sends the seq as a string");
    assert_eq!(ok(storage, "kv_getHoldingStreamIds", json!([])), json!([s]));
    assert_eq!(ok(storage, "kv_getStatus", json!([])), json!(true));

    let hostile: Vec<(&str, Value)> = vec![
        ("kv_getValue", json!([s, "", 0, 10])),
        ("kv_getValue", json!([s, "***", 0, 10])),
        ("kv_getValue", json!([s, b64(b"a"), 0, 1u64 << 40])),
        ("kv_getValue", json!([s, b64(b"a"), 100, 10])),
        ("kv_getValue", json!(["0x12", b64(b"a"), 0, 10])),
        ("kv_getValue", json!([s, b64(b"a"), -1, 10])),
        ("kv_getValue", json!([s, b64(b"a"), 0, 10, "latest"])),
        ("kv_getValue", json!([s, b64(b"a"), 0, 10, 1, 2])),
        ("kv_getValue", json!({"streamId": s})),
        ("kv_getNext", json!([s, b64(b"a"), 0, 10, "yes"])),
        ("kv_getFirst", json!([s])),
        ("kv_isAdmin", json!(["0xnot", s])),
        ("kv_hasWritePermission", json!([owner, s])),
        ("kv_getTransactionResult", json!([1.5])),
        ("admin_addStream", json!([s, owner, "0x1234"])),
    ];
    for (method, params) in hostile {
        let (code, message) = err(storage, method, params.clone());
        assert_eq!(code, -32602, "{method} {params}: {message}");
    }
    node.stop();
}

fn sign_add_stream(key: usize, stream: B256) -> String {
    let signer = dev_key(key);
    let digest = zgnode::storage::kv::eip712::register_stream_digest(signer.address(), stream, CHAIN_ID);
    format!("0x{}", alloy_primitives::hex::encode(signer.sign_hash_sync(&digest).unwrap().as_bytes()))
}

#[test]
fn kv_state_survives_a_restart_and_an_added_stream_is_replayed_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (followed, later) = (B256::repeat_byte(0x0a), B256::repeat_byte(0x0b));
    let mut config = storage_config_in(dir.path());
    config.storage.kv_streams = vec![followed.to_string()];
    let node = start_node(&config);
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    let client = StorageClient::new(&format!("http://{}", node.addr), &format!("http://{storage}")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let a = write(&runtime, &client, storage, 1, &StreamDataBuilder::new(u64::MAX).write(followed, b"k", b"kept"));
    let b = write(&runtime, &client, storage, 1, &StreamDataBuilder::new(u64::MAX).write(later, b"k", b"later"));
    assert_eq!(ok(storage, "kv_getHoldingStreamIds", json!([])), json!([followed]));
    assert_eq!(ok(storage, "kv_getTransactionResult", json!([b])), Value::Null, "a stream not followed is not replayed");
    assert_eq!(value(storage, later, b"k", None).0, 0);

    // Someone else's signature, or one for another stream, adds nothing.
    let (code, message) = err(storage, "admin_addStream", json!([later, dev_key(2).address(), sign_add_stream(1, later)]));
    assert_eq!(code, -32602, "{message}");
    let (code, _) = err(storage, "admin_addStream", json!([later, dev_key(1).address(), sign_add_stream(1, followed)]));
    assert_eq!(code, -32602);
    assert_eq!(ok(storage, "admin_addStream", json!([later, dev_key(1).address(), sign_add_stream(1, later)])), json!(true));
    replayed_through(storage, b);
    assert_eq!(value(storage, later, b"k", None), (b, b"later".to_vec()), "replayed from the start");
    assert_eq!(value(storage, followed, b"k", None), (a, b"kept".to_vec()));
    let progress = ok(storage, "kv_getReplayProgress", json!([]));
    node.stop();

    let node = start_node(&config);
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    assert_eq!(ok(storage, "kv_getReplayProgress", json!([])), progress, "resumes where it stood");
    assert_eq!(value(storage, later, b"k", None), (b, b"later".to_vec()));
    assert_eq!(value(storage, followed, b"k", None), (a, b"kept".to_vec()));
    assert_eq!(ok(storage, "kv_getHoldingStreamIds", json!([])), json!([followed, later]));
    assert_eq!(ok(storage, "kv_isAdmin", json!([dev_key(1).address(), later])), json!(true));
    assert_eq!(ok(storage, "kv_isAdmin", json!([Address::ZERO, later])), json!(false));
    node.stop();
}
