//! The DA role on a four-validator network (every validator a DA node): a multi-megabyte blob is
//! dispersed over QUIC to the quorum, attested by >= 2/3 of the votes, CONFIRMED then FINALIZED,
//! sampled, and retrieved byte for byte from another node with one DA node stopped; then a
//! blob a byzantine disperser encoded badly is refused by the honest nodes, and when colluding
//! validators attest it anyway, a fraud proof rejects it and slashes them.

mod common;

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use zg_components::da::piece::attestation_message;
use zg_components::da::{Axis, SHARE_SIZE};
use zg_systems::da::encoding::{extend_blob, prove_bad_encoding};
use zg_systems::da::entrance::{DA_ENTRANCE_ADDRESS, IDAEntrance};
use zgnode::dev::{DEV_DISPERSER_ACCOUNT, dev_accounts};
use zgnode::tools::testnet::{NetworkPlan, NodeLayout, write_network};

const TIMEOUT: Duration = Duration::from_secs(120);

fn network(dir: &Path) -> Vec<NodeLayout> {
    let sockets: Vec<_> = (0..4).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    let plan = NetworkPlan {
        chain_id: CHAIN_ID,
        rpc_ports: vec![0; 4],
        p2p_ports: sockets.iter().map(|s| s.local_addr().unwrap().port()).collect(),
        block_time_ms: 100,
        epoch_length: 1_000,
        genesis_validators: Some(4),
        storage_port: None,
    };
    drop(sockets);
    write_network(dir, &plan, false).expect("network written")
}

fn da_config(node: &NodeLayout, disperser: bool) -> zgnode::NodeConfig {
    let mut config = zgnode::NodeConfig::load(&node.config).unwrap();
    config.consensus.timeout_propose_ms = 300;
    config.consensus.timeout_prevote_ms = 100;
    config.consensus.timeout_precommit_ms = 100;
    if disperser {
        config.da.disperser_key = Some(dev_accounts()[DEV_DISPERSER_ACCOUNT].private_key.to_string());
    }
    config
}

/// [`network`] with node 0 the disperser and requests big enough for a multi-megabyte blob
/// (16 MB is 32 MB of hex in one JSON-RPC call).
fn large_blob_network(dir: &Path) -> Vec<NodeLayout> {
    let layout = network(dir);
    for (i, node) in layout.iter().enumerate() {
        let mut config = da_config(node, i == 0);
        config.rpc.max_request_bytes = 64 << 20;
        std::fs::write(&node.config, toml::to_string(&config).unwrap()).unwrap();
    }
    layout
}

/// A node of the network as a process, its output in `node.log` in its folder.
fn spawn(node: &NodeLayout) -> NodeProcess {
    NodeProcess::spawn_logged(&["run", "--config", &node.config.display().to_string()], &node.dir.join("node.log"))
}

/// Waits until the node at `addr` holds every row and column its slots give it of the blob
/// `root`; what `da_pieces` said then.
fn wait_until_it_holds_its_axes(addr: SocketAddr, root: &str) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let response = rpc(addr, "da_pieces", json!([root]));
        if let Some(pieces) = response.get("result")
            && pieces["heldAxes"].as_u64() >= pieces["assignedAxes"].as_u64()
        {
            return pieces.clone();
        }
        assert!(Instant::now() < deadline, "{addr} never held its pieces: {response}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn send(addr: SocketAddr, key: usize, nonce: u64, value: U256, input: Vec<u8>) -> Value {
    let tx = sign(&dev_key(key), TxKind::Call(DA_ENTRANCE_ADDRESS), value, Bytes::from(input), nonce, 3_000_000);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw(&tx)]));
    wait_receipt(addr, hash.as_str().unwrap(), TIMEOUT)
}

fn jailed(addr: SocketAddr, operator: Address) -> bool {
    use zg_systems::consensus::staking::{IStaking, STAKING_ADDRESS};
    let data = IStaking::validatorsCall { operator }.abi_encode();
    let call = json!({"to": STAKING_ADDRESS, "data": alloy_primitives::hex::encode_prefixed(data)});
    let output = ok(addr, "eth_call", json!([call, "latest"]));
    let bytes = alloy_primitives::hex::decode(output.as_str().unwrap()).unwrap();
    IStaking::validatorsCall::abi_decode_returns(&bytes).unwrap().jailed
}

#[test]
fn a_blob_is_dispersed_to_four_da_nodes_confirmed_finalized_and_retrieved_with_one_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let layout = network(dir.path());
    let genesis = zgnode::local_files::load_genesis(&dir.path().join("genesis.json")).unwrap();
    let mut nodes: Vec<Option<InProcessNode>> =
        layout.iter().enumerate().map(|(i, node)| Some(start_node_with(&da_config(node, i == 0), &genesis).expect("node starts"))).collect();
    let addr = |nodes: &[Option<InProcessNode>], i: usize| nodes[i].as_ref().unwrap().addr;
    wait_for_block(addr(&nodes, 0), 2, TIMEOUT);

    // 3 MB: a 109×109 square, every DA node keeping about half its rows and columns.
    let blob: Vec<u8> = (0..3_000_000usize).map(|i| ((i * 131 + 7) % 251) as u8).collect();
    let started = Instant::now();
    let submitted = ok(addr(&nodes, 0), "da_submitBlob", json!([hex(&blob)]));
    let id = submitted["requestId"].as_str().unwrap().to_string();
    let root = submitted["dataRoot"].as_str().unwrap().to_string();
    wait_blob_status(addr(&nodes, 0), &id, "CONFIRMED");
    let confirmed = started.elapsed();
    // Every node follows the entrance: another node reads it too.
    let seen = wait_blob_status(addr(&nodes, 2), &root, "FINALIZED");
    println!("3 MB blob: DisperseBlob -> CONFIRMED in {confirmed:?}; statuses on node 2: {seen:?}");
    let sample = ok(addr(&nodes, 1), "da_sample", json!([root, 30]));
    assert_eq!(sample["verified"], 30, "{sample}");

    // One DA node stopped: the blob still comes back whole, from node 1.
    nodes[3].take().unwrap().stop();
    let back = ok(addr(&nodes, 1), "da_retrieveBlob", json!([root]));
    assert_eq!(back.as_str().unwrap(), hex(&blob), "retrieved byte for byte");

    // A byzantine disperser (dev account 5) registers a square with one bad share in row 1.
    let mut square = extend_blob(&(0..20_000usize).map(|i| (i % 247) as u8).collect::<Vec<_>>()).unwrap();
    let width = square.layout.width();
    square.data[(width + width - 1) * SHARE_SIZE] ^= 1;
    let roots = square.commit();
    let bad_root = roots.data_root();
    let upload = IDAEntrance::submitOriginalDataCall { dataRoots: vec![bad_root] }.abi_encode();
    assert_eq!(send(addr(&nodes, 0), 5, 0, zgnode::da::genesis::blob_price(), upload)["status"], "0x1");
    // Three colluding validators attest it without checking (3 of 4 votes is >= 2/3).
    let colluders: Vec<(malachite_ed25519::PrivateKey, Address)> = layout[..3]
        .iter()
        .map(|node| {
            let config = zgnode::NodeConfig::load(&node.config).unwrap();
            (zgnode::net::identity::Identity::load_or_create(&config.key_file()).unwrap().key, node.operator)
        })
        .collect();
    let message = attestation_message(CHAIN_ID, &bad_root.0, 0, 0);
    let mut signed: Vec<(B256, Bytes)> = colluders
        .iter()
        .map(|(key, _)| (B256::from(*key.public_key().as_bytes()), Bytes::copy_from_slice(&key.sign(&message).to_bytes())))
        .collect();
    signed.sort();
    let confirm = IDAEntrance::submitVerifiedCommitRootsCall {
        dataRoot: bad_root,
        keys: signed.iter().map(|(k, _)| *k).collect(),
        signatures: signed.iter().map(|(_, s)| s.clone()).collect(),
    };
    let receipt = send(addr(&nodes, 0), 5, 1, U256::ZERO, confirm.abi_encode());
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    println!("attestation of 3 signers: {} gas", quantity(&receipt["gasUsed"]));
    assert_eq!(ok(addr(&nodes, 0), "da_getBlobStatus", json!([bad_root]))["status"], "CONFIRMED");
    // Anyone proves it bad: the blob is rejected and the prover paid its fee. The fault is the
    // disperser's (it committed the square): no attester is slashed, so a disperser proving its
    // own blob bad gains nothing and costs honest attesters nothing.
    let proof = prove_bad_encoding(&square, &roots, Axis::Row, 1).unwrap().expect("row 1 is bad");
    let call = IDAEntrance::submitFraudProofCall { proof: Bytes::from(zg_components::da::wire::encode_fraud_proof(&proof)) }.abi_encode();
    let receipt = send(addr(&nodes, 1), 4, 0, U256::ZERO, call);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    println!("fraud proof: {} gas", quantity(&receipt["gasUsed"]));
    for (_, operator) in &colluders {
        assert!(!jailed(addr(&nodes, 1), *operator), "attester {operator} is not slashed for the disperser's encoding");
    }
    assert!(!jailed(addr(&nodes, 1), layout[3].operator));
    let deadline = Instant::now() + TIMEOUT;
    while ok(addr(&nodes, 1), "da_getBlobStatus", json!([bad_root]))["status"] != "FAILED" {
        assert!(Instant::now() < deadline, "the rejected blob never read FAILED");
        std::thread::sleep(Duration::from_millis(100));
    }
    for node in nodes.into_iter().flatten() {
        node.stop();
    }
}

#[test]
fn a_disperser_and_a_da_node_killed_mid_dispersal_lose_nothing_they_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let layout = large_blob_network(dir.path());
    let mut nodes: Vec<Option<NodeProcess>> = layout.iter().map(|node| Some(spawn(node))).collect();
    let addr = |nodes: &[Option<NodeProcess>], i: usize| nodes[i].as_ref().unwrap().addr;
    wait_for_block(addr(&nodes, 0), 2, TIMEOUT);

    let blob: Vec<u8> = (0..6_000_000usize).map(|i| ((i * 31 + 11) % 253) as u8).collect();
    let submitted = ok(addr(&nodes, 0), "da_submitBlob", json!([hex(&blob)]));
    let root = submitted["dataRoot"].as_str().unwrap().to_string();
    // Acknowledged: now SIGKILL the disperser and another DA node, mid-dispersal.
    nodes[0].take().unwrap().kill();
    nodes[2].take().unwrap().kill();
    nodes[0] = Some(spawn(&layout[0]));
    nodes[2] = Some(spawn(&layout[2]));
    // The disperser resumes what it acknowledged; the blob is confirmed.
    wait_blob_status(addr(&nodes, 0), &root, "CONFIRMED");
    // The killed DA node holds every row and column its slots give it (kept before the kill,
    // sent again, or repaired from its peers), and serves the blob.
    wait_until_it_holds_its_axes(addr(&nodes, 2), &root);
    let back = ok(addr(&nodes, 2), "da_retrieveBlob", json!([root]));
    assert!(back.as_str().unwrap() == hex(&blob), "retrieved byte for byte");
}

/// A DA node away for a whole dispersal comes back and fetches every row and column its slots
/// give it. Those whose every slot is its own were sent to nobody: they are rebuilt from the blob
/// the other members keep. A blob of k = 251 has 1,004 axes over 3,072 slots (about three each):
/// with four equal signers, some fifteen of a node's axes are its alone.
#[test]
fn a_da_node_away_for_a_whole_dispersal_rebuilds_the_axes_no_peer_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let layout = large_blob_network(dir.path());
    let mut nodes: Vec<Option<NodeProcess>> = layout.iter().map(|node| Some(spawn(node))).collect();
    let addr = |nodes: &[Option<NodeProcess>], i: usize| nodes[i].as_ref().unwrap().addr;
    wait_for_block(addr(&nodes, 0), 2, TIMEOUT);
    nodes[2].take().unwrap().kill();

    let blob: Vec<u8> = (0..16_000_000usize).map(|i| ((i * 17 + 5) % 241) as u8).collect();
    let submitted = ok(addr(&nodes, 0), "da_submitBlob", json!([hex(&blob)]));
    let root = submitted["dataRoot"].as_str().unwrap().to_string();
    // Three of four signers hold 3/4 of the slots: confirmed without node 2.
    wait_blob_status(addr(&nodes, 0), &root, "CONFIRMED");
    nodes[2] = Some(spawn(&layout[2]));
    let pieces = wait_until_it_holds_its_axes(addr(&nodes, 2), &root);
    assert_eq!(pieces["k"], 251, "{pieces}");
    let log = std::fs::read_to_string(layout[2].dir.join("node.log")).unwrap_or_default();
    assert!(log.contains("rebuilt from the blob"), "node 2 had axes of its own alone, rebuilt from the blob");
    let back = ok(addr(&nodes, 2), "da_retrieveBlob", json!([root]));
    assert!(back.as_str().unwrap() == hex(&blob), "retrieved byte for byte");
}
