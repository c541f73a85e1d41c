//! Ethereum JSON-RPC against a real node on 127.0.0.1: results, geth's error shapes, and
//! malformed or hostile input that must be refused without harming the node.

mod common;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_sol_types::sol;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

sol! {
    function transfer(address to, uint256 value) external returns (bool);
    function balanceOf(address owner) external view returns (uint256);
}

#[test]
fn chain_identity_and_blocks_answer_like_geth() {
    let node = start_node(&test_config());
    let addr = node.addr;
    assert_eq!(ok(addr, "eth_chainId", json!([])), "0x7a69");
    assert_eq!(ok(addr, "net_version", json!([])), "31337");
    assert!(ok(addr, "web3_clientVersion", json!([])).as_str().unwrap().starts_with("zgnode/v"));
    wait_for_block(addr, 2, WAIT);

    let genesis = ok(addr, "eth_getBlockByNumber", json!(["earliest", false]));
    assert_eq!(genesis["number"], "0x0");
    assert_eq!(genesis["parentHash"], format!("{:#x}", alloy_primitives::B256::ZERO));
    let by_hash = ok(addr, "eth_getBlockByHash", json!([genesis["hash"], false]));
    assert_eq!(by_hash, genesis);
    let one = ok(addr, "eth_getBlockByNumber", json!(["0x1", true]));
    assert_eq!(one["parentHash"], genesis["hash"]);
    assert!(ok(addr, "eth_getBlockByNumber", json!(["0xffffff", false])).is_null());
    assert!(ok(addr, "eth_getBlockByHash", json!([format!("{:#x}", alloy_primitives::B256::repeat_byte(9)), false])).is_null());

    // The dev accounts hold 10,000 0G each; total supply is 1e9 0G.
    let balance = ok(addr, "eth_getBalance", json!([dev_key(3).address(), "latest"]));
    assert_eq!(balance.as_str().unwrap().parse::<U256>().unwrap(), U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)));
    let price = quantity(&ok(addr, "eth_gasPrice", json!([])));
    assert!(price >= 1_000_000_000);
    let history = ok(addr, "eth_feeHistory", json!(["0x2", "latest", [50.0]]));
    assert_eq!(history["baseFeePerGas"].as_array().unwrap().len(), 3);
    node.stop();
}

#[test]
fn transactions_flow_from_send_to_receipt() {
    let node = start_node(&test_config());
    let addr = node.addr;
    let alice = dev_key(1);
    let bob = Address::repeat_byte(0xb0);
    let first = raw_transfer(&alice, bob, 1234, 0);
    let second = raw_transfer(&alice, bob, 1, 1);
    let hash = ok(addr, "eth_sendRawTransaction", json!([first]));
    ok(addr, "eth_sendRawTransaction", json!([second]));
    assert_eq!(hash.as_str().unwrap(), format!("{:#x}", tx_hash(&first)));
    assert_eq!(ok(addr, "eth_getTransactionCount", json!([alice.address(), "pending"])), "0x2");

    let receipt = wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["gasUsed"], "0x5208");
    assert_eq!(receipt["from"], format!("{:#x}", alice.address()));
    assert_eq!(receipt["to"], format!("{:#x}", bob));
    assert!(receipt["contractAddress"].is_null());
    let tx = ok(addr, "eth_getTransactionByHash", json!([hash]));
    assert_eq!(tx["blockHash"], receipt["blockHash"]);
    assert_eq!(tx["value"], "0x4d2");
    assert_eq!(tx["type"], "0x2");
    let block = ok(addr, "eth_getBlockByHash", json!([receipt["blockHash"], false]));
    assert!(block["transactions"].as_array().unwrap().contains(&hash));
    let receipts = ok(addr, "eth_getBlockReceipts", json!([receipt["blockNumber"]]));
    assert!(receipts.as_array().unwrap().iter().any(|r| r["transactionHash"] == hash));
    let second = wait_receipt(addr, &format!("{:#x}", tx_hash(&second)), WAIT);
    assert_eq!(second["status"], "0x1");
    assert_eq!(ok(addr, "eth_getBalance", json!([bob])), "0x4d3");
    assert_eq!(ok(addr, "eth_getTransactionCount", json!([alice.address(), "latest"])), "0x2");
    node.stop();
}

#[test]
fn pool_refusals_carry_geths_codes_and_messages() {
    let mut config = test_config();
    config.chain.seal_empty_blocks = false;
    config.chain.block_time_ms = 60_000;
    let node = start_node(&config);
    let addr = node.addr;
    let alice = dev_key(2);
    let tx = raw_transfer(&alice, Address::ZERO, 1, 0);
    ok(addr, "eth_sendRawTransaction", json!([tx]));
    assert_eq!(err(addr, "eth_sendRawTransaction", json!([tx])), (-32000, "already known".into()));
    let same_nonce = raw_transfer(&alice, Address::ZERO, 2, 0);
    assert_eq!(err(addr, "eth_sendRawTransaction", json!([same_nonce])), (-32000, "replacement transaction underpriced".into()));
    let broke = alloy_signer_local::PrivateKeySigner::random();
    let (code, message) = err(addr, "eth_sendRawTransaction", json!([raw_transfer(&broke, Address::ZERO, 1, 0)]));
    assert_eq!(code, -32000);
    assert!(message.starts_with("insufficient funds for gas * price + value"), "{message}");
    let (code, message) = err(addr, "eth_sendRawTransaction", json!(["0x02f8"]));
    assert_eq!(code, -32000);
    assert!(message.starts_with("rlp"), "{message}");
    let (code, _) = err(addr, "eth_sendRawTransaction", json!(["not hex"]));
    assert_eq!(code, -32602);
    let (code, message) = err(addr, "eth_sendRawTransaction", json!([format!("0x{}", "00".repeat(200_000))]));
    assert_eq!(code, -32000);
    assert!(message.starts_with("oversized data"), "{message}");
    node.stop();
}

#[test]
fn a_used_nonce_is_refused_as_too_low() {
    let node = start_node(&test_config());
    let addr = node.addr;
    let alice = dev_key(4);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw_transfer(&alice, Address::ZERO, 1, 0)]));
    wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    let (code, message) = err(addr, "eth_sendRawTransaction", json!([raw_transfer(&alice, Address::ZERO, 9, 0)]));
    assert_eq!((code, message.starts_with("nonce too low")), (-32000, true), "{message}");
    node.stop();
}

#[test]
fn calls_estimates_and_logs_against_an_erc20() {
    let node = start_node(&test_config());
    let addr = node.addr;
    let token = deploy_token(addr, 0);
    let deployer = dev_key(0).address();
    let stranger = dev_key(5).address();

    let data = Bytes::from(alloy_sol_types::SolCall::abi_encode(&balanceOfCall { owner: deployer }));
    let result = ok(addr, "eth_call", json!([{"to": token, "data": data}, "latest"]));
    assert_eq!(result.as_str().unwrap().parse::<U256>().unwrap(), U256::from(1_000_000u64));

    // A revert: code 3, the reason in the message, the revert data in `data`.
    let transfer = Bytes::from(alloy_sol_types::SolCall::abi_encode(&transferCall { to: deployer, value: U256::from(1) }));
    let response = rpc(addr, "eth_call", json!([{"from": stranger, "to": token, "data": transfer}]));
    assert_eq!(response["error"]["code"], 3);
    assert_eq!(response["error"]["message"], "execution reverted: ZgToken: balance too low");
    assert!(response["error"]["data"].as_str().unwrap().starts_with("0x08c379a0"));
    let response = rpc(addr, "eth_estimateGas", json!([{"from": stranger, "to": token, "data": transfer}]));
    assert_eq!(response["error"]["code"], 3);

    // A plain transfer is estimated at exactly 21,000, like geth.
    let transfer_estimate = ok(addr, "eth_estimateGas", json!([{"from": deployer, "to": stranger, "value": "0x1"}]));
    assert_eq!(transfer_estimate, "0x5208");
    // An estimate is enough gas for the real transaction.
    let send = Bytes::from(alloy_sol_types::SolCall::abi_encode(&transferCall { to: stranger, value: U256::from(10) }));
    let estimate = quantity(&ok(addr, "eth_estimateGas", json!([{"from": deployer, "to": token, "data": send}])));
    assert!((30_000..80_000).contains(&estimate), "estimate {estimate}");
    let tx = sign(&dev_key(0), TxKind::Call(token), U256::ZERO, send, dev0_nonce(1), estimate);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw(&tx)]));
    let receipt = wait_receipt(addr, hash.as_str().unwrap(), WAIT);
    assert_eq!(receipt["status"], "0x1");
    assert!(quantity(&receipt["gasUsed"]) <= estimate);
    assert_eq!(receipt["logs"].as_array().unwrap().len(), 1);

    let transfer_topic = alloy_primitives::keccak256("Transfer(address,address,uint256)");
    let logs = ok(addr, "eth_getLogs", json!([{"fromBlock": "0x0", "address": token, "topics": [transfer_topic]}]));
    assert_eq!(logs.as_array().unwrap().len(), 2, "mint and transfer: {logs}");
    let to_stranger = ok(addr, "eth_getLogs", json!([{"fromBlock": "earliest", "toBlock": "latest", "topics": [null, null, U256::from_be_slice(stranger.as_slice()).to_be_bytes::<32>()]}]));
    assert_eq!(to_stranger.as_array().unwrap().len(), 1);
    assert_eq!(to_stranger[0]["transactionHash"], hash);
    let by_hash = ok(addr, "eth_getLogs", json!([{"blockHash": receipt["blockHash"]}]));
    assert_eq!(by_hash.as_array().unwrap().len(), 1);
    let none = ok(addr, "eth_getLogs", json!([{"fromBlock": "0x0", "address": Address::repeat_byte(1)}]));
    assert!(none.as_array().unwrap().is_empty());
    let code = ok(addr, "eth_getCode", json!([token, "latest"]));
    assert!(code.as_str().unwrap().len() > 100);
    let slot = ok(addr, "eth_getStorageAt", json!([token, "0x2", "latest"]));
    assert_eq!(slot.as_str().unwrap().parse::<U256>().unwrap(), U256::from(1_000_000u64), "totalSupply sits in slot 2");
    node.stop();
}

#[test]
fn malformed_and_hostile_requests_are_refused_and_the_node_goes_on() {
    let mut config = test_config();
    config.rpc.get_logs_max_blocks = 10;
    config.rpc.max_batch = 50;
    config.rpc.max_request_bytes = 1024 * 1024;
    let node = start_node(&config);
    let addr = node.addr;
    wait_for_block(addr, 1, WAIT);

    let (_, body) = http_post(addr, b"{not json");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], -32700);
    let (_, body) = http_post(addr, b"");
    assert!(body.contains("-32700") || body.contains("-32600"), "{body}");
    assert_eq!(err(addr, "eth_doesNotExist", json!([])).0, -32601);
    assert_eq!(err(addr, "eth_getBalance", json!([])).0, -32602);
    assert_eq!(err(addr, "eth_getBalance", json!(["0x1234"])).0, -32602);
    assert_eq!(err(addr, "eth_getBalance", json!([Address::ZERO, "yesterday"])).0, -32602);
    assert_eq!(err(addr, "eth_getBalance", json!([Address::ZERO, "latest", "extra"])).0, -32602);
    assert_eq!(err(addr, "eth_getBlockByNumber", json!(["0x1", "yes"])).0, -32602);
    assert_eq!(err(addr, "eth_getBlockByNumber", json!(["0x10000000000000000", false])).0, -32602);
    assert_eq!(err(addr, "eth_call", json!([{"to": Address::ZERO, "bogus": 1}])).0, -32602);
    assert_eq!(err(addr, "eth_call", json!([{"to": Address::ZERO, "data": "0x01", "input": "0x02"}])).0, -32602);
    assert_eq!(err(addr, "eth_call", json!([{"to": Address::ZERO}, "latest", {}, 4])).0, -32602);
    assert_eq!(err(addr, "eth_call", json!([{"to": Address::ZERO}, "latest", {"0x01": {}}])).0, -32602);
    let both = json!({format!("{:#x}", Address::ZERO): {"state": {}, "stateDiff": {}}});
    assert_eq!(err(addr, "eth_call", json!([{"to": Address::ZERO}, "latest", both])).0, -32602);
    assert_eq!(err(addr, "eth_call", json!([{"to": Address::ZERO, "gas": "0xffffffffffff"}])).0, -32602);
    assert_eq!(err(addr, "eth_feeHistory", json!(["0x2", "latest", [90.0, 10.0]])).0, -32602);
    let (code, _) = err(addr, "eth_subscribe", json!(["newHeads"]));
    assert!(code < 0, "subscriptions need WebSocket");
    // Older state is kept (tests/ethereum_parity.rs covers the window); genesis is in it here.
    assert_eq!(ok(addr, "eth_getBalance", json!([Address::ZERO, "0x0"])), "0x0");
    assert_eq!(err(addr, "eth_getBalance", json!([Address::ZERO, "0xfffffff"])), (-32000, "header not found".into()));
    // eth_getLogs ranges are capped and ordered.
    assert_eq!(err(addr, "eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "0x100"}])).0, -32005);
    assert_eq!(err(addr, "eth_getLogs", json!([{"fromBlock": "0x1", "toBlock": "0x0"}])).0, -32602);
    assert_eq!(err(addr, "eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "0xffffffffffffffff"}])).0, -32005);
    assert_eq!(err(addr, "eth_getLogs", json!([{"topics": "nope"}])).0, -32602);
    let many_addresses: Vec<Address> = (0..1_001u32).map(|i| Address::left_padding_from(&i.to_be_bytes())).collect();
    assert_eq!(err(addr, "eth_getLogs", json!([{"address": many_addresses}])).0, -32602);
    let five_positions = vec![Value::Null; 5];
    assert_eq!(err(addr, "eth_getLogs", json!([{"topics": five_positions}])).0, -32602);
    // Batches: answered in full, capped in size.
    let batch: Vec<Value> = (0..3).map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []})).collect();
    let (_, body) = http_post(addr, serde_json::to_vec(&batch).unwrap().as_slice());
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().len(), 3);
    // Calls of a batch run side by side; answers keep the batch's order, notifications get none,
    // and a bad entry gets its own error.
    let alice = dev_key(4);
    let mut mixed: Vec<Value> = (0..20u64)
        .map(|n| json!({"jsonrpc": "2.0", "id": n, "method": "eth_sendRawTransaction", "params": [raw_transfer(&alice, Address::repeat_byte(7), 1, n)]}))
        .collect();
    mixed.push(json!({"jsonrpc": "2.0", "id": 20, "method": "eth_sendRawTransaction", "params": ["0xdead"]}));
    mixed.push(json!({"jsonrpc": "2.0", "method": "eth_chainId", "params": []}));
    mixed.push(json!({"jsonrpc": "2.0", "id": 21, "method": "eth_chainId", "params": []}));
    let (_, body) = http_post(addr, serde_json::to_vec(&mixed).unwrap().as_slice());
    let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(answers.len(), 22, "{body}");
    for (n, answer) in answers.iter().take(20).enumerate() {
        assert_eq!(answer["id"], n, "in order");
        let raw = mixed[n]["params"][0].as_str().unwrap();
        assert_eq!(answer["result"], format!("{:#x}", tx_hash(raw)), "{answer}");
    }
    assert_eq!(answers[20]["error"]["code"], -32000, "{}", answers[20]);
    assert_eq!(answers[21]["result"], "0x7a69");
    let huge: Vec<Value> = (0..51).map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []})).collect();
    let (_, body) = http_post(addr, serde_json::to_vec(&huge).unwrap().as_slice());
    assert!(body.contains("-32010") || body.contains("error"), "oversized batch: {body}");
    let (_, body) = http_post(addr, b"[]");
    assert!(body.contains("error"), "empty batch: {body}");
    // Oversized bodies and deep nesting.
    let (status, _) = http_post(addr, &vec![b' '; 2 * 1024 * 1024]);
    assert_eq!(status, 413);
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _) = http_post(addr, nested.as_bytes());
    assert!(status == 200 || status == 400, "deep nesting answered {status}");
    // Still alive and producing.
    let before = quantity(&ok(addr, "eth_blockNumber", json!([])));
    wait_for_block(addr, before + 1, WAIT);
    node.stop();
}

#[test]
fn websocket_subscriptions_deliver_heads_and_logs() {
    use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
    use jsonrpsee::rpc_params;
    let node = start_node(&test_config());
    let addr = node.addr;
    let token = deploy_token(addr, 0);
    node.runtime.block_on(async {
        let client = jsonrpsee::ws_client::WsClientBuilder::default().build(format!("ws://{addr}")).await.unwrap();
        let mut heads: Subscription<Value> =
            client.subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe").await.unwrap();
        let first = tokio::time::timeout(WAIT, heads.next()).await.unwrap().unwrap().unwrap();
        let second = tokio::time::timeout(WAIT, heads.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(quantity(&second["number"]), quantity(&first["number"]) + 1);
        assert_eq!(second["parentHash"], first["hash"]);

        let mut logs: Subscription<Value> = client
            .subscribe("eth_subscribe", rpc_params!["logs", json!({"address": token})], "eth_unsubscribe")
            .await
            .unwrap();
        let send = Bytes::from(alloy_sol_types::SolCall::abi_encode(&transferCall { to: Address::repeat_byte(3), value: U256::from(5) }));
        let tx = sign(&dev_key(0), TxKind::Call(token), U256::ZERO, send, dev0_nonce(1), 100_000);
        let raw = raw(&tx);
        let hash = tokio::task::spawn_blocking(move || ok(addr, "eth_sendRawTransaction", json!([raw]))).await.unwrap();
        let log = tokio::time::timeout(WAIT, logs.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(log["transactionHash"], hash);
        assert_eq!(log["address"], format!("{token:#x}"));

        let bad: Result<Subscription<Value>, _> = client.subscribe("eth_subscribe", rpc_params!["pendingFoo"], "eth_unsubscribe").await;
        assert!(bad.is_err());
    });
    node.stop();
}
