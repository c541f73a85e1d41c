//! redb persistence: restarts keep every block and all state; a foreign genesis or tampered
//! state is refused at start; SIGKILL while taking transactions loses nothing acknowledged.

mod common;

use alloy_primitives::Address;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

use zg_components::chain::{AccountChange, AccountInfo, CommittedBlock};
use zgnode::store::{ChainStore, RestoreError};

const WAIT: Duration = Duration::from_secs(20);

fn persistent_config(dir: &std::path::Path) -> zgnode::NodeConfig {
    let mut config = test_config();
    config.node.ephemeral = false;
    config.node.data_dir = dir.to_path_buf();
    config
}

#[test]
fn a_restart_keeps_every_block_and_all_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = persistent_config(dir.path());
    let node = start_node(&config);
    let addr = node.addr;
    let receiver = Address::repeat_byte(0x77);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw_transfer(&dev_key(0), receiver, 4321, dev0_nonce(0))]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    let head_before = quantity(&ok(addr, "eth_blockNumber", json!([])));
    let head_block = ok(addr, "eth_getBlockByNumber", json!([format!("{head_before:#x}"), true]));
    node.stop();

    let node = start_node(&config);
    let addr = node.addr;
    assert!(quantity(&ok(addr, "eth_blockNumber", json!([]))) >= head_before);
    assert_eq!(ok(addr, "eth_getBlockByNumber", json!([format!("{head_before:#x}"), true])), head_block);
    assert_eq!(ok(addr, "eth_getTransactionReceipt", json!([hash])), receipt);
    assert_eq!(ok(addr, "eth_getBalance", json!([receiver, "latest"])), "0x10e1");
    assert_eq!(quantity(&ok(addr, "eth_getTransactionCount", json!([dev_key(0).address(), "latest"]))), dev0_nonce(1));
    // The chain goes on from where it was, and takes the next nonce.
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw_transfer(&dev_key(0), receiver, 1, dev0_nonce(1))]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    assert!(quantity(&receipt["blockNumber"]) > head_before);
    node.stop();
}

#[test]
fn a_data_dir_of_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = persistent_config(dir.path());
    start_node(&config).stop();
    let other = zgnode::dev::dev_genesis(999);
    let error = start_node_with(&config, &other).err().expect("must refuse");
    assert!(error.to_string().contains("different chain"), "{error}");
}

#[test]
fn state_that_does_not_match_the_head_is_detected_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = persistent_config(dir.path());
    let node = start_node(&config);
    wait_for_block(node.addr, 2, WAIT);
    node.stop();

    // Rewrite the head block with an extra balance its state root does not commit to.
    let store = ChainStore::open(&dir.path().join("chain.redb")).unwrap();
    let head = store.head_number().unwrap().unwrap();
    let (header, hash) = store.reader().header(head).unwrap().unwrap();
    let forged = AccountChange {
        address: Address::repeat_byte(0x66),
        info: Some(AccountInfo { balance: alloy_primitives::U256::from(1), ..Default::default() }),
        storage: vec![],
        storage_cleared: false,
        code: None,
    };
    store
        .write_block(&CommittedBlock { header, hash, transactions: vec![], receipts: vec![], changes: vec![forged], decided: None })
        .unwrap();
    drop(store);

    let error = start_node_with(&config, &zgnode::dev::dev_genesis(CHAIN_ID)).err().expect("must refuse");
    assert!(matches!(error, zgnode::node::NodeError::Restore(RestoreError::StateRootMismatch { .. })), "{error}");
}

/// Sends transfers as fast as the node takes them; returns the hashes whose receipts came back.
fn load_until_killed(addr: std::net::SocketAddr, first_nonce: u64, for_how_long: Duration) -> (Vec<String>, u64) {
    let alice = dev_key(6);
    let receiver = Address::repeat_byte(0x99);
    let started = Instant::now();
    let mut nonce = first_nonce;
    let mut confirmed = Vec::new();
    while started.elapsed() < for_how_long {
        let batch: Vec<String> = (0..20)
            .map(|i| {
                let raw = raw_transfer(&alice, receiver, 1, nonce + i);
                ok(addr, "eth_sendRawTransaction", json!([raw])).as_str().unwrap().to_string()
            })
            .collect();
        nonce += 20;
        for hash in batch {
            wait_receipt(addr, &hash, WAIT);
            confirmed.push(hash);
        }
    }
    // More that is sent but not waited for: the kill lands while these are in flight.
    for i in 0..50 {
        let raw = raw_transfer(&alice, receiver, 1, nonce + i);
        let _ = rpc(addr, "eth_sendRawTransaction", json!([raw]));
    }
    (confirmed, nonce)
}

#[test]
fn sigkill_while_taking_transactions_loses_no_acknowledged_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let args = dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all_confirmed: Vec<(String, serde_json::Value)> = Vec::new();
    let mut nonce = 0;
    let mut last_head = 0;
    for round in 0..3 {
        let node = NodeProcess::spawn(&args);
        let addr = node.addr;
        let head = quantity(&ok(addr, "eth_blockNumber", json!([])));
        assert!(head >= last_head, "round {round}: head went back from {last_head} to {head}");
        for (hash, receipt) in &all_confirmed {
            assert_eq!(&ok(addr, "eth_getTransactionReceipt", json!([hash])), receipt, "round {round}: receipt {hash} changed or was lost");
        }
        // The account nonce covers at least every confirmed transaction.
        let account_nonce = quantity(&ok(addr, "eth_getTransactionCount", json!([dev_key(6).address(), "latest"])));
        assert!(account_nonce >= all_confirmed.len() as u64);
        nonce = nonce.max(account_nonce);
        let (confirmed, _) = load_until_killed(addr, nonce, Duration::from_millis(700));
        for hash in confirmed {
            let receipt = ok(addr, "eth_getTransactionReceipt", json!([hash]));
            all_confirmed.push((hash, receipt));
        }
        last_head = quantity(&ok(addr, "eth_blockNumber", json!([])));
        node.kill();
    }
    assert!(all_confirmed.len() >= 60, "too little load to mean anything: {}", all_confirmed.len());
    let node = NodeProcess::spawn(&args);
    for (hash, receipt) in &all_confirmed {
        assert_eq!(&ok(node.addr, "eth_getTransactionReceipt", json!([hash])), receipt);
    }
    wait_for_block(node.addr, last_head + 2, WAIT);
}

#[test]
fn a_garbage_database_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chain.redb"), vec![0xa5u8; 64 * 1024]).unwrap();
    let error = start_node_with(&persistent_config(dir.path()), &zgnode::dev::dev_genesis(CHAIN_ID))
        .err()
        .expect("must refuse");
    assert!(error.to_string().contains("cannot open the database"), "{error}");
}

#[test]
fn a_truncated_database_file_is_refused_or_recovered_never_silently_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let config = persistent_config(dir.path());
    let node = start_node(&config);
    wait_for_block(node.addr, 3, WAIT);
    node.stop();
    let path = dir.path().join("chain.redb");
    let length = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(length / 2).unwrap();
    drop(file);
    // Either redb refuses the file, or what it recovers must pass the state-root check.
    match start_node_with(&config, &zgnode::dev::dev_genesis(CHAIN_ID)) {
        Err(error) => assert!(!error.to_string().is_empty()),
        Ok(node) => {
            let head = quantity(&ok(node.addr, "eth_blockNumber", json!([])));
            let block = ok(node.addr, "eth_getBlockByNumber", json!([format!("{head:#x}"), false]));
            assert!(!block.is_null());
            node.stop();
        }
    }
}
