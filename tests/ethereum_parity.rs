//! What anvil, Hardhat and geth answer and `zgnode dev` must too: state at older blocks (and
//! the window's edge), the pending block for estimates, filters, the by-index and uncle
//! methods, EIP-1186 proofs checked against the state root, traces, access lists, the txpool,
//! and the dev controls. The same features through ethers, viem and web3.py are in
//! clients/parity.mjs and clients/parity_web3.py (tests/ethereum_clients.rs).

mod common;

use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_sol_types::{SolCall, SolValue, sol};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
/// ZgToken's `balanceOf` mapping: after name, symbol and totalSupply.
const BALANCES_SLOT: U256 = U256::from_limbs([3, 0, 0, 0]);

sol! {
    function transfer(address to, uint256 value) external returns (bool);
    function balanceOf(address owner) external view returns (uint256);
}

fn dev_config() -> zgnode::config::NodeConfig {
    let mut config = test_config();
    config.rpc.dev_methods = true;
    config
}

fn send_token(addr: std::net::SocketAddr, token: Address, to: Address, amount: u64, nonce: u64) -> Value {
    let data = transferCall { to, value: U256::from(amount) }.abi_encode();
    let tx = sign(&dev_key(0), TxKind::Call(token), U256::ZERO, data.into(), dev0_nonce(nonce), 200_000);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw(&tx)]));
    wait_receipt(addr, hash.as_str().unwrap(), WAIT)
}

fn u256(value: &Value) -> U256 {
    value.as_str().unwrap().parse().unwrap()
}

fn token_balance_at(addr: std::net::SocketAddr, token: Address, owner: Address, block: Value) -> U256 {
    let data = Bytes::from(balanceOfCall { owner }.abi_encode());
    let out = ok(addr, "eth_call", json!([{"to": token, "data": data}, block]));
    U256::abi_decode(&alloy_primitives::hex::decode(out.as_str().unwrap()).unwrap()).unwrap()
}

#[test]
fn state_reads_at_older_blocks_until_the_window_ends() {
    let mut config = dev_config();
    config.node.state_history_blocks = 8;
    let node = start_node(&config);
    let addr = node.addr;
    let bob = Address::repeat_byte(0xb0);
    let token = deploy_token(addr, 0);
    let deployed_at = quantity(&ok(addr, "eth_blockNumber", json!([])));
    let first = send_token(addr, token, bob, 100, 1);
    let first_block = quantity(&first["blockNumber"]);
    let second = send_token(addr, token, bob, 50, 2);
    let second_block = quantity(&second["blockNumber"]);

    // Balance, nonce, storage, code and calls as of each block.
    let at = |n: u64| json!(format!("{n:#x}"));
    assert_eq!(token_balance_at(addr, token, bob, at(first_block - 1)), U256::ZERO);
    assert_eq!(token_balance_at(addr, token, bob, at(first_block)), U256::from(100));
    assert_eq!(token_balance_at(addr, token, bob, at(second_block)), U256::from(150));
    let deployer = dev_key(0).address();
    assert_eq!(quantity(&ok(addr, "eth_getTransactionCount", json!([deployer, at(first_block)]))), dev0_nonce(2));
    assert_eq!(quantity(&ok(addr, "eth_getTransactionCount", json!([deployer, "latest"]))), dev0_nonce(3));
    let before = u256(&ok(addr, "eth_getBalance", json!([deployer, at(first_block - 1)])));
    let after = u256(&ok(addr, "eth_getBalance", json!([deployer, at(first_block)])));
    assert!(after < before, "the transfer's fee is paid between the two blocks");
    assert_eq!(ok(addr, "eth_getCode", json!([token, at(deployed_at - 1)])), "0x", "no code before the deploy");
    assert_ne!(ok(addr, "eth_getCode", json!([token, at(deployed_at)])), "0x");
    // The same block by hash (EIP-1898) answers the same.
    let by_hash = json!({"blockHash": first["blockHash"]});
    assert_eq!(token_balance_at(addr, token, bob, by_hash.clone()), U256::from(100));
    let slot = keccak256((bob, BALANCES_SLOT).abi_encode());
    let stored = ok(addr, "eth_getStorageAt", json!([token, slot, by_hash]));
    let latest = ok(addr, "eth_getStorageAt", json!([token, slot, "latest"]));
    assert_ne!(stored, latest, "slot {slot} of the balances mapping moved on");
    // An estimate at an older block runs on that block's state.
    let data = Bytes::from(transferCall { to: deployer, value: U256::from(120) }.abi_encode());
    let estimate = rpc(addr, "eth_estimateGas", json!([{"from": bob, "to": token, "data": data}, at(first_block)]));
    assert!(estimate["error"]["message"].as_str().is_some_and(|m| m.contains("revert")), "bob had 100: {estimate}");
    ok(addr, "eth_estimateGas", json!([{"from": bob, "to": token, "data": data}, at(second_block)]));

    // Past the window: geth's "missing trie node", with what is kept.
    ok(addr, "evm_mine", json!([]));
    ok(addr, "anvil_mine", json!(["0xa"]));
    let (code, message) = err(addr, "eth_getBalance", json!([deployer, at(first_block - 1)]));
    assert_eq!(code, -32000);
    assert!(message.contains("missing trie node") && message.contains("--archive"), "{message}");
    assert!(err(addr, "eth_call", json!([{"to": token}, at(first_block - 1)])).1.contains("missing trie node"));
    assert_eq!(err(addr, "eth_getBalance", json!([deployer, "0xffffff"])).1, "header not found");
    node.stop();
}

#[test]
fn archive_nodes_keep_every_block_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = dev_config();
    config.node.ephemeral = false;
    config.node.data_dir = dir.path().to_path_buf();
    config.node.archive = true;
    let node = start_node(&config);
    let addr = node.addr;
    let alice = dev_key(1);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw_transfer(&alice, Address::repeat_byte(0xcc), 7, 0)]));
    let mined = quantity(&wait_receipt(addr, hash.as_str().unwrap(), WAIT)["blockNumber"]);
    ok(addr, "anvil_mine", json!(["0x120"]));
    node.stop();
    let node = start_node(&config);
    let balance = |block: u64| u256(&ok(node.addr, "eth_getBalance", json!([Address::repeat_byte(0xcc), format!("{block:#x}")])));
    assert_eq!(balance(mined - 1), U256::ZERO);
    assert_eq!(balance(mined), U256::from(7), "more than 256 blocks back, after a restart");
    node.stop();
}

#[test]
fn estimates_and_pending_calls_run_in_the_block_that_comes_next() {
    let node = start_node(&dev_config());
    let addr = node.addr;
    // TIMESTAMP NUMBER BASEFEE, stored as three words: a contract that reports its block.
    let runtime = alloy_primitives::hex::decode("4260005243602052486040526060" .to_owned() + "6000f3").unwrap();
    let code_address = Address::repeat_byte(0x77);
    assert_eq!(ok(addr, "anvil_setCode", json!([code_address, Bytes::from(runtime)])), true);
    let head = ok(addr, "eth_getBlockByNumber", json!(["latest", false]));
    let words = |out: &Value| -> Vec<U256> {
        let bytes = alloy_primitives::hex::decode(out.as_str().unwrap()).unwrap();
        bytes.chunks(32).map(U256::from_be_slice).collect()
    };
    let latest = words(&ok(addr, "eth_call", json!([{"to": code_address}, "latest"])));
    assert_eq!(latest[1], U256::from(quantity(&head["number"])), "latest is the head block");
    let pending = words(&ok(addr, "eth_call", json!([{"to": code_address}, "pending"])));
    assert_eq!(pending[1], U256::from(quantity(&head["number"]) + 1), "pending is the next block");
    assert!(pending[0] > U256::from(quantity(&head["timestamp"])), "the next block's timestamp is later than the head's");
    node.stop();
}

#[test]
fn block_timestamps_strictly_increase_and_dev_controls_move_them() {
    let node = start_node(&dev_config());
    let addr = node.addr;
    // A burst of blocks within one second still gets strictly increasing timestamps.
    ok(addr, "anvil_mine", json!(["0x5"]));
    let head = quantity(&ok(addr, "eth_blockNumber", json!([])));
    let timestamps: Vec<u64> = (head - 5..=head)
        .map(|n| quantity(&ok(addr, "eth_getBlockByNumber", json!([format!("{n:#x}"), false]))["timestamp"]))
        .collect();
    assert!(timestamps.windows(2).all(|w| w[1] > w[0]), "{timestamps:?}");

    let last = *timestamps.last().unwrap();
    let total = ok(addr, "evm_increaseTime", json!([3600])).as_u64().unwrap();
    assert!(total >= 3600, "{total}");
    ok(addr, "evm_mine", json!([]));
    let mined = ok(addr, "eth_getBlockByNumber", json!(["latest", false]));
    // The burst ran the chain clock a few seconds ahead of the wall clock: the hour counts from
    // the head.
    assert!(quantity(&mined["timestamp"]) >= last + 3600, "{mined}");
    let target = quantity(&mined["timestamp"]) + 1000;
    // The next block takes it, whoever seals it: the dev chain's own 1 s block may come before
    // evm_mine's (CI saw that race), so the blocks since are checked: one has the target, those
    // before it are earlier, those after later.
    let before = quantity(&ok(addr, "eth_blockNumber", json!([])));
    ok(addr, "evm_setNextBlockTimestamp", json!([target]));
    ok(addr, "evm_mine", json!([]));
    let after = quantity(&ok(addr, "eth_blockNumber", json!([])));
    let since: Vec<u64> = (before + 1..=after).map(|n| quantity(&ok(addr, "eth_getBlockByNumber", json!([format!("{n:#x}"), false]))["timestamp"])).collect();
    assert_eq!(since.iter().filter(|t| **t == target).count(), 1, "{since:?}");
    assert!(since.windows(2).all(|w| w[1] > w[0]), "{since:?}");
    let (code, message) = err(addr, "evm_setNextBlockTimestamp", json!([target]));
    assert_eq!(code, -32602);
    assert!(message.contains("strictly increase"), "{message}");
    assert_eq!(err(addr, "evm_increaseTime", json!(["soon"])).0, -32602);
    // Hostile values are refused, not wrapped around.
    assert_eq!(err(addr, "evm_increaseTime", json!([u64::MAX])).0, -32602);
    assert_eq!(err(addr, "evm_increaseTime", json!([-5])).0, -32602);
    assert_eq!(err(addr, "evm_setNextBlockTimestamp", json!(["0xffffffffffffffff"])).0, -32602);
    assert_eq!(err(addr, "evm_mine", json!(["0xffffffffffffffff"])).0, -32602);
    assert_eq!(err(addr, "anvil_mine", json!(["0x1", "0xffffffffffffffff"])).0, -32602);
    assert_eq!(err(addr, "anvil_mine", json!(["0xffffffff"])).0, -32602);
    assert_eq!(err(addr, "anvil_setBalance", json!(["0x12", "0x1"])).0, -32602);
    assert_eq!(err(addr, "anvil_setCode", json!([Address::ZERO, format!("0x{}", "00".repeat(60_000))])).0, -32602);
    assert_eq!(err(addr, "evm_revert", json!(["soon"])).0, -32602);
    ok(addr, "evm_mine", json!([]));
    assert_eq!(err(addr, "anvil_mine", json!(["0x0"])).0, -32602);
    node.stop();
}

#[test]
fn dev_accounts_impersonation_and_state_edits() {
    let node = start_node(&dev_config());
    let addr = node.addr;
    let accounts = ok(addr, "eth_accounts", json!([]));
    assert_eq!(accounts.as_array().unwrap().len(), 10);
    assert_eq!(accounts[0], format!("{:#x}", dev_key(0).address()));

    // eth_sendTransaction fills nonce, gas and fees for an unlocked account.
    let to = Address::repeat_byte(0x42);
    let hash = ok(addr, "eth_sendTransaction", json!([{"from": dev_key(2).address(), "to": to, "value": "0x2a"}]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["gasUsed"], "0x5208");
    assert_eq!(u256(&ok(addr, "eth_getBalance", json!([to, "latest"]))), U256::from(42));

    // An unknown account is refused; an impersonated one is not, once it has funds.
    let whale = Address::repeat_byte(0xee);
    let (_, message) = err(addr, "eth_sendTransaction", json!([{"from": whale, "to": to, "value": "0x1"}]));
    assert!(message.contains("unknown account"), "{message}");
    assert_eq!(ok(addr, "anvil_setBalance", json!([whale, "0xde0b6b3a7640000"])), true);
    assert_eq!(u256(&ok(addr, "eth_getBalance", json!([whale, "latest"]))), U256::from(10u64).pow(U256::from(18)));
    ok(addr, "hardhat_impersonateAccount", json!([whale]));
    let hash = ok(addr, "eth_sendTransaction", json!([{"from": whale, "to": to, "value": "0x1"}]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    assert_eq!(receipt["from"], format!("{whale:#x}"));
    ok(addr, "anvil_stopImpersonatingAccount", json!([whale]));
    assert!(err(addr, "eth_sendTransaction", json!([{"from": whale, "to": to}])).1.contains("unknown account"));

    // Nonce, storage and code edits.
    ok(addr, "anvil_setNonce", json!([whale, "0x10"]));
    assert_eq!(ok(addr, "eth_getTransactionCount", json!([whale, "latest"])), "0x10");
    let slot = B256::with_last_byte(3);
    let value = B256::repeat_byte(0x11);
    ok(addr, "hardhat_setStorageAt", json!([to, slot, value]));
    assert_eq!(ok(addr, "eth_getStorageAt", json!([to, slot, "latest"])), format!("{value:#x}"));

    // The pool: pending runs and queued gaps.
    let alice = dev_key(3);
    ok(addr, "eth_sendRawTransaction", json!([raw_transfer(&alice, to, 1, 5)]));
    let status = ok(addr, "txpool_status", json!([]));
    assert_eq!(status["queued"], "0x1", "{status}");
    let content = ok(addr, "txpool_content", json!([]));
    assert_eq!(content["queued"][format!("{:#x}", alice.address())]["5"]["nonce"], "0x5", "{content}");
    node.stop();
}

#[test]
fn filters_block_index_methods_proofs_traces_and_access_lists() {
    let node = start_node(&dev_config());
    let addr = node.addr;
    let blocks = ok(addr, "eth_newBlockFilter", json!([]));
    let pending = ok(addr, "eth_newPendingTransactionFilter", json!([]));
    let token = deploy_token(addr, 0);
    let logs = ok(addr, "eth_newFilter", json!([{"address": token, "fromBlock": "earliest"}]));
    let bob = Address::repeat_byte(0xb0);
    let receipt = send_token(addr, token, bob, 5, 1);
    let tx_hash = receipt["transactionHash"].clone();

    let new_blocks = ok(addr, "eth_getFilterChanges", json!([blocks]));
    assert!(new_blocks.as_array().unwrap().contains(&receipt["blockHash"]), "{new_blocks}");
    assert_eq!(ok(addr, "eth_getFilterChanges", json!([blocks])), json!([]), "changes are since the last poll");
    let seen = ok(addr, "eth_getFilterChanges", json!([pending]));
    assert!(seen.as_array().unwrap().contains(&tx_hash), "{seen}");
    let changes = ok(addr, "eth_getFilterChanges", json!([logs]));
    assert_eq!(changes.as_array().unwrap().len(), 1, "{changes}");
    assert_eq!(changes[0]["transactionHash"], tx_hash);
    let all = ok(addr, "eth_getFilterLogs", json!([logs]));
    assert!(all.as_array().unwrap().iter().any(|log| log["transactionHash"] == tx_hash), "the filter's whole range: {all}");
    assert_eq!(ok(addr, "eth_uninstallFilter", json!([logs])), true);
    assert_eq!(ok(addr, "eth_uninstallFilter", json!([logs])), false);
    assert_eq!(err(addr, "eth_getFilterChanges", json!([logs])).1, "filter not found");
    assert_eq!(err(addr, "eth_getFilterLogs", json!([blocks])).0, -32602);

    // By block and index; uncles are always none.
    let by_number = ok(addr, "eth_getTransactionByBlockNumberAndIndex", json!([receipt["blockNumber"], receipt["transactionIndex"]]));
    assert_eq!(by_number["hash"], tx_hash);
    let by_hash = ok(addr, "eth_getTransactionByBlockHashAndIndex", json!([receipt["blockHash"], receipt["transactionIndex"]]));
    assert_eq!(by_hash, by_number);
    assert!(ok(addr, "eth_getTransactionByBlockHashAndIndex", json!([receipt["blockHash"], "0x63"])).is_null());
    assert_eq!(ok(addr, "eth_getBlockTransactionCountByHash", json!([receipt["blockHash"]])), "0x1");
    assert_eq!(ok(addr, "eth_getUncleCountByBlockNumber", json!([receipt["blockNumber"]])), "0x0");
    assert_eq!(ok(addr, "eth_getUncleCountByBlockHash", json!([receipt["blockHash"]])), "0x0");
    assert!(ok(addr, "eth_getUncleCountByBlockHash", json!([B256::repeat_byte(1)])).is_null());

    // EIP-1186: the account and a balance slot verify against the head's state root.
    let slot = keccak256((bob, BALANCES_SLOT).abi_encode());
    let proof = ok(addr, "eth_getProof", json!([token, [slot], "latest"]));
    let head = ok(addr, "eth_getBlockByNumber", json!(["latest", false]));
    let state_root: B256 = head["stateRoot"].as_str().unwrap().parse().unwrap();
    let nodes = |v: &Value| -> Vec<Bytes> { v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().parse().unwrap()).collect() };
    let storage_hash: B256 = proof["storageHash"].as_str().unwrap().parse().unwrap();
    let account = alloy_trie::TrieAccount {
        nonce: quantity(&proof["nonce"]),
        balance: u256(&proof["balance"]),
        storage_root: storage_hash,
        code_hash: proof["codeHash"].as_str().unwrap().parse().unwrap(),
    };
    alloy_trie::proof::verify_proof(
        state_root,
        alloy_trie::Nibbles::unpack(keccak256(token)),
        Some(alloy_rlp::encode(account)),
        &nodes(&proof["accountProof"]),
    )
    .expect("the account proof verifies against the state root");
    let entry = &proof["storageProof"][0];
    assert_eq!(u256(&entry["value"]), U256::from(5));
    alloy_trie::proof::verify_proof(
        storage_hash,
        alloy_trie::Nibbles::unpack(keccak256(slot)),
        Some(alloy_rlp::encode(U256::from(5))),
        &nodes(&entry["proof"]),
    )
    .expect("the storage proof verifies against the storage root");
    let absent = ok(addr, "eth_getProof", json!([Address::repeat_byte(0x5a), [], "latest"]));
    alloy_trie::proof::verify_proof(
        state_root,
        alloy_trie::Nibbles::unpack(keccak256(Address::repeat_byte(0x5a))),
        None,
        &nodes(&absent["accountProof"]),
    )
    .expect("absence is proven too");

    // Traces: the call tracer's frame and the struct logger's steps.
    let calls = ok(addr, "debug_traceTransaction", json!([tx_hash, {"tracer": "callTracer"}]));
    assert_eq!(calls["type"], "CALL");
    assert_eq!(calls["to"], format!("{token:#x}"));
    assert_eq!(calls["gasUsed"], receipt["gasUsed"]);
    let steps = ok(addr, "debug_traceTransaction", json!([tx_hash]));
    assert_eq!(steps["failed"], false);
    assert!(steps["structLogs"].as_array().unwrap().iter().any(|s| s["op"] == "SSTORE"), "a transfer stores");
    let data = Bytes::from(transferCall { to: bob, value: U256::from(1) }.abi_encode());
    let traced = ok(addr, "debug_traceCall", json!([{"from": dev_key(0).address(), "to": token, "data": data}, "latest", {"tracer": "callTracer"}]));
    assert_eq!(traced["type"], "CALL");
    assert!(err(addr, "debug_traceTransaction", json!([tx_hash, {"tracer": "prestateTracer"}])).1.contains("not supported"));

    // eth_createAccessList names the token and the two balance slots a transfer touches.
    let list = ok(addr, "eth_createAccessList", json!([{"from": dev_key(0).address(), "to": token, "data": data}]));
    let entries = list["accessList"].as_array().unwrap();
    let entry = entries.iter().find(|e| e["address"] == format!("{token:#x}")).unwrap_or_else(|| panic!("{list}"));
    assert_eq!(entry["storageKeys"].as_array().unwrap().len(), 2, "{list}");
    assert!(quantity(&list["gasUsed"]) > 21_000);
    node.stop();
}

#[test]
fn evm_snapshot_and_evm_revert_put_blocks_state_and_nonces_back() {
    let node = start_node(&dev_config());
    let addr = node.addr;
    let token = deploy_token(addr, 0);
    let bob = Address::repeat_byte(0xb0);
    let head = ok(addr, "eth_blockNumber", json!([]));
    let root = ok(addr, "eth_getBlockByNumber", json!(["latest", false]))["stateRoot"].clone();
    let id = ok(addr, "evm_snapshot", json!([]));
    let receipt = send_token(addr, token, bob, 40, 1);
    ok(addr, "anvil_setBalance", json!([bob, "0x64"]));
    ok(addr, "anvil_mine", json!(["0x3"]));
    assert_eq!(token_balance_at(addr, token, bob, json!("latest")), U256::from(40));

    assert_eq!(ok(addr, "evm_revert", json!([id])), true);
    assert_eq!(ok(addr, "eth_blockNumber", json!([])), head);
    assert_eq!(ok(addr, "eth_getBlockByNumber", json!(["latest", false]))["stateRoot"], root);
    assert_eq!(token_balance_at(addr, token, bob, json!("latest")), U256::ZERO);
    assert_eq!(ok(addr, "eth_getBalance", json!([bob, "latest"])), "0x0");
    assert!(ok(addr, "eth_getTransactionReceipt", json!([receipt["transactionHash"]])).is_null());
    assert_eq!(quantity(&ok(addr, "eth_getTransactionCount", json!([dev_key(0).address(), "latest"]))), dev0_nonce(1));
    assert_eq!(ok(addr, "evm_revert", json!([id])), false, "a snapshot is used once");
    assert_eq!(ok(addr, "evm_revert", json!(["0x63"])), false);
    // The chain goes on from there: the same nonce is free again.
    let again = send_token(addr, token, bob, 7, 1);
    assert_eq!(again["status"], "0x1");
    assert_eq!(token_balance_at(addr, token, bob, json!("latest")), U256::from(7));
    node.stop();
}

#[test]
fn automine_seals_a_block_per_arrival_and_nothing_while_idle() {
    let mut config = dev_config();
    config.chain.block_time_ms = 0;
    let node = start_node(&config);
    let addr = node.addr;
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ok(addr, "eth_blockNumber", json!([])), "0x0", "no empty blocks in automine");
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw_transfer(&dev_key(1), Address::repeat_byte(1), 1, 0)]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    assert_eq!(receipt["blockNumber"], "0x1");
    node.stop();
}

#[test]
fn dev_controls_are_refused_where_they_are_not_served() {
    let node = start_node(&test_config());
    let addr = node.addr;
    for (method, params) in [
        ("evm_mine", json!([])),
        ("anvil_setBalance", json!([Address::ZERO, "0x1"])),
        ("eth_sendTransaction", json!([{"from": dev_key(0).address()}])),
        ("evm_increaseTime", json!([1])),
    ] {
        let (code, message) = err(addr, method, params);
        assert_eq!(code, -32000, "{method}");
        assert!(message.contains("dev_methods"), "{method}: {message}");
    }
    assert_eq!(ok(addr, "eth_accounts", json!([])), json!([]));
    node.stop();
}
