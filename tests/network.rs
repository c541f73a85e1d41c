//! Validator networks on 127.0.0.1: processes killed with SIGKILL and restarted, in-process nodes
//! partitioned through the transport's fault layer, and a hostile peer speaking QUIC by hand.
//! Every wait is for an event (a block number, a receipt), bounded by a generous timeout.

mod common;

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use base64::Engine;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use zgnode::net::identity::Identity;
use zgnode::testnet::{NetworkPlan, NodeLayout, write_network};
use zg_components::consensus::wire::{self, NetMessage, WireVote};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Free UDP ports on 127.0.0.1, held together so they are distinct.
fn free_udp_ports(n: usize) -> Vec<u16> {
    let sockets: Vec<_> = (0..n).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    sockets.iter().map(|s| s.local_addr().unwrap().port()).collect()
}

fn test_network(dir: &Path, validators: usize, epoch_length: u64) -> Vec<NodeLayout> {
    network_with_followers(dir, validators, 0, epoch_length)
}

fn network_with_followers(dir: &Path, validators: usize, followers: usize, epoch_length: u64) -> Vec<NodeLayout> {
    let nodes = validators + followers;
    let plan = NetworkPlan {
        chain_id: CHAIN_ID,
        rpc_ports: vec![0; nodes],
        p2p_ports: free_udp_ports(nodes),
        block_time_ms: 100,
        epoch_length,
        genesis_validators: Some(validators),
        storage_port: None,
    };
    write_network(dir, &plan, false).expect("network written")
}

fn spawn(node: &NodeLayout) -> NodeProcess {
    NodeProcess::spawn_logged(&["run", "--config", &node.config.display().to_string()], &node.dir.join("node.log"))
}

fn head(addr: SocketAddr) -> u64 {
    quantity(&ok(addr, "eth_blockNumber", json!([])))
}

fn block(addr: SocketAddr, number: u64) -> Value {
    ok(addr, "eth_getBlockByNumber", json!([format!("0x{number:x}"), false]))
}

/// Every node holds the same blocks (hash and state root) up to the lowest head among them.
fn assert_same_chain(addrs: &[SocketAddr]) {
    let top = addrs.iter().map(|a| head(*a)).min().unwrap();
    assert!(top > 0, "no blocks");
    for number in 1..=top {
        let blocks: Vec<(Value, Value)> = addrs
            .iter()
            .map(|a| {
                let b = block(*a, number);
                (b["hash"].clone(), b["stateRoot"].clone())
            })
            .collect();
        assert!(blocks.windows(2).all(|w| w[0] == w[1]), "fork at block {number}: {blocks:?}");
    }
}

/// Waits until the head stops moving, then checks it stays put for `hold`.
fn assert_stalled(addrs: &[SocketAddr], hold: Duration) -> Vec<u64> {
    std::thread::sleep(Duration::from_millis(1_500));
    let before: Vec<u64> = addrs.iter().map(|a| head(*a)).collect();
    std::thread::sleep(hold);
    let after: Vec<u64> = addrs.iter().map(|a| head(*a)).collect();
    assert_eq!(before, after, "blocks were decided without a quorum");
    after
}

#[test]
fn four_validators_agree_and_carry_transactions_sent_to_any_node() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let nodes: Vec<NodeProcess> = layout.iter().map(spawn).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    for addr in &addrs {
        wait_for_block(*addr, 3, TIMEOUT);
    }
    let receiver = Address::repeat_byte(0x42);
    let mut hashes = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let raw = raw_transfer(&dev_key(i + 1), receiver, 1 + i as u64, 0);
        hashes.push(ok(*addr, "eth_sendRawTransaction", json!([raw])).as_str().unwrap().to_string());
    }
    for hash in &hashes {
        let receipt = wait_receipt(addrs[0], hash, TIMEOUT);
        assert_eq!(receipt["status"], "0x1");
        let number = quantity(&receipt["blockNumber"]);
        for addr in &addrs {
            wait_for_block(*addr, number, TIMEOUT);
            let seen = wait_receipt(*addr, hash, TIMEOUT);
            assert_eq!(seen["blockHash"], receipt["blockHash"], "the same block everywhere");
        }
    }
    for addr in &addrs {
        assert_eq!(ok(*addr, "eth_getBalance", json!([receiver, "latest"])), "0xa", "1+2+3+4 wei");
        // The truth about the network, not fixed values.
        wait_until("three peers connected", || ok(*addr, "net_peerCount", json!([])) == "0x3");
        assert_eq!(ok(*addr, "eth_syncing", json!([])), false, "in step with its peers");
    }
    // Dev controls are refused where consensus decides blocks, with the reason.
    for (method, params) in [("evm_mine", json!([])), ("anvil_setBalance", json!([receiver, "0x1"])), ("evm_snapshot", json!([]))] {
        let (code, message) = err(addrs[0], method, params);
        assert_eq!(code, -32000, "{method}");
        assert!(message.contains("validator network"), "{method}: {message}");
    }
    assert_same_chain(&addrs);
}

#[test]
fn a_killed_validator_does_not_stop_blocks_and_rejoins_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let mut nodes: Vec<Option<NodeProcess>> = layout.iter().map(|n| Some(spawn(n))).collect();
    let addr = |nodes: &[Option<NodeProcess>], i: usize| nodes[i].as_ref().unwrap().addr;
    wait_for_block(addr(&nodes, 0), 3, TIMEOUT);

    nodes[3].take().unwrap().kill();
    let at = head(addr(&nodes, 0));
    wait_for_block(addr(&nodes, 0), at + 6, TIMEOUT);

    nodes[3] = Some(spawn(&layout[3]));
    let target = head(addr(&nodes, 0));
    wait_for_block(addr(&nodes, 3), target, TIMEOUT);

    // Without node 0, decisions need all three others: node 3 must be voting again.
    nodes[0].take().unwrap().kill();
    let at = head(addr(&nodes, 1));
    wait_for_block(addr(&nodes, 1), at + 4, TIMEOUT);
    wait_for_block(addr(&nodes, 3), at + 4, TIMEOUT);
    assert_same_chain(&[addr(&nodes, 1), addr(&nodes, 2), addr(&nodes, 3)]);
}

#[test]
fn two_of_four_down_halts_without_a_fork_and_one_back_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let mut nodes: Vec<Option<NodeProcess>> = layout.iter().map(|n| Some(spawn(n))).collect();
    let addr = |nodes: &[Option<NodeProcess>], i: usize| nodes[i].as_ref().unwrap().addr;
    wait_for_block(addr(&nodes, 0), 3, TIMEOUT);

    nodes[2].take().unwrap().kill();
    nodes[3].take().unwrap().kill();
    let stalled = assert_stalled(&[addr(&nodes, 0), addr(&nodes, 1)], Duration::from_secs(3));
    assert_same_chain(&[addr(&nodes, 0), addr(&nodes, 1)]);

    nodes[2] = Some(spawn(&layout[2]));
    let top = stalled.iter().max().copied().unwrap();
    for i in 0..3 {
        wait_for_block(addr(&nodes, i), top + 3, TIMEOUT);
    }
    assert_same_chain(&[addr(&nodes, 0), addr(&nodes, 1), addr(&nodes, 2)]);
}

/// Nodes in this process, so the test can cut links in their transport.
fn start_in_process(layout: &[NodeLayout], dir: &Path) -> Vec<InProcessNode> {
    let genesis = zgnode::local_files::load_genesis(&dir.join("genesis.json")).unwrap();
    layout
        .iter()
        .map(|node| {
            let config = zgnode::NodeConfig::load(&node.config).unwrap();
            start_node_with(&config, &genesis).expect("node starts")
        })
        .collect()
}

#[test]
fn a_partition_heals_and_the_chain_resumes_without_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let nodes = start_in_process(&layout, dir.path());
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    for addr in &addrs {
        wait_for_block(*addr, 3, TIMEOUT);
    }
    let keys: Vec<[u8; 32]> = layout.iter().map(|n| n.peer.key).collect();
    let network = |i: usize| nodes[i].node.as_ref().unwrap().network().unwrap();
    for i in 0..4 {
        let other_side = if i < 2 { [keys[2], keys[3]] } else { [keys[0], keys[1]] };
        network(i).set_blocked(other_side);
    }
    let stalled = assert_stalled(&addrs, Duration::from_secs(3));
    for i in 0..4 {
        network(i).set_blocked([]);
    }
    let top = stalled.iter().max().copied().unwrap();
    for addr in &addrs {
        wait_for_block(*addr, top + 3, TIMEOUT);
    }
    assert_same_chain(&addrs);
    for node in nodes {
        node.stop();
    }
}

/// Sends raw bytes on a fresh stream, finishes it and waits until the peer has read it all or
/// stopped it (or gives up).
async fn send_raw(connection: &quinn::Connection, bytes: &[u8]) {
    let mut stream = connection.open_uni().await.expect("stream");
    let _ = stream.write_all(bytes).await;
    let _ = stream.finish();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.stopped()).await;
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn signed_vote(key: &malachite_ed25519::PrivateKey, height: u64, value: Option<[u8; 32]>) -> WireVote {
    let validator = zg_components::consensus::ValidatorAddress::from_public_key(&key.public_key());
    let vote = zg_components::consensus::Vote {
        height: zg_components::consensus::Height(height),
        round: malachite_types::Round::new(0),
        value: value.map(|v| malachite_types::NilOrVal::Val(B256::from(v))).unwrap_or(malachite_types::NilOrVal::Nil),
        vote_type: malachite_types::VoteType::Prevote,
        validator,
    };
    let signature = key.sign(&vote.sign_bytes(CHAIN_ID));
    WireVote::from_signed(&malachite_types::SignedMessage::new(vote, signature)).unwrap()
}

/// A validator's stake and jailed flag, read with eth_call from the staking contract.
fn staking_status(addr: SocketAddr, operator: Address) -> (U256, bool) {
    use zg_systems::consensus::staking::{IStaking, STAKING_ADDRESS};
    let data = IStaking::validatorsCall { operator }.abi_encode();
    let call = json!({"to": STAKING_ADDRESS, "data": alloy_primitives::hex::encode_prefixed(data)});
    let output = ok(addr, "eth_call", json!([call, "latest"]));
    let bytes = alloy_primitives::hex::decode(output.as_str().unwrap()).unwrap();
    let decoded = IStaking::validatorsCall::abi_decode_returns(&bytes).unwrap();
    (decoded.totalStake, decoded.jailed)
}

/// Three of four validators running in process (a quorum), and node 3's key held by the test to
/// speak the wire protocol by hand as a known peer.
struct RawPeerFixture {
    _dir: tempfile::TempDir,
    layout: Vec<NodeLayout>,
    nodes: Vec<InProcessNode>,
    addr: SocketAddr,
    target: zgnode::net::NetHandle,
    peer: Identity,
    runtime: tokio::runtime::Runtime,
}

fn raw_peer_fixture(first_block: u64) -> RawPeerFixture {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 5);
    let nodes = start_in_process(&layout[..3], dir.path());
    let addr = nodes[0].addr;
    wait_for_block(addr, first_block, TIMEOUT);
    let target = nodes[0].node.as_ref().unwrap().network().unwrap().clone();
    let peer = Identity::load_or_create(&layout[3].dir.join("node_key")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    RawPeerFixture { _dir: dir, layout, nodes, addr, target, peer, runtime }
}

#[test]
fn hostile_peers_are_refused_and_a_double_signer_is_slashed() {
    let RawPeerFixture { _dir, layout, nodes, addr, target, peer: byzantine, runtime } = raw_peer_fixture(3);

    // A key nobody configured is refused: the handshake fails, or the server closes the
    // connection as soon as it has seen the client's certificate (TLS 1.3 checks it last).
    let stranger = Identity::generate();
    if let Ok(connection) = runtime.block_on(zgnode::net::connect_raw(&stranger, layout[0].peer)) {
        let closed = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), connection.closed()).await });
        assert!(closed.is_ok(), "a connection from an unknown key stayed open");
    }

    let connection = runtime.block_on(zgnode::net::connect_raw(&byzantine, layout[0].peer)).expect("known key connects");
    let rejected = target.rejected();
    let height = head(addr);
    let bad_signature = {
        let mut vote = signed_vote(&byzantine.key, height + 1, Some([1; 32]));
        vote.signature[0] ^= 1;
        wire::encode_frame(&NetMessage::Vote(vote)).unwrap()
    };
    // A shard for a file nobody published: well-formed, but refused (and counted).
    let stray_shard = wire::encode_frame(&NetMessage::StoreShard(zg_components::consensus::Shard {
        tx_seq: 999,
        segment: 0,
        index: 0,
        segment_len: 256,
        data: vec![1; 256],
        proof_lemma: vec![],
        proof_path: vec![],
        boundary: vec![],
    }))
    .unwrap();
    let hostile: Vec<Vec<u8>> = vec![
        ((wire::MAX_MESSAGE_BYTES as u32) + 1).to_be_bytes().to_vec(),
        frame(&[wire::WIRE_VERSION, 0xff, 0xff, 0xff]),
        frame(&[9, 0]),
        bad_signature,
        stray_shard,
    ];
    for bytes in &hostile {
        runtime.block_on(send_raw(&connection, bytes));
    }
    let deadline = std::time::Instant::now() + TIMEOUT;
    while target.rejected() < rejected + hostile.len() as u64 {
        assert!(std::time::Instant::now() < deadline, "rejected {} of {}", target.rejected() - rejected, hostile.len());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Still deciding blocks.
    wait_for_block(addr, height + 3, TIMEOUT);

    // Two different prevotes from one key for the same heights and round: equivocation.
    let height = head(addr);
    let mut votes = Vec::new();
    for h in height + 1..=height + 6 {
        votes.push(NetMessage::Vote(signed_vote(&byzantine.key, h, Some([0xe1; 32]))));
        votes.push(NetMessage::Vote(signed_vote(&byzantine.key, h, Some([0xe2; 32]))));
    }
    runtime.block_on(async {
        let mut stream = connection.open_uni().await.unwrap();
        for vote in &votes {
            stream.write_all(&wire::encode_frame(vote).unwrap()).await.unwrap();
        }
        let _ = stream.finish();
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    let operator = layout_operator(&layout[3]);
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let (stake, jailed) = staking_status(addr, operator);
        if jailed {
            assert_eq!(stake, U256::from(900_000u64) * U256::from(10u64).pow(U256::from(18)), "10% slashed");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the double signer was not slashed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let now = head(addr);
    wait_for_block(addr, now + 3, TIMEOUT);
    assert_same_chain(&nodes.iter().map(|n| n.addr).collect::<Vec<_>>());
    drop(connection);
    for node in nodes {
        node.stop();
    }
}

/// Honest traffic gets refused now and then (a vote from a validator that joined at an epoch
/// this node has not executed yet is "unknown"): the message is dropped and counted, and the
/// stream it came on keeps carrying the peer's traffic.
#[test]
fn a_refused_message_does_not_silence_the_peer_that_sent_it() {
    let RawPeerFixture { _dir, layout, nodes, addr, target, peer, runtime } = raw_peer_fixture(2);
    let connection = runtime.block_on(zgnode::net::connect_raw(&peer, layout[0].peer)).expect("known key connects");
    let rejected = target.rejected();
    let height = head(addr);
    // A validator this node does not know (yet), and a vote whose signature is off by a bit.
    let newcomer = malachite_ed25519::PrivateKey::from([0x77; 32]);
    let unknown = NetMessage::Vote(signed_vote(&newcomer, height + 1, Some([1; 32])));
    let mut garbled = signed_vote(&peer.key, height + 1, Some([1; 32]));
    garbled.signature[0] ^= 1;
    let raw = raw_transfer(&dev_key(1), Address::repeat_byte(0x43), 7, 0);
    let tx = alloy_primitives::hex::decode(&raw).unwrap();
    let frames = [unknown, NetMessage::Vote(garbled), NetMessage::Transactions(vec![tx])];
    runtime.block_on(async {
        let mut stream = connection.open_uni().await.expect("stream");
        for message in &frames {
            stream.write_all(&wire::encode_frame(message).unwrap()).await.expect("the stream stays open");
        }
        // Keep this runtime (which drives the connection) running until the peer read it all.
        let _ = stream.finish();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.stopped()).await;
    });
    let receipt = wait_receipt(addr, &format!("{:#x}", tx_hash(&raw)), TIMEOUT);
    assert_eq!(receipt["status"], "0x1", "the transaction after two refused votes arrived");
    assert_eq!(target.rejected(), rejected + 2, "both votes counted");
    assert!(connection.close_reason().is_none(), "the connection stayed open");
    drop(connection);
    for node in nodes {
        node.stop();
    }
}

fn layout_operator(node: &NodeLayout) -> Address {
    node.operator
}

fn current_validators(addr: SocketAddr) -> Vec<B256> {
    use zg_systems::consensus::staking::{IStaking, STAKING_ADDRESS};
    let data = IStaking::currentValidatorsCall {}.abi_encode();
    let call = json!({"to": STAKING_ADDRESS, "data": alloy_primitives::hex::encode_prefixed(data)});
    let output = ok(addr, "eth_call", json!([call, "latest"]));
    let bytes = alloy_primitives::hex::decode(output.as_str().unwrap()).unwrap();
    IStaking::currentValidatorsCall::abi_decode_returns(&bytes).unwrap().keys
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

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
    let reward = zgnode::zgs::dev_mine_params().reward_per_challenge;
    wait_until("node 3 to pass PoRA challenges from its shards", || status().earned >= reward * U256::from(4));
    assert_eq!(status().penalized, U256::ZERO);

    // Then it goes silent for a whole epoch, and anyone may settle that epoch against it.
    nodes[3].take().unwrap().stop();
    let epoch_blocks = zgnode::zgs::dev_mine_params().epoch_blocks;
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

#[test]
fn a_fifth_node_stakes_joins_at_the_epoch_and_leaves_after_undelegating() {
    use zg_systems::consensus::staking::{IStaking, STAKING_ADDRESS};
    let dir = tempfile::tempdir().unwrap();
    let layout = network_with_followers(dir.path(), 4, 1, 4);
    let nodes: Vec<NodeProcess> = layout.iter().map(spawn).collect();
    let (addr, fifth) = (nodes[0].addr, nodes[4].addr);
    wait_for_block(fifth, 3, TIMEOUT);
    assert_eq!(current_validators(addr).len(), 4);

    let staker = dev_key(5);
    let stake = U256::from(2_000u64) * U256::from(10u64).pow(U256::from(18));
    let key = B256::from(layout[4].peer.key);
    let create = IStaking::createValidatorCall { consensusKey: key }.abi_encode();
    let tx = sign(&staker, alloy_primitives::TxKind::Call(STAKING_ADDRESS), stake, create.into(), 0, 500_000);
    let hash = ok(fifth, "eth_sendRawTransaction", json!([raw(&tx)]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), TIMEOUT);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    // The set changes only at an epoch boundary; the in-process consensus tests pin the exact
    // block, this one checks the whole path through processes and JSON-RPC.
    wait_until("the fifth validator to join", || current_validators(addr).contains(&key));

    // The new validator follows the chain through its own node.
    let now = head(addr);
    wait_for_block(fifth, now + 2, TIMEOUT);

    let leave = IStaking::undelegateCall { operator: staker.address(), amount: stake }.abi_encode();
    let tx = sign(&staker, alloy_primitives::TxKind::Call(STAKING_ADDRESS), U256::ZERO, leave.into(), 1, 500_000);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw(&tx)]));
    assert_eq!(wait_receipt(addr, hash.as_str().unwrap(), TIMEOUT)["status"], "0x1");
    wait_until("the fifth validator to leave", || !current_validators(addr).contains(&key));
    assert_eq!(current_validators(addr).len(), 4);
    assert_same_chain(&nodes.iter().map(|n| n.addr).collect::<Vec<_>>());
}

/// A validator node that is also a storage node placing 2+2 erasure-coded shards.
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
fn storage_client(node: &InProcessNode) -> zgnode::zgs::client::StorageClient {
    let storage = node.node.as_ref().unwrap().storage_addr.unwrap();
    zgnode::zgs::client::StorageClient::new(&format!("http://{}", node.addr), &format!("http://{storage}")).unwrap()
}

fn upload_via(node: &InProcessNode, data: &[u8], key: usize) -> zgnode::zgs::client::UploadReport {
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
