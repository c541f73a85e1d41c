//! Storage on validator networks (127.0.0.1): PoRA penalties moving shards, erasure-coded files
//! downloadable with storage nodes offline, and a node that was away repairing its shards.

mod common;
#[path = "network/support.rs"]
mod support;

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use base64::Engine;
use serde_json::{Value, json};
use std::net::SocketAddr;

use common::*;
use support::*;
use zgnode::tools::testnet::NodeLayout;

#[test]
fn a_storage_node_penalized_by_pora_loses_its_shards_to_the_next_holder() {
    use zg_systems::storage::pora::{IPoraMine, MINE_ADDRESS};
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let genesis = zgnode::local_files::load_genesis(&dir.path().join("genesis.json")).unwrap();
    // Node 3 stakes as a PoRA storage node under its network key.
    let miner = dev_key(5);
    let mut nodes: Vec<Option<InProcessNode>> = layout
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let mut config = short_rounds(storage_node_config(node));
            if i == 3 {
                config.storage.miner_key = Some(format!("0x{}", alloy_primitives::hex::encode(miner.to_bytes())));
            }
            Some(start_node_with(&config, &genesis).expect("node starts"))
        })
        .collect();
    let addrs: Vec<(SocketAddr, SocketAddr)> =
        nodes.iter().map(|n| n.as_ref().map(|n| (n.addr, n.node.as_ref().unwrap().storage_addr.unwrap())).unwrap()).collect();
    let rpc = addrs[0].0;
    let call_mine = |input: Vec<u8>| {
        let call = json!({"to": MINE_ADDRESS, "data": alloy_primitives::hex::encode_prefixed(input)});
        alloy_primitives::hex::decode(ok(rpc, "eth_call", json!([call, "latest"])).as_str().unwrap()).unwrap()
    };
    let status = || IPoraMine::minersCall::abi_decode_returns(&call_mine(IPoraMine::minersCall { miner: miner.address() }.abi_encode())).unwrap();
    wait_until("node 3's miner to register", || status().registered);

    // Upload through a node that is neither node 3 nor the one after it in the ring.
    let upload_data: Vec<u8> = (0..3 * 262_144 - 1_000).map(|i| ((i * 97 + 3) % 251) as u8).collect();
    let commitment = zg_components::storage::FileCommitment::of(&upload_data);
    let probe = ok(addrs[0].1, "zgs_getShardStatus", json!([commitment.root()]));
    assert!(probe.is_null(), "unknown roots have no shard status: {probe}");
    let keys: Vec<String> = nodes
        .iter()
        .map(|n| format!("0x{}", alloy_primitives::hex::encode(n.as_ref().unwrap().node.as_ref().unwrap().network().unwrap().own_key())))
        .collect();
    let key_of = |i: usize| keys[i].clone();
    assert_eq!(status().nodeId, key_of(3).parse::<alloy_primitives::B256>().unwrap(), "registered under its network key");
    let mut ring: Vec<(String, usize)> = (0..4).map(|i| (key_of(i), i)).collect();
    ring.sort();
    let after_3 = ring[(ring.iter().position(|(_, i)| *i == 3).unwrap() + 1) % 4].1;
    let uploader = (0..3).find(|i| *i != after_3).unwrap();
    let upload = upload_via(nodes[uploader].as_ref().unwrap(), &upload_data, 7);
    let shards = |i: usize| ok(addrs[i].1, "zgs_getShardStatus", json!([upload.root]));
    wait_until("every node to hold its shards", || (0..4).all(|i| shards(i)["held"] == shards(i)["responsible"]));
    assert_eq!(shards(after_3)["responsible"], 3, "one shard of each segment before the penalty");
    assert_eq!(shards(after_3)["node"], key_of(after_3));

    // Node 3 keeps only shards; the chain challenges it on chunks of its data shards, and it
    // proves them from the shards (with the tree nodes placed beside them).
    let reward = zgnode::storage::dev_mine_params().reward_per_challenge;
    wait_until("node 3 to pass PoRA challenges from its shards", || status().earned >= reward * U256::from(4));
    assert_eq!(status().penalized, U256::ZERO);

    // Then it goes silent for a whole epoch, and anyone may settle that epoch against it.
    nodes[3].take().unwrap().stop();
    let epoch_blocks = zgnode::storage::dev_mine_params().epoch_blocks;
    let silent_epoch = head(rpc) / epoch_blocks + 1;
    wait_until("the silent epoch to close", || head(rpc) / epoch_blocks >= silent_epoch + 2);
    let settler = dev_key(6);
    let nonce = quantity(&ok(rpc, "eth_getTransactionCount", json!([settler.address(), "pending"])));
    let settle = IPoraMine::settleCall { epoch: U256::from(silent_epoch), miner: miner.address() }.abi_encode();
    let tx = sign(&settler, alloy_primitives::TxKind::Call(MINE_ADDRESS), U256::ZERO, settle.into(), nonce, 300_000);
    let hash = ok(rpc, "eth_sendRawTransaction", json!([raw(&tx)]));
    let receipt = wait_receipt(rpc, hash.as_str().unwrap(), TIMEOUT);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert!(status().penalized > U256::ZERO);

    // The next holder in the ring takes node 3's shards over and rebuilds them.
    wait_until("node 3's shards to be rebuilt on the next holder", || {
        let status = shards(after_3);
        status["outOfPlacement"] == json!([key_of(3)]) && status["responsible"] == 6 && status["held"] == 6
    });
    // The standing is on disk: after a restart the holder still keeps node 3's shards.
    nodes[after_3].take().unwrap().stop();
    nodes[after_3] = Some(start_node_with(&short_rounds(storage_node_config(&layout[after_3])), &genesis).expect("restarts"));
    let restarted = nodes[after_3].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap();
    let status = ok(restarted, "zgs_getShardStatus", json!([upload.root]));
    assert_eq!(status["outOfPlacement"], json!([key_of(3)]), "{status}");
    assert_eq!((status["responsible"].as_u64(), status["held"].as_u64()), (Some(6), Some(6)), "{status}");
    // With node 3 and the two other nodes gone, that holder alone still has k = 2 shards of
    // every segment: the file survives one more loss than placement alone would allow.
    for (i, node) in nodes.iter_mut().enumerate() {
        if i != after_3
            && let Some(node) = node.take()
        {
            node.stop();
        }
    }
    let back = download_via(nodes[after_3].as_ref().unwrap(), upload.root).expect("reconstructed");
    assert_eq!(back, upload_data);
    for node in nodes.into_iter().flatten() {
        node.stop();
    }
}

/// A validator's config with the storage role on and uploads erasure-coded 2+2.
fn storage_node_config(node: &NodeLayout) -> zgnode::NodeConfig {
    let mut config = zgnode::NodeConfig::load(&node.config).unwrap();
    config.storage.enabled = true;
    config.storage.addr = "127.0.0.1:0".parse().unwrap();
    config.storage.erasure_data_shards = 2;
    config.storage.erasure_parity_shards = 2;
    config
}

/// Round timeouts short enough that a stopped validator's proposer turns cost little.
fn short_rounds(mut config: zgnode::NodeConfig) -> zgnode::NodeConfig {
    config.consensus.timeout_propose_ms = 300;
    config.consensus.timeout_prevote_ms = 100;
    config.consensus.timeout_precommit_ms = 100;
    config
}

fn start_storage_node(node: &NodeLayout, genesis: &zg_components::chain::Genesis) -> InProcessNode {
    start_node_with(&storage_node_config(node), genesis).expect("node starts")
}

/// The client the CLI uses, on an in-process node's chain and storage RPC.
fn storage_client(node: &InProcessNode) -> zgnode::storage::client::StorageClient {
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    zgnode::storage::client::StorageClient::new(&format!("http://{}", node.addr), &format!("http://{storage}")).unwrap()
}

fn upload_via(node: &InProcessNode, data: &[u8], key: usize) -> zgnode::storage::client::UploadReport {
    node.runtime.block_on(storage_client(node).upload(data, &dev_key(key), |_| ())).expect("uploaded")
}

fn download_via(node: &InProcessNode, root: alloy_primitives::B256) -> anyhow::Result<Vec<u8>> {
    node.runtime.block_on(storage_client(node).download(root, |_| ()))
}

#[test]
fn erasure_coded_files_stay_downloadable_with_m_storage_nodes_offline() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let genesis = zgnode::local_files::load_genesis(&dir.path().join("genesis.json")).unwrap();
    let mut nodes: Vec<Option<InProcessNode>> = layout.iter().map(|node| Some(start_storage_node(node, &genesis))).collect();
    let storage = |nodes: &[Option<InProcessNode>], i: usize| {
        let node = nodes[i].as_ref().unwrap();
        (node.addr, node.node.as_ref().unwrap().storage_addr.unwrap())
    };
    wait_for_block(storage(&nodes, 0).0, 3, TIMEOUT);

    // Upload through node 0 with the client the CLI uses; three segments.
    let data: Vec<u8> = (0..3 * 262_144 - 500).map(|i| ((i * 131 + 7) % 251) as u8).collect();
    let (rpc0, storage0) = storage(&nodes, 0);
    let upload = upload_via(nodes[0].as_ref().unwrap(), &data, 6);

    wait_until("storage status counts the peers", || ok(storage0, "zgs_getStatus", json!([]))["connectedPeers"] == 3);

    // Every node reports the file finalized once a shard of each segment reached it.
    for i in 1..4 {
        let (_, addr) = storage(&nodes, i);
        wait_until("shards placed", || ok(addr, "zgs_getFileInfo", json!([upload.root, true]))["finalized"] == true);
        assert_eq!(ok(addr, "zgs_getFileInfo", json!([upload.root, true]))["uploadedSegNum"], 0, "node {i} holds shards, not segments");
    }

    // A bit flipped in node 0's copy of segment 1 (it holds the file whole): the download is
    // rebuilt from the other nodes' shards, checked against the root, and written back.
    let seq = ok(storage0, "zgs_getFileInfo", json!([upload.root, true]))["tx"]["seq"].as_u64().unwrap();
    let data_dir = zgnode::NodeConfig::load(&layout[0].config).unwrap().node.data_dir;
    let segment_file = data_dir.join("segments").join(format!("{seq}.seg"));
    let mut bytes = std::fs::read(&segment_file).unwrap();
    bytes[262_144 + 77] ^= 0x01;
    std::fs::write(&segment_file, &bytes).unwrap();
    let served = ok(storage0, "zgs_downloadSegmentByTxSeq", json!([seq, 1024, 2048]));
    let served = base64::engine::general_purpose::STANDARD.decode(served.as_str().unwrap()).unwrap();
    assert_eq!(served, data[262_144..2 * 262_144], "the damaged segment was rebuilt from shards");
    let repaired = std::fs::read(&segment_file).unwrap();
    assert_eq!(repaired[262_144..2 * 262_144], data[262_144..2 * 262_144], "and written back to disk");

    // The official SDK's view is unchanged: it uploads to node 0 and reads the file back from
    // node 2, which holds only shards and rebuilds every segment from its peers'.
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/storage-sdk");
    ensure_sdk(&sdk);
    let output = std::process::Command::new("node")
        .arg(sdk.join("upload_download.mjs"))
        .arg(format!("http://{rpc0}"))
        .arg(format!("http://{storage0}"))
        .arg(format!("{:#x}", zg_systems::storage::flow::FLOW_ADDRESS))
        .arg(zgnode::dev::dev_accounts()[8].private_key.to_string())
        .arg("700000")
        .arg(format!("http://{}", storage(&nodes, 2).1))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "SDK upload to node 0, download from node 2\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(serde_json::from_str::<Value>(stdout.lines().last().unwrap()).unwrap()["same"], true);

    // A node holding only shards proves a sector from a rebuilt segment.
    let (_, storage2) = storage(&nodes, 2);
    let start = ok(storage2, "zgs_getFileInfo", json!([upload.root, true]))["tx"]["startEntryIndex"].as_u64().unwrap();
    let proof: zg_components::storage::Proof =
        serde_json::from_value(ok(storage2, "zgs_getSectorProof", json!([start + 1_500, upload.root]))).unwrap();
    assert_eq!(proof.lemma[0], alloy_primitives::keccak256(&data[1_500 * 256..1_501 * 256]));
    let folded = proof.lemma[1..proof.lemma.len() - 1].iter().zip(&proof.path).fold(proof.lemma[0], |node, (sibling, left)| {
        if *left { zg_components::storage::merkle::hash_pair(&node, sibling) } else { zg_components::storage::merkle::hash_pair(sibling, &node) }
    });
    assert_eq!(folded, upload.root);

    // m = 2 storage nodes go away; node 1 rebuilds every segment from its shard and node 0's.
    for i in [2, 3] {
        nodes[i].take().unwrap().stop();
    }
    let back = download_via(nodes[1].as_ref().unwrap(), upload.root).expect("reconstructed");
    assert_eq!(back, data);

    // Node 0 goes too: node 1 alone has one shard of each segment, too few to rebuild, but the
    // segments it rebuilt for the last read are still in its cache.
    nodes[0].take().unwrap().stop();
    let again = download_via(nodes[1].as_ref().unwrap(), upload.root).expect("served from the cache");
    assert_eq!(again, data);
    for node in nodes.into_iter().flatten() {
        node.stop();
    }
}

#[test]
fn a_storage_node_that_was_away_repairs_its_shards() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let genesis = zgnode::local_files::load_genesis(&dir.path().join("genesis.json")).unwrap();
    // Node 3 is away during the upload: its shards go nowhere.
    let mut nodes: Vec<Option<InProcessNode>> = layout[..3].iter().map(|node| Some(start_storage_node(node, &genesis))).collect();
    wait_for_block(nodes[0].as_ref().unwrap().addr, 3, TIMEOUT);
    let data: Vec<u8> = (0..2 * 262_144 + 77).map(|i| ((i * 131 + 7) % 251) as u8).collect();
    let upload = upload_via(nodes[0].as_ref().unwrap(), &data, 7);

    // It comes back, syncs the chain, learns the file and rebuilds its shards from its peers.
    nodes.push(Some(start_storage_node(&layout[3], &genesis)));
    let storage3 = nodes[3].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap();
    wait_until("node 3 to repair its shards", || {
        let info = ok(storage3, "zgs_getFileInfo", json!([upload.root, true]));
        !info.is_null() && info["finalized"] == true
    });
    // Its status page counts the rebuilt segments (the repairs' own record, as the metrics).
    let rpc3 = nodes[3].as_ref().unwrap().addr;
    wait_until("node 3's status to count its repairs", || {
        let repairs = &ok(rpc3, "zgnode_status", json!([]))["roles"]["storage"]["repairs"];
        repairs["segmentsRebuilt"].as_u64().is_some_and(|n| n >= 1) && repairs["runningNow"] == 0
    });
    let held = &ok(rpc3, "zgnode_status", json!([]))["roles"]["storage"];
    assert!(held["shardsHeld"].as_u64().is_some_and(|n| n >= 1), "the rebuilt shards are counted: {held}");
    // With nodes 0 and 1 gone, only node 2's shard and node 3's repaired one remain: enough.
    for i in [0, 1] {
        nodes[i].take().unwrap().stop();
    }
    let back = download_via(nodes[3].as_ref().unwrap(), upload.root).expect("reconstructed");
    assert_eq!(back, data);
    for node in nodes.into_iter().flatten() {
        node.stop();
    }
}

#[test]
fn shards_that_never_reached_their_holders_are_cut_by_the_node_holding_the_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let genesis = zgnode::local_files::load_genesis(&dir.path().join("genesis.json")).unwrap();
    // Node 3 is away during the upload; nodes 1 and 2 get their shards, then go away for good:
    // of the holders of node 3's segments' shards, only node 0 answers, and it holds one shard
    // of each segment (too few to rebuild) beside the file whole.
    let mut nodes: Vec<Option<InProcessNode>> = layout[..3].iter().map(|node| Some(start_storage_node(node, &genesis))).collect();
    wait_for_block(nodes[0].as_ref().unwrap().addr, 3, TIMEOUT);
    let data: Vec<u8> = (0..2 * 262_144 + 999).map(|i| ((i * 37 + 11) % 253) as u8).collect();
    let upload = upload_via(nodes[0].as_ref().unwrap(), &data, 7);
    for i in [1, 2] {
        let addr = nodes[i].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap();
        wait_until("shards placed", || ok(addr, "zgs_getFileInfo", json!([upload.root, true]))["finalized"] == true);
    }
    for i in [1, 2] {
        nodes[i].take().unwrap().stop();
    }
    // Node 3 comes back, syncs the chain from node 0 and repairs its shards: node 0 cuts the
    // ones whose holders are gone from the segments it holds whole.
    nodes.push(Some(start_storage_node(&layout[3], &genesis)));
    let storage3 = nodes[3].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap();
    wait_until("node 3 to repair its shards from node 0", || {
        let info = ok(storage3, "zgs_getFileInfo", json!([upload.root, true]));
        !info.is_null() && info["finalized"] == true
    });
    let back = download_via(nodes[3].as_ref().unwrap(), upload.root).expect("rebuilt through node 0");
    assert_eq!(back, data);
    for node in nodes.into_iter().flatten() {
        node.stop();
    }
}

/// Runs one of the TS SDK scripts in `tests/storage-sdk`; its last stdout line as JSON.
fn run_ts(args: &[&str]) -> serde_json::Value {
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/storage-sdk");
    ensure_sdk(&sdk);
    let output = std::process::Command::new("node").arg(sdk.join(args[0])).args(&args[1..]).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}\n{}", args[0], String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn the_official_clients_through_one_nodes_indexer_reach_the_network_and_read_with_two_nodes_gone() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let genesis = zgnode::local_files::load_genesis(&dir.path().join("genesis.json")).unwrap();
    // Storage ports known up front, so each node's indexer lists the other three.
    let ports: Vec<u16> = (0..4).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
    let urls: Vec<String> = ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect();
    let mut nodes: Vec<Option<InProcessNode>> = layout
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let mut config = storage_node_config(node);
            config.storage.addr = format!("127.0.0.1:{}", ports[i]).parse().unwrap();
            config.storage.indexer_nodes = urls.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, url)| url.clone()).collect();
            Some(start_node_with(&config, &genesis).expect("node starts"))
        })
        .collect();
    wait_for_block(nodes[0].as_ref().unwrap().addr, 3, TIMEOUT);
    let sharded = ok(nodes[0].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap(), "indexer_getShardedNodes", json!([]));
    assert_eq!(sharded["trusted"].as_array().map(Vec::len), Some(4), "{sharded}");

    // Upload through node 0's indexer: the Go client picks one node (one copy asked).
    let rpc = format!("http://{}", nodes[0].as_ref().unwrap().addr);
    let file = dir.path().join("f.bin");
    let data: Vec<u8> = (0..3 * 262_144 + 4_321).map(|i| ((i * 89 + 3) % 253) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let key = dev_key(6).to_bytes().to_string();
    let root = go_uploaded_root(&run_go(&["upload", "--url", &rpc, "--key", &key, "--indexer", &urls[0], "--file", file.to_str().unwrap()]));
    // Every node holds its shards (finalized everywhere), so the indexer names all four.
    wait_until("every node to hold its shards", || {
        ok(nodes[0].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap(), "indexer_getFileLocations", json!([root])).as_array().map(Vec::len) == Some(4)
    });

    // The TS SDK's quick start through node 0's indexer too, and a KV write through it.
    let ts_out = run_ts(&["indexer_upload_download.mjs", &rpc, &urls[0], &dev_key(8).to_bytes().to_string(), "700000", dir.path().join("ts.bin").to_str().unwrap()]);
    assert_eq!(ts_out["same"], true, "{ts_out}");
    let ts_root = ts_out["root"].as_str().unwrap().to_string();
    let stream = format!("0x{}", "5e".repeat(32));
    run_go(&["kv-write", "--url", &rpc, "--key", &key, "--indexer", &urls[0], "--stream-id", &stream, "--stream-keys", "net-key", "--stream-values", "kept across the network"]);
    // Each node's peers as 0G's admin API shows them: the other three, connected.
    let storage0 = nodes[0].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap();
    let info = ok(storage0, "admin_getNetworkInfo", json!([]));
    assert_eq!((info["connectedPeers"].as_u64(), info["totalPeers"].as_u64()), (Some(3), Some(3)), "{info}");
    let peers = ok(storage0, "admin_getPeers", json!([]));
    let peers = peers.as_object().unwrap();
    assert_eq!(peers.len(), 3);
    assert!(peers.values().all(|p| p["connectionStatus"]["status"] == "connected" && p["isTrusted"] == true), "{peers:?}");

    // Two nodes go away; through node 1's indexer the file comes back whole, proven.
    for i in [2, 3] {
        nodes[i].take().unwrap().stop();
    }
    let back = dir.path().join("back.bin");
    run_go(&["download", "--indexer", &urls[1], "--root", &root, "--file", back.to_str().unwrap(), "--proof"]);
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let ts_back = dir.path().join("ts-back.bin");
    assert_eq!(run_ts(&["indexer_download.mjs", &urls[1], &ts_root, ts_back.to_str().unwrap()])["size"], 700_000);
    // Node 1 keeps only shards of the KV write: it replays it from shards rebuilt off node 0's.
    let storage1 = nodes[1].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap();
    wait_until("node 1 to replay the KV write", || {
        ok(storage1, "kv_getHoldingStreamIds", json!([])).as_array().is_some_and(|ids| ids.contains(&json!(stream)))
    });
    let read = run_go(&["kv-read", "--node", &urls[1], "--stream-id", &stream, "--stream-keys", "net-key"]);
    assert!(read.contains(r#"{"net-key":"kept across the network"}"#), "{read}");
    let locations = ok(nodes[1].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap(), "indexer_getFileLocations", json!([root]));
    assert_eq!(locations.as_array().map(Vec::len), Some(2), "the two left: {locations}");
    let seq = ok(nodes[1].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap(), "zgs_getFileInfo", json!([root, true]))["tx"]["seq"].clone();
    let kept = ok(nodes[1].as_ref().unwrap().node.as_ref().unwrap().storage_addr.unwrap(), "admin_getFileLocation", json!([seq, true]));
    assert_eq!(kept.as_array().map(Vec::len), Some(2), "admin_getFileLocation names the same two: {kept}");
    for node in nodes.into_iter().flatten() {
        node.stop();
    }
}
