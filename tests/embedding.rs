//! The embedding API as a game studio uses it: a node the host ticks, the typed handle (sync and
//! async), typed events, `sol!` bindings, bad input, and both examples run as programs.

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::sol;
use std::time::Duration;

use zgnode::NodeBuilder;
use zgnode::node::{HandleError, SubscriptionError, TxRequest};
use zgnode::{Node, NodeHandle, dev::dev_accounts};

sol! {
    contract Crafting {
        event Gathered(address indexed player, uint8 resource, uint32 wood, uint32 stone);
        event Crafted(address indexed player, uint32 tools, uint32 score, uint32 wood, uint32 stone);
        error NotEnough(uint8 resource, uint32 have, uint32 need);
        function gather(uint8 resource) external;
        function craftTool() external;
        function inventoryOf(address player) external view returns (uint32 wood, uint32 stone, uint32 tools, uint32 score);
    }
}

const BOB: Address = address!("0x000000000000000000000000000000000000b0b0");

fn alice() -> Address {
    dev_accounts()[0].address
}

/// A hand-ticked automine dev node and a host clock that starts at a fixed time.
fn automine() -> (Node, NodeHandle, u64) {
    let (node, handle) = NodeBuilder::dev().block_time(Duration::ZERO).build().expect("dev node builds");
    (node, handle, 1_900_000_000_000)
}

fn crafting_code() -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../assets/contracts/Crafting.json")).expect("artifact is JSON");
    artifact["bytecode"].as_str().expect("bytecode").parse().expect("hex")
}

fn deploy_crafting(node: &mut Node, chain: &NodeHandle, now: &mut u64) -> Address {
    let sent = chain.send(alice(), TxRequest::deploy(crafting_code())).expect("deploy sent");
    *now += 1;
    node.tick(*now).expect("tick");
    let receipt = chain.receipt(sent.hash()).unwrap().expect("mined in the tick");
    assert!(receipt.success);
    receipt.contract_address_opt().expect("a contract address")
}

#[test]
fn a_hand_ticked_node_mines_a_transfer_in_the_tick_and_announces_it_typed() {
    let (mut node, chain, mut now) = automine();
    assert_eq!(chain.chain_id(), 31337);
    let mut blocks = chain.blocks();
    let mut receipts = chain.receipts();
    let before = chain.balance(BOB).unwrap();
    let first_nonce = chain.nonce(alice()).unwrap();
    let sent = chain.send(alice(), TxRequest::transfer(BOB, U256::from(7))).unwrap();
    assert!(sent.try_result().is_none(), "no verdict before the node ticks");
    // Waiting on a node nobody ticks ends in a clear timeout, never a hang.
    assert!(matches!(sent.wait(Duration::from_millis(50)), Err(HandleError::Timeout(_))));
    now += 1;
    node.tick(now).unwrap();
    assert_eq!(sent.try_result().unwrap().unwrap(), sent.hash());
    let receipt = chain.receipt(sent.hash()).unwrap().expect("committed in that tick");
    assert!(receipt.success);
    assert_eq!(chain.balance(BOB).unwrap(), before + U256::from(7));
    assert_eq!(chain.nonce(alice()).unwrap(), first_nonce + 1);
    let block = blocks.try_next().expect("a block event").unwrap();
    assert_eq!((block.number, block.transactions.clone()), (1, vec![sent.hash()]));
    assert_eq!(chain.head().unwrap(), (1, block.hash));
    assert_eq!(receipts.try_next().unwrap().unwrap(), receipt);
    assert!(blocks.try_next().is_none());
    // Nothing waits: no tick, no block.
    now += 1;
    node.tick(now).unwrap();
    assert!(blocks.try_next().is_none(), "automine seals nothing without transactions");
}

#[test]
fn many_transactions_from_one_account_in_one_frame_take_consecutive_nonces() {
    let (mut node, chain, mut now) = automine();
    let first_nonce = chain.nonce(alice()).unwrap();
    let sent: Vec<_> = (0..20).map(|i| chain.send(alice(), TxRequest::transfer(BOB, U256::from(i + 1))).unwrap()).collect();
    now += 1;
    node.tick(now).unwrap();
    for tx in &sent {
        tx.try_result().unwrap().unwrap();
        assert!(chain.receipt(tx.hash()).unwrap().unwrap().success);
    }
    assert_eq!(chain.nonce(alice()).unwrap(), first_nonce + 20);
    // A hand-ticked node keeps the head's state only (its handle reads nothing older).
    chain.send(alice(), TxRequest::transfer(BOB, U256::from(1))).unwrap();
    now += 1;
    node.tick(now).unwrap();
    let snapshot = node.store().reader().snapshot().unwrap();
    assert_eq!(snapshot.head_number(), Some(2));
    assert!(snapshot.at_block(1).is_err(), "no history is kept");
    let snapshot = node.store().reader().snapshot().unwrap();
    assert!(snapshot.at_block(2).is_ok());
}

#[test]
fn contracts_work_through_sol_bindings_and_their_logs_decode() {
    let (mut node, chain, mut now) = automine();
    let contract = deploy_crafting(&mut node, &chain, &mut now);
    let mut gathered = chain.logs(zgnode::node::LogFilter::any().address(contract).event::<Crafting::Gathered>());
    for resource in [0u8, 0, 1] {
        chain.send_sol(alice(), contract, &Crafting::gatherCall { resource }).unwrap();
    }
    // Estimated alone on the committed head, the craft would revert (the gathers above are not
    // mined yet): a move that depends on moves in the same frame names its gas.
    chain.send(alice(), TxRequest::sol(contract, &Crafting::craftToolCall {}).with_gas(100_000)).unwrap();
    now += 1;
    node.tick(now).unwrap();
    let events: Vec<Crafting::Gathered> =
        gathered.drain().iter().map(|event| event.decode::<Crafting::Gathered>().unwrap()).collect();
    assert_eq!(events.iter().map(|e| (e.resource, e.wood, e.stone)).collect::<Vec<_>>(), [(0, 1, 0), (0, 2, 0), (1, 2, 1)]);
    assert!(events.iter().all(|e| e.player == alice()));
    let inventory = chain.call_sol(contract, &Crafting::inventoryOfCall { player: alice() }).unwrap();
    assert_eq!((inventory.wood, inventory.stone, inventory.tools, inventory.score), (0, 0, 1, 10));

    // A call that reverts says so, with the revert data to decode.
    let error = chain.call(alice(), contract, alloy_sol_types::SolCall::abi_encode(&Crafting::craftToolCall {})).unwrap_err();
    let HandleError::Reverted { data, .. } = error else { panic!("expected a revert, got {error}") };
    let not_enough = <Crafting::NotEnough as alloy_sol_types::SolError>::abi_decode(&data).unwrap();
    assert_eq!((not_enough.resource, not_enough.have, not_enough.need), (0, 0, 2));
    // Sending it anyway estimates first, and the estimate refuses it before it costs anything.
    let refused = chain.send_sol(alice(), contract, &Crafting::craftToolCall {});
    assert!(matches!(refused, Err(HandleError::Estimate(zg_systems::chain::simulate::SimulationError::Reverted(_)))), "{:?}", refused.err());
}

#[test]
fn bad_input_is_a_clear_error() {
    let (mut node, chain, mut now) = automine();
    // Not an unlocked account.
    let stranger = address!("0x00000000000000000000000000000000000000aa");
    assert!(matches!(chain.send(stranger, TxRequest::transfer(BOB, U256::from(1))), Err(HandleError::Locked(a)) if a == stranger));
    // Not a transaction.
    assert!(matches!(chain.submit_raw(&[0x02, 0xff, 0x00]), Err(HandleError::Refused(_))));
    assert!(matches!(chain.submit_raw(&[]), Err(HandleError::Refused(_))));
    // More value than the account holds: the pool refuses it at the tick, and the nonce it took
    // is free again for the next transaction.
    let too_much = chain.send(alice(), TxRequest::transfer(BOB, U256::MAX / U256::from(2))).unwrap();
    now += 1;
    node.tick(now).unwrap();
    assert!(matches!(too_much.try_result(), Some(Err(HandleError::Refused(_)))));
    let next = chain.send(alice(), TxRequest::transfer(BOB, U256::from(1))).unwrap();
    now += 1;
    node.tick(now).unwrap();
    next.try_result().unwrap().unwrap();
    assert!(chain.receipt(next.hash()).unwrap().unwrap().success, "took the nonce the refused one gave back");
    // A signed transaction for another chain.
    let other_chain = zgnode::signing::sign_eip1559(
        &alloy_signer_local::PrivateKeySigner::from_bytes(&dev_accounts()[1].private_key).unwrap(),
        1,
        alloy_primitives::TxKind::Call(BOB),
        U256::from(1),
        Bytes::new(),
        0,
        21_000,
    );
    let wrong = chain.submit_signed(other_chain);
    assert!(matches!(wrong, Err(HandleError::Refused(zg_components::chain::PoolError::WrongChainId { got: 1, .. }))));
    // A receipt nobody mined.
    assert_eq!(chain.receipt(B256::repeat_byte(7)).unwrap(), None);
    // A well-formed transaction whose signature recovers no one: taken at once (the sender is
    // recovered off the caller's thread), refused by a later tick with the reason.
    let tx = alloy_consensus::TxEip1559 { chain_id: chain.chain_id(), nonce: 0, gas_limit: 21_000, max_fee_per_gas: 10_000_000_000, to: alloy_primitives::TxKind::Call(BOB), ..Default::default() };
    let unsigned = alloy_consensus::SignableTransaction::into_signed(tx, alloy_primitives::Signature::new(U256::from(1), U256::ZERO, false));
    let forged = alloy_eips::eip2718::Encodable2718::encoded_2718(&alloy_consensus::TxEnvelope::from(unsigned));
    let submitted = chain.submit_raw(&forged).expect("decodes");
    let verdict = (0..200).find_map(|_| {
        now += 1;
        node.tick(now).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        submitted.try_result()
    });
    assert!(matches!(verdict, Some(Err(HandleError::Refused(zg_components::chain::PoolError::InvalidSignature(_))))), "{verdict:?}");
    assert_eq!(chain.receipt(submitted.hash()).unwrap(), None);
}

#[test]
fn raw_transactions_are_admitted_after_their_senders_are_recovered_off_the_callers_thread() {
    let (mut node, chain, mut now) = automine();
    let key = alloy_signer_local::PrivateKeySigner::from_bytes(&dev_accounts()[1].private_key).unwrap();
    // Ten transfers in nonce order, handed over at once: recovered in parallel, admitted in order.
    let submitted: Vec<_> = (0..10u64)
        .map(|nonce| {
            let tx = zgnode::signing::sign_eip1559(&key, chain.chain_id(), alloy_primitives::TxKind::Call(BOB), U256::from(1), Bytes::new(), nonce, 21_000);
            chain.submit_signed(tx).unwrap()
        })
        .collect();
    for _ in 0..400 {
        if submitted.iter().all(|s| chain.receipt(s.hash()).unwrap().is_some()) {
            break;
        }
        now += 1;
        node.tick(now).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    for s in &submitted {
        assert!(chain.receipt(s.hash()).unwrap().is_some_and(|r| r.success), "{} mined", s.hash());
        assert_eq!(s.try_result().unwrap().unwrap(), s.hash());
    }
}

#[test]
fn builder_refuses_roles_a_hand_ticked_node_cannot_have() {
    let rpc = NodeBuilder::dev().with_rpc("127.0.0.1:0".parse().unwrap()).build();
    assert!(matches!(rpc, Err(zgnode::node::NodeError::Config(ref m)) if m.contains("start()")), "{:?}", rpc.err());
    let validator = NodeBuilder::dev().with_validator("/nonexistent/key", Vec::new()).build();
    assert!(matches!(validator, Err(zgnode::node::NodeError::Config(ref m)) if m.contains("no consensus")), "{:?}", validator.err());
    let storage = NodeBuilder::dev().with_storage("127.0.0.1:0".parse().unwrap()).build();
    assert!(matches!(storage, Err(zgnode::node::NodeError::Config(ref m)) if m.contains("with_rpc")), "{:?}", storage.err());
}

#[test]
fn a_running_node_serves_the_handle_sync_and_async_and_json_rpc_when_asked() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let node = runtime
        .block_on(NodeBuilder::dev().block_time(Duration::from_millis(20)).with_rpc("127.0.0.1:0".parse().unwrap()).start())
        .expect("starts");
    let chain = node.handle();
    // Sync: from a thread that is not the node's.
    let sent = chain.send(alice(), TxRequest::transfer(BOB, U256::from(3))).unwrap();
    sent.wait(Duration::from_secs(10)).unwrap();
    let receipt = chain.wait_receipt(sent.hash(), Duration::from_secs(10)).unwrap();
    assert!(receipt.success);
    // Async.
    let receipt = runtime.block_on(async {
        let sent = chain.send(alice(), TxRequest::transfer(BOB, U256::from(4))).unwrap();
        sent.admitted().await.unwrap();
        chain.receipt_of(sent.hash()).await.unwrap()
    });
    assert!(receipt.success);
    let mut blocks = chain.blocks();
    // A receipt is known at sealing, a block published after persisting: a subscription taken
    // in between starts with the receipt's own block. Never an older one; newer ones follow.
    let block = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), blocks.next()).await }).unwrap().unwrap();
    assert!(block.number >= receipt.block_number);
    let next = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), blocks.next()).await }).unwrap().unwrap();
    assert!(next.number > receipt.block_number && next.number > block.number);
    // JSON-RPC sees the same chain.
    let addr = node.rpc_addr.expect("JSON-RPC on");
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x000000000000000000000000000000000000b0b0","latest"]}"#;
    let stream = std::net::TcpStream::connect(addr).unwrap();
    let answer = http_post(stream, addr, body);
    assert!(answer.contains("\"result\":\"0x7\""), "{answer}");
    runtime.block_on(node.stop()).unwrap();
    // Stopped: subscriptions end, submissions are refused.
    assert_eq!(blocks.next_timeout(Duration::from_secs(5)).unwrap_err(), SubscriptionError::Closed);
    assert!(chain.send(alice(), TxRequest::transfer(BOB, U256::from(1))).is_err());
}

#[test]
fn a_running_node_without_json_rpc_opens_no_port() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let node = runtime.block_on(NodeBuilder::dev().block_time(Duration::ZERO).start()).expect("starts");
    assert_eq!(node.rpc_addr, None);
    assert_eq!(node.rpc_url(), None);
    let chain = node.handle();
    let sent = chain.send(alice(), TxRequest::transfer(BOB, U256::from(1))).unwrap();
    assert!(chain.wait_receipt(sent.hash(), Duration::from_secs(10)).unwrap().success);
    runtime.block_on(node.stop()).unwrap();
}

fn http_post(mut stream: std::net::TcpStream, addr: std::net::SocketAddr, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Runs an example the way a user would: the binary `cargo test` built, else `cargo run`.
fn run_example(name: &str, args: &[&str]) -> String {
    let built = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|dir| dir.join("examples").join(name)))
        .filter(|path| path.exists());
    let output = match built {
        Some(path) => std::process::Command::new(path).args(args).output().unwrap(),
        None => std::process::Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--all-features", "--example", name, "--"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap(),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{name} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn the_minimal_embedding_example_runs() {
    let out = run_example("embed_minimal", &[]);
    assert!(out.contains("block 1 success true gas 21000; bob holds 1000000000000000000 wei"), "{out}");
}

#[test]
fn the_crafting_game_example_plays_on_chain_and_its_events_match_the_contract() {
    let out = run_example("crafting_game", &["300"]);
    assert!(out.contains("events and contract state agree"), "{out}");
    assert!(out.contains("0 refused"), "{out}");
}
