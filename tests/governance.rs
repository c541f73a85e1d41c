//! Governance by staked 0G, driven by ethers v6 through OpenZeppelin's own `IGovernor` ABI
//! (tests/clients/governance.mjs): on `zgnode dev` (dev accounts 0–3 are the stakers) and on a
//! 4-validator network (the validators' operators are), a proposal passes with for / against /
//! abstain votes, stake moved after the snapshot does not count, a late vote is refused, a thin
//! vote misses quorum, and the executed proposal changes the next block's gas limit on every
//! validator alike.

mod common;
#[path = "network/support.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::*;
use support::*;

fn clients_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn run_governance_script(addr: SocketAddr, stakers: &[String], outsider: &str) -> String {
    let clients = clients_dir();
    ensure_npm_dir(&clients, &["ethers", "@openzeppelin/contracts"]);
    let output = Command::new("node")
        .arg(clients.join("governance.mjs"))
        .arg(format!("http://{addr}"))
        .arg(stakers.join(","))
        .arg(outsider)
        .output()
        .expect("node runs (Node.js 18+)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "governance checks failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("all governance checks passed"), "{stdout}");
    stdout
}

fn key_hex(index: usize) -> String {
    format!("0x{}", alloy_primitives::hex::encode(dev_key(index).to_bytes()))
}

#[test]
fn a_stake_weighted_proposal_changes_the_dev_chains_gas_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = dev_args(dir.path());
    // A 20-block voting period at 50 ms blocks would close before ethers' round trips land.
    let at = args.iter().position(|a| a == "--block-time-ms").unwrap();
    args[at + 1] = "300".into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let stakers: Vec<String> = (0..4).map(key_hex).collect();
    let out = run_governance_script(node.addr, &stakers, &key_hex(5));
    println!("{out}");
}

#[test]
fn a_proposal_changes_the_gas_limit_on_every_validator_of_a_network() {
    let dir = tempfile::tempdir().unwrap();
    let layout = test_network(dir.path(), 4, 20);
    let nodes: Vec<NodeProcess> = layout.iter().map(spawn).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    for addr in &addrs {
        wait_for_block(*addr, 2, TIMEOUT);
    }
    let stakers: Vec<String> = layout
        .iter()
        .map(|node| std::fs::read_to_string(node.dir.join("operator.key")).expect("operator key").trim().to_string())
        .collect();
    // The operators' stake is bonded; give them gas money from dev account 6 (10 0G each).
    let funder = dev_key(6);
    for (nonce, node) in layout.iter().enumerate() {
        let hash = ok(addrs[0], "eth_sendRawTransaction", serde_json::json!([raw_transfer(&funder, node.operator, 10_000_000_000_000_000_000, nonce as u64)]));
        wait_receipt(addrs[0], hash.as_str().unwrap(), TIMEOUT);
    }
    let out = run_governance_script(addrs[0], &stakers, &key_hex(5));
    println!("{out}");
    let changed_at = out
        .lines()
        .find_map(|l| l.strip_prefix("ok - eth_getBlockByNumber(").and_then(|rest| rest.split(')').next()))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the script names the first block with the new limit");
    for addr in &addrs {
        wait_for_block(*addr, changed_at, TIMEOUT);
    }
    for addr in &addrs {
        let before = quantity(&block(*addr, changed_at - 1)["gasLimit"]);
        let after = quantity(&block(*addr, changed_at)["gasLimit"]);
        assert_ne!(before, after, "{addr}");
        assert!(after == 45_000_000 || after == 46_000_000, "{addr}: {after}");
    }
    assert_same_chain(&addrs);
}
