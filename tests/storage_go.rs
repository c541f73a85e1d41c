//! 0G's official Go storage client (`0g-storage-client` v1.4.x, the Linux x64 build shipped in
//! npm `@0gfoundation/0g-compute-ts-sdk` 0.9.0, fetched by `tests/storage-go/install.sh`),
//! unchanged, against `zgnode dev`: it decodes every response with its own Go types (a field it
//! cannot read fails the run: `tx.data` as `"0x"` once did). Upload and download with `--proof`
//! at three sizes up to 5 MB, byte for byte; a nested directory up and down; and the node
//! methods it and 0G's tools call, with hostile parameters.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `zgnode dev` on a data dir in `dir`, and its storage address.
fn dev_node(dir: &Path) -> (NodeProcess, std::net::SocketAddr) {
    let args = dev_args(&dir.join("node"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let storage = node.storage_addr.expect("zgnode dev serves storage");
    (node, storage)
}

fn bytes(len: usize, salt: u64) -> Vec<u8> {
    (0..len as u64).map(|i| ((i * 2_654_435_761 + salt) >> 7) as u8).collect()
}

fn same_tree(a: &Path, b: &Path) {
    let mut left: Vec<PathBuf> = walk(a).into_iter().map(|p| p.strip_prefix(a).unwrap().to_path_buf()).collect();
    let mut right: Vec<PathBuf> = walk(b).into_iter().map(|p| p.strip_prefix(b).unwrap().to_path_buf()).collect();
    left.sort();
    right.sort();
    assert_eq!(left, right, "the same files");
    for file in left {
        assert_eq!(std::fs::read(a.join(&file)).unwrap(), std::fs::read(b.join(&file)).unwrap(), "{} byte for byte", file.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_official_go_client_uploads_and_downloads_files_and_directories_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (node, storage_addr) = dev_node(dir.path());
    let rpc = format!("http://{}", node.addr);
    let storage = format!("http://{storage_addr}");
    let key = dev_key(6).to_bytes().to_string();

    for (n, len) in [1_000usize, 700_000, 5_000_000].into_iter().enumerate() {
        let file = dir.path().join(format!("file{n}.bin"));
        let data = bytes(len, n as u64);
        std::fs::write(&file, &data).unwrap();
        let out = run_go(&["upload", "--url", &rpc, "--key", &key, "--node", &storage, "--file", file.to_str().unwrap()]);
        let root = go_uploaded_root(&out);
        assert_eq!(ok(storage_addr, "zgs_checkFileFinalized", json!([root])), json!(true), "{len} bytes finalized");
        let back = dir.path().join(format!("back{n}.bin"));
        run_go(&["download", "--node", &storage, "--root", &root, "--file", back.to_str().unwrap(), "--proof"]);
        assert_eq!(std::fs::read(&back).unwrap(), data, "{len} bytes back, proven");
    }

    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::create_dir_all(tree.join("c")).unwrap();
    std::fs::write(tree.join("a/x.bin"), bytes(5_000, 1)).unwrap();
    std::fs::write(tree.join("a/b/y.bin"), bytes(600_000, 2)).unwrap();
    std::fs::write(tree.join("c/z.txt"), b"hello from a nested directory\n").unwrap();
    let out = run_go(&["upload-dir", "--url", &rpc, "--key", &key, "--node", &storage, "--file", tree.to_str().unwrap()]);
    let root = out.split("rootHash=").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("the client prints the directory's root").to_string();
    let back = dir.path().join("tree-back");
    run_go(&["download-dir", "--node", &storage, "--root", &root, "--file", back.to_str().unwrap(), "--proof"]);
    same_tree(&tree, &back);

    // Through the node's indexer (`--indexer`), as 0G's docs start: the client selects the
    // trusted nodes it lists and finds the file's locations there.
    let file = dir.path().join("indexed.bin");
    let data = bytes(900_000, 77);
    std::fs::write(&file, &data).unwrap();
    let out = run_go(&["upload", "--url", &rpc, "--key", &key, "--indexer", &storage, "--file", file.to_str().unwrap()]);
    let root = go_uploaded_root(&out);
    let back = dir.path().join("indexed-back.bin");
    run_go(&["download", "--indexer", &storage, "--root", &root, "--file", back.to_str().unwrap(), "--proof"]);
    assert_eq!(std::fs::read(&back).unwrap(), data, "through the indexer, byte for byte");
    node.kill();
}

#[test]
fn the_official_ts_sdks_indexer_quick_start_runs_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (node, storage) = dev_node(dir.path());
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/storage-sdk");
    ensure_sdk(&sdk);
    let out = dir.path().join("back.bin");
    let output = Command::new("node")
        .arg(sdk.join("indexer_upload_download.mjs"))
        .arg(format!("http://{}", node.addr))
        .arg(format!("http://{storage}"))
        .arg(dev_key(8).to_bytes().to_string())
        .arg("1500000")
        .arg(&out)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "Indexer.upload / Indexer.download\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["same"], true, "{result}");
    node.kill();
}

#[test]
fn file_info_and_finality_answer_in_0gs_shapes_and_refuse_hostile_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let (node, storage) = dev_node(dir.path());
    let client = zgnode::storage::client::StorageClient::new(&format!("http://{}", node.addr), &format!("http://{storage}")).unwrap();
    let data = bytes(300_000, 9);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let upload = runtime.block_on(client.upload(&data, &dev_key(7), |_| ())).unwrap();

    let info = ok(storage, "zgs_getFileInfo", json!([upload.root, true]));
    // What Go's `node.Transaction` reads: `data` a byte array (0G's serde), `streamIds` big ints.
    assert_eq!(info["tx"]["data"], json!([]));
    assert_eq!(info["tx"]["streamIds"], json!([]));
    assert_eq!(info["tx"]["seq"], json!(upload.tx_seq));
    for field in ["finalized", "isCached", "pruned"] {
        assert!(info[field].is_boolean(), "{field}: {info}");
    }
    assert_eq!(ok(storage, "zgs_checkFileFinalized", json!([upload.tx_seq])), json!(true), "by tx seq");
    assert_eq!(ok(storage, "zgs_checkFileFinalized", json!([upload.root.to_string()])), json!(true), "by root");
    assert_eq!(ok(storage, "zgs_checkFileFinalized", json!([99_999])), json!(null), "an unknown seq");
    assert_eq!(ok(storage, "zgs_checkFileFinalized", json!([format!("0x{}", "ab".repeat(32))])), json!(null), "an unknown root");
    for hostile in [json!(["0x1234"]), json!([-1]), json!([1.5]), json!([{"root": 1}]), json!([]), json!(["x".repeat(10_000)])] {
        let (code, message) = err(storage, "zgs_checkFileFinalized", hostile.clone());
        assert_eq!(code, -32602, "{hostile}: {message}");
    }

    // The indexer on the same port: this node, trusted, holding every segment; the file's
    // locations; "file not found" for a root nobody published; bad roots refused.
    let nodes = ok(storage, "indexer_getShardedNodes", json!([]));
    assert_eq!(nodes["trusted"][0]["url"], json!(format!("http://{storage}")), "{nodes}");
    assert_eq!(nodes["trusted"][0]["config"], json!({"shardId": 0, "numShard": 1}));
    assert_eq!(nodes["discovered"], json!([]));
    let locations = ok(storage, "indexer_getFileLocations", json!([upload.root.to_string()]));
    assert_eq!(locations.as_array().map(Vec::len), Some(1), "{locations}");
    assert_eq!(locations[0]["url"], nodes["trusted"][0]["url"]);
    let (code, message) = err(storage, "indexer_getFileLocations", json!([format!("0x{}", "cd".repeat(32))]));
    assert_eq!((code, message.as_str()), (-32000, "file not found"));
    for hostile in [json!(["0xzz"]), json!([7]), json!([]), json!(["y".repeat(5_000)])] {
        let (code, message) = err(storage, "indexer_getFileLocations", hostile.clone());
        assert_eq!(code, -32602, "{hostile}: {message}");
    }
    assert_eq!(ok(storage, "indexer_getNodeLocations", json!([])), json!({}));

    // What 0G's indexer and tools ask a node about a file.
    assert_eq!(ok(storage, "admin_findFile", json!([upload.tx_seq])), json!(null));
    assert_eq!(err(storage, "admin_findFile", json!([4_242])), (-32000, "tx not found".to_string()));
    assert_eq!(ok(storage, "admin_getSyncStatus", json!([upload.tx_seq])), json!("Completed"));
    assert_eq!(ok(storage, "admin_getSyncStatus", json!([4_242])), json!("unknown"));
    assert_eq!(ok(storage, "admin_getFileLocation", json!([upload.tx_seq, true])), json!([{"ip": "127.0.0.1", "shardConfig": {"shardId": 0, "numShard": 1}}]));
    assert_eq!(err(storage, "admin_getFileLocation", json!([4_242, false])).1, "tx not found");
    for (method, hostile) in [("admin_findFile", json!(["0x1"])), ("admin_getSyncStatus", json!([-3])), ("admin_getFileLocation", json!([1, "yes"])), ("admin_getFileLocation", json!([]))] {
        let (code, message) = err(storage, method, hostile.clone());
        assert_eq!(code, -32602, "{method} {hostile}: {message}");
    }
    // The flow: its context (root, length), one sector by its flow index, and what holds it.
    let start = info["tx"]["startEntryIndex"].as_u64().unwrap();
    let context = ok(storage, "zgs_getFlowContext", json!([]));
    let length = context[1].as_u64().unwrap();
    assert!(length >= start + 1172 && context[0].as_str().is_some_and(|r| r.len() == 66), "{context}");
    let sector: Vec<u8> = serde_json::from_value(ok(storage, "zgs_getDataByNodeIndex", json!([start + 3]))).unwrap();
    assert_eq!(sector, data[3 * 256..4 * 256], "sector 3 of the file");
    assert_eq!(ok(storage, "zgs_getChunkByIndex", json!([start + 3])), json!(sector));
    assert_eq!(ok(storage, "zgs_getHashAtNodeIndex", json!([start + 3])), json!(alloy_primitives::keccak256(&sector)));
    let meta = ok(storage, "zgs_getMetaDataByNodeIndex", json!([start + 3]));
    assert_eq!((meta["txSeq"].as_u64(), meta["indexInFile"].as_u64(), meta["padding"].as_bool()), (Some(upload.tx_seq), Some(3), Some(false)), "{meta}");
    for method in ["zgs_getDataByNodeIndex", "zgs_getHashAtNodeIndex", "zgs_getMetaDataByNodeIndex"] {
        assert_eq!(ok(storage, method, json!([length + 5])), Value::Null, "{method} past the flow's end");
        for hostile in [json!([-1]), json!(["0x1"]), json!([]), json!([1.5])] {
            assert_eq!(err(storage, method, hostile.clone()).0, -32602, "{method} {hostile}");
        }
    }
    let network = ok(storage, "admin_getNetworkInfo", json!([]));
    assert_eq!((network["connectedPeers"].as_u64(), network["peerId"].as_str()), (Some(0), Some("")), "a dev node has no peers");
    assert_eq!(ok(storage, "admin_getPeers", json!([])), json!({}));

    let selected = ok(storage, "indexer_getSelectedNodes", json!([1, "min", true, []]));
    assert_eq!(selected["trusted"].as_array().map(Vec::len), Some(1), "{selected}");
    assert_eq!(selected["trusted"][0]["url"], nodes["trusted"][0]["url"]);
    let (code, message) = err(storage, "indexer_getSelectedNodes", json!([2, "min", true, []]));
    assert_eq!(code, -32000, "two copies from one node: {message}");
    let dropped = nodes["trusted"][0]["url"].clone();
    assert_eq!(err(storage, "indexer_getSelectedNodes", json!([1, "min", true, [dropped]])).0, -32000, "its only node dropped");
    for hostile in [json!([-1]), json!(["one"]), json!([1, "fastest"]), json!([1, "0"]), json!([1, "min", "yes"]), json!([])] {
        let (code, message) = err(storage, "indexer_getSelectedNodes", hostile.clone());
        assert_eq!(code, -32602, "{hostile}: {message}");
    }
    node.kill();
}

#[test]
fn the_go_clients_own_indexer_service_serves_a_zgnode_as_its_trusted_node() {
    let dir = tempfile::tempdir().unwrap();
    let (node, storage_addr) = dev_node(dir.path());
    let rpc = format!("http://{}", node.addr);
    let storage = format!("http://{storage_addr}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // 0G's indexer, unchanged, trusting the node (it finds no IP locations offline: a warning).
    let indexer = Command::new(go_client())
        .args(["indexer", "--endpoint", &format!("127.0.0.1:{port}"), "--trusted", &storage, "--log-color-disabled"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the Go indexer starts");
    // Killed however the test ends.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let indexer = Killed(indexer);
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the Go indexer never listened");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}");
    let file = dir.path().join("via-go-indexer.bin");
    let data = bytes(400_000, 5);
    std::fs::write(&file, &data).unwrap();
    let key = dev_key(5).to_bytes().to_string();
    let out = run_go(&["upload", "--url", &rpc, "--key", &key, "--indexer", &url, "--file", file.to_str().unwrap()]);
    let root = go_uploaded_root(&out);
    let back = dir.path().join("via-go-indexer-back.bin");
    run_go(&["download", "--indexer", &url, "--root", &root, "--file", back.to_str().unwrap(), "--proof"]);
    drop(indexer);
    assert_eq!(std::fs::read(&back).unwrap(), data, "through 0G's own indexer, byte for byte");
    node.kill();
}
