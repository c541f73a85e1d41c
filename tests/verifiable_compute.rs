//! Verifiable compute end to end on `zgnode dev`: `zgnode compute serve` with a `[verifiable]`
//! model registers it in the ModelRegistry and stakes in VerifiedInference; a user's signed
//! requests come back with halo2 proofs that the chain's precompile accepts (through
//! `ModelRegistry.verifyInference`); hostile requests are refused with their reasons; the
//! provider's settlement is paid exactly the fees of the proved results; a registered model
//! cannot be overwritten; and a provider serving a wrong (signed) result is caught by an
//! alignment node's audit request and slashed on its evidence through the alignment manager,
//! while its own settlement of that result is refused.

mod common;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use alloy_signer::SignerSync;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use zg_components::verifiable::ModelFile;
use zg_systems::verifiable::contracts::{
    IModelRegistry, IVerifiedInference, MODEL_REGISTRY_ADDRESS, VERIFIED_INFERENCE_ADDRESS, VerifiedRequest, commitment_word, model_id, request_hash,
};
use zg_systems::verifiable::inference::infer;
use zgnode::compute::client::MarketClient;
use zgnode::compute::verifiable::client;

const SMALL_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/models/digits/digits-small.json");

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

struct Provider {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(rpc: SocketAddr, account: usize, dir: &Path, misbehave: bool) -> Provider {
    let text = format!(
        "eth_rpc = \"http://{rpc}\"\nkey = \"{}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nsettle_interval_secs = 1\n\
         [backend]\nkind = \"builtin\"\nmodel = \"zg-tiny-llama\"\n\
         [verifiable]\nmodel_file = \"{SMALL_MODEL}\"\nprice = 1000000000000000\nmisbehave = {misbehave}\n",
        zgnode::dev::dev_accounts()[account].private_key,
        dir.display()
    );
    let config = dir.with_extension("toml");
    std::fs::write(&config, text).unwrap();
    let (child, addr) = spawn_compute_serve(&config);
    let provider = Provider { child, addr };
    let deadline = Instant::now() + Duration::from_secs(300);
    while !http(addr, "GET", "/v1/proxy/verifiable", "").1.contains("\"ready\":true") {
        assert!(Instant::now() < deadline, "the proving keys were never made");
        std::thread::sleep(Duration::from_millis(250));
    }
    provider
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let _ = stream.write_all(request.as_bytes());
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body.to_string())
}

fn view<C: alloy_sol_types::SolCall>(rpc: SocketAddr, to: Address, call: &C) -> C::Return {
    let out = ok(rpc, "eth_call", serde_json::json!([{"to": to, "data": Bytes::from(call.abi_encode())}, "latest"]));
    C::abi_decode_returns(&serde_json::from_value::<Bytes>(out).unwrap()).unwrap()
}

fn eth_balance(rpc: SocketAddr, who: Address) -> U256 {
    serde_json::from_value(ok(rpc, "eth_getBalance", serde_json::json!([who, "latest"]))).unwrap()
}

/// A request body as the client builds it, with parts overridable for the hostile cases.
fn signed_body(chain_id: u64, user: usize, provider: Address, input: &[i64], nonce: u64, fee: U256, commitment: B256) -> serde_json::Value {
    let key = dev_key(user);
    let request = VerifiedRequest { user: key.address(), provider, modelId: model_id("digits-small"), nonce: U256::from(nonce), inputCommitment: commitment, fee };
    let signature = key.sign_message_sync(request_hash(VERIFIED_INFERENCE_ADDRESS, chain_id, &request).as_slice()).unwrap();
    serde_json::json!({"input": input, "request": {"user": request.user, "nonce": nonce.to_string(), "inputCommitment": commitment, "fee": fee.to_string(), "signature": Bytes::from(signature.as_bytes().to_vec())}})
}

#[test]
fn proved_results_are_paid_forged_ones_slashed_and_hostile_requests_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = dev_args(&dir.path().join("node"));
    // 5 s alignment epochs (20 blocks): the auditor's request is proved well inside one.
    let at = args.iter().position(|a| a == "--block-time-ms").unwrap();
    args[at + 1] = "250".into();
    let node = NodeProcess::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let rpc = node.addr;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let market = MarketClient::new(&format!("http://{rpc}")).unwrap();
    let file: ModelFile = serde_json::from_str(&std::fs::read_to_string(SMALL_MODEL).unwrap()).unwrap();
    let price = U256::from(1_000_000_000_000_000u64);

    // An honest provider (dev account 6): registers the model and stakes.
    let honest = serve(rpc, 6, &dir.path().join("honest"), false);
    let provider = dev_key(6).address();
    let registered = view(rpc, MODEL_REGISTRY_ADDRESS, &IModelRegistry::getModelCall { modelId: model_id("digits-small") });
    assert_eq!(registered.owner, provider);
    assert_eq!(registered.k, 11);
    assert!(registered.activeAt >= registered.registeredAt + 5, "usable only after the activation delay");
    let staked = view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::providersCall { provider });
    assert_eq!((staked.stake, staked.price, staked.slashed), (ether(10), price, false));
    // A registered model id is never overwritten.
    let bytes = zg_components::verifiable::wire::encode_model(&file.model).unwrap();
    let overwrite = IModelRegistry::registerCall { modelId: model_id("digits-small"), model: bytes.clone().into(), vkHash: B256::repeat_byte(1) };
    let refused = runtime.block_on(market.preview(dev_key(3).address(), MODEL_REGISTRY_ADDRESS, &overwrite)).err().expect("an overwrite is refused");
    assert!(format!("{refused:#}").contains("already registered"), "{refused:#}");

    // The user deposits and asks twice; each answer is signed and its proof verifies on chain.
    let user = dev_key(1);
    runtime.block_on(client::deposit(&market, &user, ether(1))).unwrap();
    let url = format!("http://{}", honest.addr);
    let mut answers = Vec::new();
    for (nonce, input) in file.test.inputs.iter().take(2).enumerate() {
        let answer = runtime.block_on(client::ask(&market, &user, &url, input, U256::from(nonce + 1), None)).unwrap();
        let expected = infer(&file.model, input).unwrap();
        assert_eq!(answer.logits, expected.logits.iter().map(|l| i64::from(*l)).collect::<Vec<_>>());
        assert_eq!(answer.class, file.test.predictions[nonce]);
        assert!(answer.signed_by_provider && answer.verified_on_chain, "{answer:?}");
        answers.push(answer);
    }
    // Attack: an uninvolved account reports the honest, verifying result with too little gas
    // for the verification to complete. Only a completed "no" may slash: every attempt
    // reverts and the honest stake stays whole.
    let reporter = dev_key(2);
    let to_i256 = |values: &[i64]| values.iter().map(|v| alloy_primitives::I256::try_from(*v).unwrap()).collect::<Vec<_>>();
    let report = IVerifiedInference::reportWrongResultCall {
        request: answers[0].request.clone(),
        evidence: zg_systems::verifiable::contracts::WrongResultEvidence {
            logits: to_i256(&answers[0].logits),
            proof: answers[0].proof.clone(),
            providerSignature: answers[0].provider_signature.clone(),
            honestLogits: vec![],
            honestProof: Bytes::new(),
        },
    };
    // The root: with too little gas for the precompile, the registry must not answer "no".
    let public: Vec<B256> = client::public_words(answers[0].request.inputCommitment, &answers[0].logits);
    let verify = IModelRegistry::verifyInferenceCall { modelId: answers[0].request.modelId, publicInputs: public, proof: answers[0].proof.clone() };
    let short = serde_json::json!([{"to": MODEL_REGISTRY_ADDRESS, "data": Bytes::from(verify.abi_encode()), "gas": "0x124f80"}, "latest"]);
    let (code, message) = err(rpc, "eth_call", short);
    assert!(code == 3 || message.contains("did not complete"), "a verification short of gas must revert, not answer no: {code} {message}");
    let enough = serde_json::json!([{"to": MODEL_REGISTRY_ADDRESS, "data": Bytes::from(verify.abi_encode()), "gas": "0x1c9c380"}, "latest"]);
    assert_eq!(ok(rpc, "eth_call", enough), serde_json::json!(format!("0x{}1", "0".repeat(63))), "with the gas it needs: yes");
    for gas in [700_000u64, 1_200_000, 1_600_000, 2_000_000, 3_300_000] {
        let nonce = quantity(&ok(rpc, "eth_getTransactionCount", serde_json::json!([reporter.address(), "pending"])));
        let tx = raw(&sign(&reporter, alloy_primitives::TxKind::Call(VERIFIED_INFERENCE_ADDRESS), U256::ZERO, report.abi_encode().into(), nonce, gas));
        let hash = ok(rpc, "eth_sendRawTransaction", serde_json::json!([tx]));
        let receipt = wait_receipt(rpc, hash.as_str().unwrap(), Duration::from_secs(30));
        assert_eq!(receipt["status"], "0x0", "a report with {gas} gas must revert");
        let stake = view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::providersCall { provider });
        assert!(!stake.slashed && stake.stake == ether(10), "an honest provider slashed by a report with {gas} gas");
    }
    // Attack: the user takes the deposit back before the provider settles. A withdrawal must
    // be requested and waits WITHDRAW_DELAY, far past the provider's settle interval.
    let user_nonce = |rpc| quantity(&ok(rpc, "eth_getTransactionCount", serde_json::json!([user.address(), "pending"])));
    let withdraw_now = IVerifiedInference::withdrawCall { amount: price };
    assert!(!send_call(rpc, 1, VERIFIED_INFERENCE_ADDRESS, &withdraw_now, U256::ZERO, user_nonce(rpc)), "a withdrawal without a request");
    let request = IVerifiedInference::requestWithdrawalCall { amount: price };
    assert!(send_call(rpc, 1, VERIFIED_INFERENCE_ADDRESS, &request, U256::ZERO, user_nonce(rpc)));
    assert!(!send_call(rpc, 1, VERIFIED_INFERENCE_ADDRESS, &withdraw_now, U256::ZERO, user_nonce(rpc)), "a withdrawal before its delay");

    // A changed logit or a flipped proof byte is refused by the chain.
    let first = &answers[0];
    let mut wrong_logits = first.logits.clone();
    wrong_logits[0] += 1;
    assert!(!runtime.block_on(client::verify_on_chain(&market, first.request.modelId, first.request.inputCommitment, &wrong_logits, &first.proof)).unwrap());
    let mut flipped = first.proof.to_vec();
    flipped[100] ^= 1;
    assert!(!runtime.block_on(client::verify_on_chain(&market, first.request.modelId, first.request.inputCommitment, &first.logits, &flipped.into())).unwrap());
    let other_commitment = answers[1].request.inputCommitment;
    assert!(!runtime.block_on(client::verify_on_chain(&market, first.request.modelId, other_commitment, &first.logits, &first.proof)).unwrap());
    // The precompile itself answers only the registry: the same true proof sent straight to it
    // by anyone else gets a zero word (its price does not cover deriving a stranger's key).
    let public: Vec<[u8; 32]> = client::public_words(first.request.inputCommitment, &first.logits).iter().map(|w| w.0).collect();
    let direct = zg_systems::verifiable::precompile::verify_call(registered.vkHash.as_slice(), &bytes, &public, &first.proof);
    let answer = ok(rpc, "eth_call", serde_json::json!([{"to": zg_systems::verifiable::precompile::INFERENCE_VERIFIER_ADDRESS, "data": Bytes::from(direct), "gas": "0x1c9c380"}, "latest"]));
    assert_eq!(answer, serde_json::json!(format!("0x{}", "00".repeat(32))), "a caller other than the registry");

    // Hostile requests: each refused with its status, none stored or paid.
    let input: Vec<i64> = file.test.inputs[2].iter().map(|v| i64::from(*v)).collect();
    let commitment = commitment_word(&zg_systems::verifiable::circuit::input_commitment(&file.test.inputs[2]).unwrap());
    let path = "/v1/proxy/verifiable/digits-small";
    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (signed_body(31337, 1, provider, &input, 2, price, commitment), 409, "a nonce already used"),
        (signed_body(31337, 1, provider, &input, 9, price - U256::from(1), commitment), 402, "a fee below the price"),
        (signed_body(31337, 1, provider, &input, 9, ether(2), commitment), 402, "a fee over the deposit"),
        (signed_body(31337, 1, provider, &input, 9, price, other_commitment), 400, "another input's commitment"),
        (signed_body(31337, 1, provider, &input[..63], 9, price, commitment), 400, "63 inputs"),
        (signed_body(31337, 1, provider, &[vec![200], input[1..].to_vec()].concat(), 9, price, commitment), 400, "an input past int8"),
        (signed_body(1, 1, provider, &input, 9, price, commitment), 401, "signed for another chain"),
        (signed_body(31337, 4, provider, &input, 9, price, commitment), 402, "a user without a deposit"),
    ];
    for (body, status, what) in cases {
        let (got, text) = http(honest.addr, "POST", path, &body.to_string());
        assert_eq!(got, status, "{what}: {text}");
        assert!(text.contains("\"error\""), "{what}: {text}");
    }
    let mut forged = signed_body(31337, 1, provider, &input, 9, price, commitment);
    forged["request"]["user"] = serde_json::json!(dev_key(2).address());
    assert_eq!(http(honest.addr, "POST", path, &forged.to_string()).0, 401, "someone else's signature");
    assert_eq!(http(honest.addr, "POST", path, "{not json").0, 400);
    assert_eq!(http(honest.addr, "POST", path, "{\"input\": [1]}").0, 400);
    assert_eq!(http(honest.addr, "POST", "/v1/proxy/verifiable/other-model", &signed_body(31337, 1, provider, &input, 9, price, commitment).to_string()).0, 404);

    // Settlement pays exactly the two proved results, once.
    let deadline = Instant::now() + Duration::from_secs(120);
    while view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::lastNonceCall { user: user.address(), provider }) != U256::from(2) {
        assert!(Instant::now() < deadline, "the provider never settled");
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::balanceOfCall { user: user.address() }), ether(1) - price * U256::from(2));

    // A provider serving wrong logits (dev account 5, fault drill) is slashed on the evidence.
    let cheat = serve(rpc, 5, &dir.path().join("cheat"), true);
    let cheater = dev_key(5).address();
    let cheat_url = format!("http://{}", cheat.addr);
    let wrong = runtime.block_on(client::ask(&market, &user, &cheat_url, &file.test.inputs[3], U256::from(1), None)).unwrap();
    assert!(wrong.signed_by_provider && !wrong.verified_on_chain, "a signed result whose proof fails");
    // An honest result is no evidence.
    let no_case = runtime.block_on(client::report_wrong(&market, &dev_key(2), &answers[0], None)).unwrap_err();
    assert!(format!("{no_case:#}").contains("not shown wrong"), "{no_case:#}");
    // An alignment node (dev account 3, licence 4) asks both providers for a result each
    // epoch; the cheat's signed wrong result goes to the market through the manager.
    let operator = dev_key(3);
    let registered_at = quantity(&ok(rpc, "eth_blockNumber", serde_json::json!([])));
    let before = eth_balance(rpc, operator.address());
    let quota = zg_components::alignment::AuditQuota { storage_segments: 0, da_blobs: 0, verified_requests: 2, chat_records: 0 };
    let settings = test_auditor(format!("http://{rpc}"), None, 3, 200, quota);
    let auditor_runtime = tokio::runtime::Runtime::new().unwrap();
    let auditor = zgnode::alignment::auditor::start(settings, auditor_runtime.handle().clone()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while !view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::providersCall { provider: cheater }).slashed {
        assert!(Instant::now() < deadline, "the auditor never had the cheat slashed: {:?}", auditor.stats());
        std::thread::sleep(Duration::from_millis(250));
    }
    let stats = auditor.stats();
    auditor.stop();
    let slashed = view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::providersCall { provider: cheater });
    assert!(slashed.slashed && slashed.stake.is_zero(), "the stake is gone");
    assert_eq!((stats.accusations, stats.upheld), (1, 1), "one accusation, upheld, and none against the honest provider: {stats:?}");
    // Within two epochs of the cheat's registration (an epoch is a reward day on a network).
    let slashed_at = quantity(&ok(rpc, "eth_blockNumber", serde_json::json!([])));
    let epoch_blocks = zgnode::alignment::dev_params().epoch_blocks;
    assert!(slashed_at / epoch_blocks <= registered_at / epoch_blocks + 2, "registered by block {registered_at}, slashed by {slashed_at}");
    let after = eth_balance(rpc, operator.address());
    // Half the stake (5 0G) came in; the 10 0G bond, the 0.1 0G request deposit and gas went out.
    assert!(after + ether(10) > before + ether(5) - ether(1) / U256::from(4), "the operator gets half the stake: {before} -> {after}");
    let reporter = dev_key(2);
    let again = runtime.block_on(client::report_wrong(&market, &reporter, &wrong, None)).unwrap_err();
    assert!(format!("{again:#}").contains("nothing staked") || format!("{again:#}").contains("already reported"), "{again:#}");
    // The cheat's own settlement of that result is refused: the user is not charged for it.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::lastNonceCall { user: user.address(), provider: cheater }), U256::ZERO);
    assert_eq!(view(rpc, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::balanceOfCall { user: user.address() }), ether(1) - price * U256::from(2));
    drop((honest, cheat));
    node.kill();
}

fn zgnode(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zgnode")).args(args).output().expect("run zgnode")
}

/// `zgnode dev`'s built-in provider proves on the node's own tick: blocks keep coming while a
/// proof is made, and the CLI's answer verifies on chain. The CLI refuses malformed input.
#[test]
fn zgnode_dev_proves_off_its_tick_and_the_cli_checks_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = dev_args(&dir.path().join("node"));
    args.retain(|a| a != "--no-compute-provider");
    args.extend(["--compute-addr".into(), "127.0.0.1:0".into()]);
    let node = NodeProcess::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (rpc, provider) = (node.addr, node.compute_addr.expect("the banner names the provider"));
    let deadline = Instant::now() + Duration::from_secs(300);
    while !http(provider, "GET", "/v1/proxy/verifiable", "").1.contains("\"ready\":true") {
        assert!(Instant::now() < deadline, "the built-in verifiable service never got its keys");
        std::thread::sleep(Duration::from_millis(250));
    }
    let rpc_url = format!("http://{rpc}");
    let key = zgnode::dev::dev_accounts()[2].private_key.to_string();
    let account = ["--rpc", rpc_url.as_str(), "--key", key.as_str()];
    let deposit = zgnode(&[&["compute", "verified-deposit", "1"][..], &account].concat());
    assert!(deposit.status.success(), "{}", String::from_utf8_lossy(&deposit.stderr));

    let saved = dir.path().join("answer.json");
    let provider_url = format!("http://{provider}");
    let ask: Vec<&str> = [&["compute", "verified-ask", "--provider-url", provider_url.as_str(), "--digit", "7", "--save", saved.to_str().unwrap()][..], &account].concat();
    let mut child = Command::new(env!("CARGO_BIN_EXE_zgnode")).args(&ask).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // While the proof is made (seconds), a transfer is mined at the block time: the tick that
    // seals blocks is not the one proving.
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    let hash = ok(rpc, "eth_sendRawTransaction", serde_json::json!([raw_transfer(&dev_key(3), Address::repeat_byte(9), 1, 0)]));
    let receipt = wait_receipt(rpc, hash.as_str().unwrap(), Duration::from_secs(30));
    let mined_in = sent.elapsed();
    let still_proving = child.try_wait().unwrap().is_none();
    eprintln!("a transfer mined in {mined_in:?} while the built-in provider proved (still proving: {still_proving})");
    assert_eq!(receipt["status"], "0x1");
    assert!(still_proving && mined_in < Duration::from_secs(1), "mined in {mined_in:?}; the ask still running: {still_proving}");
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("signed by the provider: yes") && stdout.contains("verified on chain (ModelRegistry.verifyInference): yes"), "{stdout}");
    let file: ModelFile = serde_json::from_str(&std::fs::read_to_string(SMALL_MODEL).unwrap()).unwrap();
    assert!(stdout.starts_with(&format!("class {}", file.test.predictions[7])), "{stdout}");

    // An honest answer is no evidence; malformed input is refused with a message and exit code.
    let report = zgnode(&[&["compute", "report-wrong", saved.to_str().unwrap()][..], &account].concat());
    assert!(!report.status.success() && String::from_utf8_lossy(&report.stderr).contains("not shown wrong"), "{}", String::from_utf8_lossy(&report.stderr));
    let refusals: [(&[&str], &str); 5] = [
        (&["compute", "verified-ask", "--provider-url", &provider_url, "--input", "1,2,3"], "holds 3 values"),
        (&["compute", "verified-ask", "--provider-url", &provider_url, "--input", &vec!["300"; 64].join(",")], "-128..=127"),
        (&["compute", "verified-ask", "--provider-url", &provider_url, "--digit", "360"], "held-out split has 360"),
        (&["compute", "verified-ask", "--provider-url", "http://127.0.0.1:1", "--digit", "1"], "127.0.0.1:1"),
        (&["compute", "verified-deposit", "0"], "more than 0"),
    ];
    for (args, message) in refusals {
        let output = zgnode(&[args, &account].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(message), "{args:?}: {stderr}");
    }
    std::fs::write(&saved, "{\"request\": 5}").unwrap();
    let report = zgnode(&[&["compute", "report-wrong", saved.to_str().unwrap()][..], &account].concat());
    assert!(!report.status.success() && String::from_utf8_lossy(&report.stderr).contains("request.user"), "{}", String::from_utf8_lossy(&report.stderr));
    node.kill();
}
