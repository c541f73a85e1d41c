//! The compute marketplace's contracts on a dev chain: 0G's official user SDK
//! (`@0gfoundation/0g-compute-ts-sdk` 0.9.0, tests/compute-sdk) drives them unchanged with its
//! chain-31337 default addresses, and a settlement planned and signed in Rust as the provider
//! does (`zg_systems::compute::settlement::PlannedSettlement`) is paid once and only once.

mod common;

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_sol_types::SolCall;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use zg_systems::compute::contracts::{
    ILedgerManager, IInferenceServing, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME, InferenceServiceParams, LEDGER_ADDRESS,
    TEESettlementData, settlement_status,
};
use zg_systems::compute::settlement::PlannedSettlement;

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn the_official_compute_sdk_funds_acknowledges_settles_and_refunds_unchanged() {
    let mut config = test_config();
    // The refund waits out the lock time with evm_increaseTime, as on `zgnode dev`.
    config.rpc.dev_methods = true;
    let node = start_node(&config);
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compute-sdk");
    ensure_npm_dir(&sdk, &["@0glabs/0g-serving-broker", "@0gfoundation/0g-compute-ts-sdk"]);
    let key = |i: usize| zgnode::dev::dev_accounts()[i].private_key.to_string();
    let output = Command::new("node")
        .arg(sdk.join("ledger_settlement.mjs"))
        .arg(format!("http://{}", node.addr))
        .args([key(7), key(3), key(4)])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stdout.contains("all compute checks passed"), "{stdout}\n{stderr}");
    // The SDK's own request token passes the provider's check, for that provider only.
    let header = stdout.lines().find_map(|line| line.strip_prefix("AUTHORIZATION ")).expect("the script prints the SDK's header");
    let token = zgnode::compute::token::parse(Some(header)).expect("the SDK's token parses and its signature checks out");
    assert_eq!(token.user, dev_key(3).address());
    assert_eq!(token.token_id, zgnode::compute::token::EPHEMERAL_TOKEN_ID);
    let provider = dev_key(4).address();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    token.check(provider, now_ms, &Default::default()).expect("good for the provider it names");
    assert!(token.check(dev_key(5).address(), now_ms, &Default::default()).is_err(), "and no other");
    node.stop();
}

fn settle_statuses(addr: std::net::SocketAddr, from: usize, settlements: Vec<TEESettlementData>) -> Vec<u8> {
    let call = IInferenceServing::settleFeesWithTEECall { settlements };
    let out = ok(
        addr,
        "eth_call",
        json!([{ "from": dev_key(from).address(), "to": INFERENCE_ADDRESS, "data": hex(&call.abi_encode()) }, "latest"]),
    );
    let bytes = alloy_primitives::hex::decode(out.as_str().unwrap()).unwrap();
    IInferenceServing::settleFeesWithTEECall::abi_decode_returns(&bytes).unwrap()
}

#[test]
fn a_settlement_signed_with_the_provider_digest_pays_once() {
    let node = start_node(&test_config());
    let addr = node.addr;
    // Dev account 7 owns the dev marketplace.
    let (owner, user, provider) = (7usize, 5usize, 6usize);
    let signer = alloy_signer_local::PrivateKeySigner::random();
    let ether = |n: u64| U256::from(n) * U256::from(10u64).pow(U256::from(18));
    let params = InferenceServiceParams {
        serviceType: "chatbot".into(),
        url: "http://127.0.0.1:1".into(),
        model: "m".into(),
        verifiability: String::new(),
        inputPrice: U256::from(1),
        outputPrice: U256::from(2),
        additionalInfo: String::new(),
        teeSignerAddress: signer.address(),
    };
    assert!(send_call(addr, provider, INFERENCE_ADDRESS, &IInferenceServing::addOrUpdateServiceCall { params }, ether(100), 0));
    let provider_address = dev_key(provider).address();
    assert!(send_call(addr, owner, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerByOwnerCall { provider: provider_address }, U256::ZERO, 0));
    assert!(send_call(addr, user, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, ether(5), 0));
    let transfer = ILedgerManager::transferFundCall { provider: provider_address, serviceName: INFERENCE_SERVICE_NAME.into(), amount: ether(2) };
    assert!(send_call(addr, user, LEDGER_ADDRESS, &transfer, U256::ZERO, 1));
    let user_address = dev_key(user).address();
    let settlement = |nonce: u64, fee: U256, key: &alloy_signer_local::PrivateKeySigner| {
        let plan = PlannedSettlement { user: user_address, nonce: U256::from(nonce), total_fee: fee, requests_hash: B256::repeat_byte(7), seqs: vec![] };
        let signature = key.sign_message_sync(plan.digest(provider_address).as_slice()).unwrap();
        plan.to_call_data(provider_address, Bytes::from(signature.as_bytes().to_vec()))
    };
    let fee = ether(1);
    // The user has not acknowledged the provider yet: nothing is paid.
    assert_eq!(settle_statuses(addr, provider, vec![settlement(1, fee, &signer)]), vec![settlement_status::NOT_ACKNOWLEDGED]);
    let acknowledge = IInferenceServing::acknowledgeTEESignerCall { provider: provider_address, acknowledged: true };
    assert!(send_call(addr, user, INFERENCE_ADDRESS, &acknowledge, U256::ZERO, 2));
    // Submitted by someone else than the provider: refused.
    assert_eq!(settle_statuses(addr, user, vec![settlement(1, fee, &signer)]), vec![settlement_status::PROVIDER_MISMATCH]);
    let batch = vec![settlement(1, fee, &signer), settlement(1, fee, &signer), settlement(2, fee, &alloy_signer_local::PrivateKeySigner::random())];
    assert_eq!(
        settle_statuses(addr, provider, batch.clone()),
        vec![settlement_status::SUCCESS, settlement_status::INVALID_NONCE, settlement_status::INVALID_SIGNATURE],
        "in one batch, the replay of a nonce just settled is refused too"
    );
    let call = IInferenceServing::settleFeesWithTEECall { settlements: batch };
    assert!(send_call(addr, provider, INFERENCE_ADDRESS, &call, U256::ZERO, 1));
    let ledger = ok(
        addr,
        "eth_call",
        json!([{ "to": LEDGER_ADDRESS, "data": hex(&ILedgerManager::getLedgerCall { user: user_address }.abi_encode()) }, "latest"]),
    );
    let bytes = alloy_primitives::hex::decode(ledger.as_str().unwrap()).unwrap();
    let ledger = ILedgerManager::getLedgerCall::abi_decode_returns(&bytes).unwrap();
    assert_eq!(ledger.totalBalance, ether(4), "exactly one fee left the ledger");
    assert_eq!(ledger.availableBalance, ether(3));
    node.stop();
}

fn ledger_of(addr: std::net::SocketAddr, user: Address) -> zg_systems::compute::contracts::LedgerInfo {
    let out = ok(addr, "eth_call", json!([{ "to": LEDGER_ADDRESS, "data": hex(&ILedgerManager::getLedgerCall { user }.abi_encode()) }, "latest"]));
    let bytes = alloy_primitives::hex::decode(out.as_str().unwrap()).unwrap();
    ILedgerManager::getLedgerCall::abi_decode_returns(&bytes).unwrap()
}

#[test]
fn fine_tuning_pays_in_full_once_acknowledged_and_thirty_percent_for_a_model_never_acknowledged() {
    use zg_systems::compute::contracts::{
        FINE_TUNING_ADDRESS, FINE_TUNING_SERVICE_NAME, FineTuningQuota, FineTuningVerifierInput, IFineTuningServing, fine_tuning_digest,
    };
    let mut config = test_config();
    config.rpc.dev_methods = true;
    let node = start_node(&config);
    let addr = node.addr;
    let (owner, user, provider) = (7usize, 3usize, 8usize);
    let signer = alloy_signer_local::PrivateKeySigner::random();
    let ether = |n: u64| U256::from(n) * U256::from(10u64).pow(U256::from(18));
    let provider_address = dev_key(provider).address();
    let user_address = dev_key(user).address();
    let quota = FineTuningQuota { cpuCount: U256::from(8), nodeMemory: U256::from(64), gpuCount: U256::from(1), nodeStorage: U256::from(500), gpuType: "H200".into() };
    let register = IFineTuningServing::addOrUpdateServiceCall {
        url: "http://127.0.0.1:1".into(),
        quota,
        pricePerToken: U256::from(1),
        occupied: false,
        models: vec!["tiny-llama".into()],
        teeSignerAddress: signer.address(),
    };
    assert!(send_call(addr, provider, FINE_TUNING_ADDRESS, &register, ether(100), 0));
    assert!(send_call(addr, owner, FINE_TUNING_ADDRESS, &IFineTuningServing::acknowledgeTEESignerByOwnerCall { provider: provider_address }, U256::ZERO, 0));
    assert!(send_call(addr, user, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, ether(10), 0));
    let transfer = ILedgerManager::transferFundCall { provider: provider_address, serviceName: FINE_TUNING_SERVICE_NAME.into(), amount: ether(5) };
    assert!(send_call(addr, user, LEDGER_ADDRESS, &transfer, U256::ZERO, 1));
    assert!(send_call(addr, user, FINE_TUNING_ADDRESS, &IFineTuningServing::acknowledgeTEESignerCall { provider: provider_address, acknowledged: true }, U256::ZERO, 2));

    let root = Bytes::from(vec![0xab; 32]);
    let input = |id: &str, secret: &[u8], nonce: u64, fee: U256, key: &alloy_signer_local::PrivateKeySigner| {
        let mut input = FineTuningVerifierInput {
            id: id.into(),
            encryptedSecret: Bytes::from(secret.to_vec()),
            modelRootHash: root.clone(),
            nonce: U256::from(nonce),
            signature: Bytes::new(),
            taskFee: fee,
            user: user_address,
        };
        let signature = key.sign_message_sync(fine_tuning_digest(&input, provider_address).as_slice()).unwrap();
        input.signature = Bytes::from(signature.as_bytes().to_vec());
        input
    };
    let add = |id: &str| IFineTuningServing::addDeliverableCall { user: user_address, id: id.into(), modelRootHash: root.clone() };
    let mut provider_nonce = 1;
    let mut provider_send = |call: &dyn Fn() -> Vec<u8>| {
        let tx = raw(&sign(&dev_key(provider), TxKind::Call(FINE_TUNING_ADDRESS), U256::ZERO, Bytes::from(call()), provider_nonce, 3_000_000));
        provider_nonce += 1;
        let hash = ok(addr, "eth_sendRawTransaction", json!([tx]));
        wait_receipt(addr, hash.as_str().unwrap(), TIMEOUT)["status"] == "0x1"
    };

    // Task 1: acknowledged by the user, settled in full with the model's key.
    assert!(provider_send(&|| add("task-1").abi_encode()));
    assert!(send_call(addr, user, FINE_TUNING_ADDRESS, &IFineTuningServing::acknowledgeDeliverableCall { provider: provider_address, id: "task-1".into() }, U256::ZERO, 3));
    assert!(!provider_send(&|| IFineTuningServing::settleFeesCall { verifierInput: input("task-1", b"", 1, ether(2), &signer) }.abi_encode()), "an acknowledged model must carry its key");
    assert!(!provider_send(&|| IFineTuningServing::settleFeesCall { verifierInput: input("task-1", b"key", 1, ether(2), &alloy_signer_local::PrivateKeySigner::random()) }.abi_encode()), "a forged signature is refused");
    assert!(provider_send(&|| IFineTuningServing::settleFeesCall { verifierInput: input("task-1", b"key", 1, ether(2), &signer) }.abi_encode()));
    assert_eq!(ledger_of(addr, user_address).totalBalance, ether(8), "the whole 2 0G fee");
    assert!(!provider_send(&|| IFineTuningServing::settleFeesCall { verifierInput: input("task-1", b"key", 2, ether(2), &signer) }.abi_encode()), "a task settles once");

    // Task 2: never acknowledged: not settleable before the lock time, then 30 % without a key.
    assert!(provider_send(&|| add("task-2").abi_encode()));
    let unacknowledged = || IFineTuningServing::settleFeesCall { verifierInput: input("task-2", b"", 3, ether(2), &signer) }.abi_encode();
    assert!(!provider_send(&unacknowledged), "the user may still acknowledge within the lock time");
    ok(addr, "evm_increaseTime", json!([61]));
    ok(addr, "evm_mine", json!([]));
    assert!(!provider_send(&|| IFineTuningServing::settleFeesCall { verifierInput: input("task-2", b"key", 3, ether(2), &signer) }.abi_encode()), "no key for a model the user did not accept");
    assert!(provider_send(&unacknowledged));
    let ledger = ledger_of(addr, user_address);
    assert_eq!(ledger.totalBalance, ether(8) - ether(2) * U256::from(30) / U256::from(100), "30 % of the fee");
    node.stop();
}

fn zgnode(args: &[&str], key: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zgnode"));
    command.args(args).env_remove("ZG_PRIVATE_KEY");
    if let Some(key) = key {
        command.env("ZG_PRIVATE_KEY", key);
    }
    let output = command.output().expect("runs");
    // Columns are padded for people; the checks read words.
    let squash = |bytes: &[u8]| String::from_utf8_lossy(bytes).split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    (output.status.success(), squash(&output.stdout), squash(&output.stderr))
}

#[test]
fn the_compute_cli_deposits_transfers_refunds_and_explains_refusals() {
    let node = start_node(&test_config());
    let rpc = format!("http://{}", node.addr);
    let (user, provider) = (1usize, 2usize);
    let key = zgnode::dev::dev_accounts()[user].private_key.to_string();
    let key = Some(key.as_str());
    let provider_address = dev_key(provider).address();
    let params = InferenceServiceParams {
        serviceType: "chatbot".into(),
        url: "http://127.0.0.1:1".into(),
        model: "tiny".into(),
        verifiability: String::new(),
        inputPrice: U256::from(3),
        outputPrice: U256::from(4),
        additionalInfo: String::new(),
        teeSignerAddress: Address::repeat_byte(9),
    };
    let ether = |n: u64| U256::from(n) * U256::from(10u64).pow(U256::from(18));
    assert!(send_call(node.addr, provider, INFERENCE_ADDRESS, &IInferenceServing::addOrUpdateServiceCall { params }, ether(100), 0));
    let run = |args: &[&str], key| {
        let mut all = vec!["compute"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--rpc", &rpc]);
        zgnode(&all, key)
    };

    let (ok_, out, _) = run(&["providers"], None);
    assert!(ok_ && out.contains(&provider_address.to_string()) && out.contains("model tiny") && out.contains("NOT acknowledged"), "{out}");
    let (ok_, out, _) = run(&["balance"], key);
    assert!(ok_ && out.contains("has no ledger"), "{out}");
    // Too little to open a ledger, not an amount, no key.
    let (ok_, _, err) = run(&["deposit", "1"], key);
    assert!(!ok_ && err.contains("at least 3 0G"), "{err}");
    for bad in ["abc", "-1", "0", "1.0000000000000000001", ""] {
        let (ok_, _, err) = run(&["deposit", bad], key);
        assert!(!ok_ && (err.contains("not an amount") || err.contains("more than 0") || err.contains("unexpected argument")), "{bad}: {err}");
    }
    let (ok_, _, err) = run(&["deposit", "5"], None);
    assert!(!ok_ && err.contains("--key"), "{err}");
    let (ok_, _, err) = run(&["deposit", "5"], Some("0x1234"));
    assert!(!ok_ && err.contains("not a private key"), "{err}");

    let (ok_, out, err) = run(&["deposit", "5"], key);
    assert!(ok_ && out.contains("available 5 0G"), "{out}{err}");
    let (ok_, _, err) = run(&["transfer", &Address::repeat_byte(0x33).to_string(), "1"], key);
    assert!(!ok_ && err.contains("offers no inference service"), "{err}");
    let (ok_, out, err) = run(&["transfer", &provider_address.to_string(), "2"], key);
    assert!(ok_ && out.contains("acknowledged provider") && out.contains("in sub-accounts 2 0G"), "{out}{err}");
    // The money with the provider is not available for a refund: the error says where it is.
    let (ok_, _, err) = run(&["refund", "4"], key);
    assert!(!ok_ && err.contains("available balance is 3 0G") && err.contains("retrieve"), "{err}");
    let (ok_, out, err) = run(&["refund", "1.5"], key);
    assert!(ok_ && out.contains("withdrew 1.5 0G") && out.contains("total 3.5 0G"), "{out}{err}");
    let (ok_, out, err) = run(&["retrieve"], key);
    assert!(ok_ && out.contains("of which 2 0G is being refunded"), "{out}{err}");
    node.stop();
}

#[test]
fn a_signed_response_verifies_the_way_the_sdk_checks_it() {
    use zgnode::compute::receipt::ResponseRecord;
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compute-sdk");
    ensure_npm_dir(&sdk, &["@0glabs/0g-serving-broker", "@0gfoundation/0g-compute-ts-sdk"]);
    let signer = alloy_signer_local::PrivateKeySigner::random();
    let record = ResponseRecord::for_bodies("chat-7", "tiny", dev_key(3).address(), b"request", b"response", (5, 9), U256::from(123));
    let signed = record.sign(&signer).unwrap();
    let body = serde_json::to_string(&signed).unwrap();
    let verify = |expected: Address| {
        Command::new("node").arg(sdk.join("verify_response.mjs")).arg(&body).arg(expected.to_string()).output().expect("node runs")
    };
    let output = verify(signer.address());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!verify(dev_key(1).address()).status.success(), "another signer is refused");
}
