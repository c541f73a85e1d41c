//! What the validator-network tests share: free ports, network layouts, processes and
//! in-process nodes, and waits on heads and blocks.
#![allow(dead_code)]

use alloy_primitives::{Address, B256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::common::*;
use zgnode::tools::testnet::{NetworkPlan, NodeLayout, write_network};

pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Free UDP ports on 127.0.0.1, held together so they are distinct.
pub fn free_udp_ports(n: usize) -> Vec<u16> {
    let sockets: Vec<_> = (0..n).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    sockets.iter().map(|s| s.local_addr().unwrap().port()).collect()
}

pub fn test_network(dir: &Path, validators: usize, epoch_length: u64) -> Vec<NodeLayout> {
    network_with_followers(dir, validators, 0, epoch_length)
}

pub fn network_with_followers(dir: &Path, validators: usize, followers: usize, epoch_length: u64) -> Vec<NodeLayout> {
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

pub fn spawn(node: &NodeLayout) -> NodeProcess {
    NodeProcess::spawn_logged(&["run", "--config", &node.config.display().to_string()], &node.dir.join("node.log"))
}

pub fn head(addr: SocketAddr) -> u64 {
    quantity(&ok(addr, "eth_blockNumber", json!([])))
}

pub fn block(addr: SocketAddr, number: u64) -> Value {
    ok(addr, "eth_getBlockByNumber", json!([format!("0x{number:x}"), false]))
}

/// Every node holds the same blocks (hash and state root) up to the lowest head among them.
pub fn assert_same_chain(addrs: &[SocketAddr]) {
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
pub fn assert_stalled(addrs: &[SocketAddr], hold: Duration) -> Vec<u64> {
    std::thread::sleep(Duration::from_millis(1_500));
    let before: Vec<u64> = addrs.iter().map(|a| head(*a)).collect();
    std::thread::sleep(hold);
    let after: Vec<u64> = addrs.iter().map(|a| head(*a)).collect();
    assert_eq!(before, after, "blocks were decided without a quorum");
    after
}


pub fn start_in_process(layout: &[NodeLayout], dir: &Path) -> Vec<InProcessNode> {
    let genesis = zgnode::local_files::load_genesis(&dir.join("genesis.json")).unwrap();
    layout
        .iter()
        .map(|node| {
            let config = zgnode::NodeConfig::load(&node.config).unwrap();
            start_node_with(&config, &genesis).expect("node starts")
        })
        .collect()
}


pub fn layout_operator(node: &NodeLayout) -> Address {
    node.operator
}

pub fn current_validators(addr: SocketAddr) -> Vec<B256> {
    use zg_systems::consensus::staking::{IStaking, STAKING_ADDRESS};
    let data = IStaking::currentValidatorsCall {}.abi_encode();
    let call = json!({"to": STAKING_ADDRESS, "data": alloy_primitives::hex::encode_prefixed(data)});
    let output = ok(addr, "eth_call", json!([call, "latest"]));
    let bytes = alloy_primitives::hex::decode(output.as_str().unwrap()).unwrap();
    IStaking::currentValidatorsCall::abi_decode_returns(&bytes).unwrap().keys
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

