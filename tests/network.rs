//! Validator networks on 127.0.0.1: processes killed with SIGKILL and restarted, in-process nodes
//! partitioned through the transport's fault layer, and a hostile peer speaking QUIC by hand.
//! Every wait is for an event (a block number, a receipt), bounded by a generous timeout.


mod common;
#[path = "network/support.rs"]
mod support;

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use support::*;
use zgnode::net::identity::Identity;
use zgnode::tools::testnet::NodeLayout;
use zg_components::consensus::wire::{self, NetMessage, WireVote};

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
        // The status page's view: this validator's own precommits in the certificates it
        // keeps, and each peer's QUIC round trip.
        let status = ok(*addr, "zgnode_status", json!([]));
        let record = &status["roles"]["validator"];
        let signed = record["signedLastBlocks"].as_str().unwrap_or_else(|| panic!("no signing record: {status}"));
        let (mine, of) = signed.split_once(" of ").unwrap();
        let (mine, of): (u64, u64) = (mine.parse().unwrap(), of.parse().unwrap());
        assert!(of >= 3 && (1..=of).contains(&mine), "{signed}");
        assert!(record["lastSigned"].as_u64().is_some(), "{record}");
        for peer in status["network"]["peers"].as_array().unwrap() {
            let latency = peer["latencyMs"].as_f64().unwrap_or_else(|| panic!("a connected peer has a round trip: {peer}"));
            assert!(latency > 0.0 && latency < 5_000.0, "{peer}");
        }
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
