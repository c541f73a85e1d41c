//! The DA role on a dev chain: a blob goes PROCESSING → CONFIRMED → FINALIZED and comes back byte
//! for byte over JSON-RPC and over 0G's disperser gRPC (driven by Python grpcio, a client that is
//! not ours); hostile requests get clear errors; a byzantine disperser's badly encoded blob is
//! caught by a fraud proof and rejected, and a forged fraud proof costs its sender the gas.

mod common;

use alloy_primitives::{B256, Bytes, TxKind, U256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use zg_components::da::piece::attestation_message;
use zg_components::da::{Axis, SHARE_SIZE};
use zg_systems::da::encoding::{extend_blob, prove_bad_encoding};
use zg_systems::da::entrance::{DA_ENTRANCE_ADDRESS, IDAEntrance};
use zgnode::dev::{DEV_DISPERSER_ACCOUNT, dev_accounts};

const TIMEOUT: Duration = Duration::from_secs(90);

fn da_config() -> zgnode::NodeConfig {
    let mut config = test_config();
    config.chain.block_time_ms = 50;
    config.da.disperser_key = Some(dev_accounts()[DEV_DISPERSER_ACCOUNT].private_key.to_string());
    config.da.grpc_addr = Some("127.0.0.1:0".parse().unwrap());
    config
}

fn pattern(size: usize, salt: usize) -> Vec<u8> {
    (0..size).map(|i| ((i * 131 + 7 + salt) % 251) as u8).collect()
}

#[test]
fn a_blob_is_confirmed_then_finalized_and_comes_back_byte_for_byte() {
    let node = start_node(&da_config());
    let blob = pattern(200_000, 1);
    let submitted = ok(node.addr, "da_submitBlob", json!([hex(&blob)]));
    assert_eq!(submitted["status"], "PROCESSING");
    let id = submitted["requestId"].as_str().unwrap().to_string();
    let root = submitted["dataRoot"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 2 + 80, "a request id is the data root and a sequence number");
    let seen = wait_blob_status(node.addr, &id, "FINALIZED");
    assert!(seen.contains(&"CONFIRMED".to_string()), "confirmed before it was final: {seen:?}");
    // By data root too, and the entrance agrees.
    assert_eq!(ok(node.addr, "da_getBlobStatus", json!([root]))["status"], "FINALIZED");
    let back = ok(node.addr, "da_retrieveBlob", json!([root]));
    assert_eq!(back.as_str().unwrap(), hex(&blob));
    let sample = ok(node.addr, "da_sample", json!([root, 20]));
    assert_eq!(sample["verified"], 20, "{sample}");
    assert_eq!(sample["available"], true);
    assert!(sample["confidence"].as_f64().unwrap() > 0.99, "{sample}");
    // The same blob again is the same dispersal, not a second fee.
    let again = ok(node.addr, "da_submitBlob", json!([hex(&blob)]));
    assert_eq!(again["dataRoot"].as_str().unwrap(), root);
    assert_ne!(again["requestId"].as_str().unwrap(), id, "every request gets a new id");
    assert_eq!(ok(node.addr, "da_getBlobStatus", json!([again["requestId"]]))["status"], "FINALIZED");
    node.stop();
}

#[test]
fn hostile_blob_requests_get_clear_errors() {
    let node = start_node(&da_config());
    let (code, message) = err(node.addr, "da_submitBlob", json!(["0x"]));
    assert_eq!((code, message.as_str()), (-32602, "the blob is empty"));
    let (code, message) = err(node.addr, "da_getBlobStatus", json!(["0x0102"]));
    assert_eq!(code, -32602);
    assert!(message.contains("40-byte request id or a 32-byte data root"), "{message}");
    let (code, message) = err(node.addr, "da_getBlobStatus", json!([hex(&[7u8; 32])]));
    assert_eq!(code, -32000);
    assert!(message.contains("no blob"), "{message}");
    let (_, message) = err(node.addr, "da_retrieveBlob", json!([hex(&[7u8; 32])]));
    assert!(message.contains("keeps blob"), "{message}");
    let (code, _) = err(node.addr, "da_sample", json!([hex(&[7u8; 32]), 0]));
    assert_eq!(code, -32602);
    let (code, _) = err(node.addr, "da_submitBlob", json!(["not hex"]));
    assert_eq!(code, -32602);

    // Over 0G's largest blob: refused before any work, through the node's own entry point (the
    // JSON-RPC request limit stops it earlier; the gRPC service takes 40 MiB messages).
    let da = node.node.as_ref().unwrap().da().expect("the DA role is on");
    let oversized = vec![1u8; zg_components::da::MAX_BLOB_SIZE + 1];
    let refused = node.runtime.block_on(da.submit(oversized, zgnode::da::Listener::JsonRpc, None)).expect_err("an oversized blob is refused");
    assert!(refused.to_string().contains("at most 32505852 are accepted"), "{refused}");
    let (code, _) = err(node.addr, "da_sample", json!([hex(&[7u8; 32]), 65]));
    assert_eq!(code, -32602, "more samples than a call may fan out");
    node.stop();
    // Paid writes are capped: with one dispersal at a time, a second blob while the first is
    // still registering and gathering attestations (blocks of 50 ms) is refused as busy.
    let mut capped = da_config();
    capped.da.max_concurrent_dispersals = 1;
    let node = start_node(&capped);
    ok(node.addr, "da_submitBlob", json!([hex(&pattern(3_000, 1))]));
    let (code, message) = err(node.addr, "da_submitBlob", json!([hex(&pattern(3_000, 2))]));
    assert_eq!(code, -32000);
    assert!(message.contains("dispersing 1 blobs already"), "{message}");
    node.stop();
    // API keys: each key is a client with an hourly quota; a wrong key is refused outright.
    let mut keyed = da_config();
    keyed.da.api_keys = vec!["0123456789abcdef-key".into()];
    keyed.da.blobs_per_client_hour = 1;
    let node = start_node(&keyed);
    ok(node.addr, "da_submitBlob", json!([hex(&pattern(2_000, 3)), "0123456789abcdef-key"]));
    let (code, message) = err(node.addr, "da_submitBlob", json!([hex(&pattern(2_000, 4)), "0123456789abcdef-key"]));
    assert_eq!(code, -32000);
    assert!(message.contains("1 blobs in the last hour"), "{message}");
    let (_, message) = err(node.addr, "da_submitBlob", json!([hex(&pattern(2_000, 5)), "a guessed key that is long"]));
    assert!(message.contains("not one of this node's"), "{message}");
    ok(node.addr, "da_submitBlob", json!([hex(&pattern(2_000, 6))]));
    node.stop();
    // A DA node without a disperser account keeps and attests pieces but accepts no blob.
    let mut config = test_config();
    config.da.disperser_key = None;
    let plain = start_node(&config);
    let (_, message) = err(plain.addr, "da_submitBlob", json!(["0x01"]));
    assert!(message.contains("accepts no blobs"), "{message}");
    plain.stop();
}

#[test]
fn python_grpcio_disperses_follows_and_retrieves_through_the_disperser_service() {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/.venv/bin/python");
    assert!(python.exists(), "the Python client needs tests/clients/.venv (made by .ci/run)");
    let node = start_node(&da_config());
    let grpc = node.node.as_ref().unwrap().da_grpc_addr.expect("the disperser gRPC is on");
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new(&python)
        .args([format!("{root}/tests/clients/da_grpc.py"), format!("{root}/assets/proto"), grpc.to_string()])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "grpcio client failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["retrievedBytes"], 300_000);
    assert_eq!(seen["requestIdBytes"], 40);
    let statuses: Vec<&str> = seen["statuses"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(statuses.last(), Some(&"FINALIZED"), "{statuses:?}");
    assert_eq!(seen["refusals"]["empty"], "INVALID_ARGUMENT");
    assert_eq!(seen["refusals"]["badRequestId"], "INVALID_ARGUMENT");
    assert_eq!(seen["refusals"]["unknownBlob"], "NOT_FOUND");
    assert_eq!(seen["refusals"]["badRoot"], "INVALID_ARGUMENT");
    assert_eq!(seen["refusals"]["overCap"], "INVALID_ARGUMENT", "a blob over 0G's cap");
    assert!(matches!(seen["refusals"]["overMessage"].as_str(), Some("OUT_OF_RANGE" | "RESOURCE_EXHAUSTED")), "{seen}");
    node.stop();
}

fn send(addr: SocketAddr, signer: &alloy_signer_local::PrivateKeySigner, nonce: u64, value: U256, input: Vec<u8>) -> Value {
    let tx = sign(signer, TxKind::Call(DA_ENTRANCE_ADDRESS), value, Bytes::from(input), nonce, 3_000_000);
    let hash = ok(addr, "eth_sendRawTransaction", json!([raw(&tx)]));
    wait_receipt(addr, hash.as_str().unwrap(), TIMEOUT)
}

fn balance(addr: SocketAddr, who: alloy_primitives::Address) -> U256 {
    ok(addr, "eth_getBalance", json!([who, "latest"])).as_str().unwrap().parse().unwrap()
}

#[test]
fn a_badly_encoded_blob_is_proven_and_rejected_and_a_forged_proof_costs_its_sender() {
    let node = start_node(&test_config());
    let addr = node.addr;
    let byzantine = dev_key(3);
    let prover = dev_key(4);
    // The disperser corrupts one parity share of row 1 and commits to what it made.
    let mut square = extend_blob(&pattern(5_000, 2)).unwrap();
    let width = square.layout.width();
    square.data[(width + width - 1) * SHARE_SIZE] ^= 1;
    let roots = square.commit();
    let data_root = roots.data_root();
    let price = zgnode::da::genesis::blob_price();
    let upload = IDAEntrance::submitOriginalDataCall { dataRoots: vec![data_root] }.abi_encode();
    assert_eq!(send(addr, &byzantine, 0, price, upload.clone())["status"], "0x1");
    // Registering the same root twice, or below the price, is refused on chain.
    assert_eq!(send(addr, &byzantine, 1, price, upload)["status"], "0x0");
    let other = IDAEntrance::submitOriginalDataCall { dataRoots: vec![B256::repeat_byte(9)] }.abi_encode();
    assert_eq!(send(addr, &byzantine, 2, price - U256::from(1), other)["status"], "0x0");
    // Its one signer (the dev signer, colluding) attests.
    let signer = zgnode::da::dev_signer();
    let message = attestation_message(CHAIN_ID, &data_root.0, 0, 0);
    let signature = signer.sign(&message).to_bytes();
    let key = B256::from(*signer.public_key().as_bytes());
    // A signature over another root or by a stranger is refused.
    let stranger = malachite_ed25519::PrivateKey::from([5u8; 32]);
    let forged = IDAEntrance::submitVerifiedCommitRootsCall {
        dataRoot: data_root,
        keys: vec![B256::from(*stranger.public_key().as_bytes())],
        signatures: vec![Bytes::copy_from_slice(&stranger.sign(&message).to_bytes())],
    };
    assert_eq!(send(addr, &byzantine, 3, U256::ZERO, forged.abi_encode())["status"], "0x0");
    let confirm = IDAEntrance::submitVerifiedCommitRootsCall {
        dataRoot: data_root,
        keys: vec![key],
        signatures: vec![Bytes::copy_from_slice(&signature)],
    };
    assert_eq!(send(addr, &byzantine, 4, U256::ZERO, confirm.abi_encode())["status"], "0x1");
    // A replayed attestation does nothing more.
    assert_eq!(send(addr, &byzantine, 5, U256::ZERO, confirm.abi_encode())["status"], "0x0");
    assert_eq!(ok(addr, "da_getBlobStatus", json!([data_root]))["status"], "CONFIRMED");

    // A forged proof (a share flipped) does not hold: reverted, and its sender paid the gas.
    let proof = prove_bad_encoding(&square, &roots, Axis::Row, 1).unwrap().expect("row 1 is bad");
    let mut bytes = zg_components::da::wire::encode_fraud_proof(&proof);
    let before = balance(addr, prover.address());
    let mut forged_proof = bytes.clone();
    let last = forged_proof.len() - 1;
    forged_proof[last] ^= 0xff;
    let call = IDAEntrance::submitFraudProofCall { proof: Bytes::from(forged_proof) }.abi_encode();
    let receipt = send(addr, &prover, 0, U256::ZERO, call);
    assert_eq!(receipt["status"], "0x0");
    assert!(balance(addr, prover.address()) < before, "the forged proof's gas was paid");

    // The true proof rejects the blob and pays the prover the blob's fee.
    let before = balance(addr, prover.address());
    let call = IDAEntrance::submitFraudProofCall { proof: Bytes::from(std::mem::take(&mut bytes)) }.abi_encode();
    let receipt = send(addr, &prover, 1, U256::ZERO, call);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let gas = U256::from(quantity(&receipt["gasUsed"])) * U256::from(quantity(&receipt["effectiveGasPrice"]));
    assert_eq!(balance(addr, prover.address()), before - gas + price, "the prover is paid the blob's fee");
    let deadline = Instant::now() + TIMEOUT;
    while ok(addr, "da_getBlobStatus", json!([data_root]))["status"] != "FAILED" {
        assert!(Instant::now() < deadline, "the rejected blob never read FAILED");
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("fraud proof: {} bytes, {} gas", receipt["gasUsed"], zg_components::da::wire::encode_fraud_proof(&proof).len());
    node.stop();
}

#[test]
fn sampling_rounds_pay_valid_responses_and_refuse_forged_ones() {
    let node = start_node(&da_config());
    let blob = pattern(100_000, 3);
    let submitted = ok(node.addr, "da_submitBlob", json!([hex(&blob)]));
    let id = submitted["requestId"].as_str().unwrap().to_string();
    wait_blob_status(node.addr, &id, "CONFIRMED");
    let da = node.node.as_ref().unwrap().da().expect("the DA role is on");
    let deadline = Instant::now() + TIMEOUT;
    while da.sampler_stats().accepted.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no sampling response accepted: {:?}", da.sampler_stats());
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = da.sampler_stats();
    assert_eq!(stats.unavailable.load(std::sync::atomic::Ordering::Relaxed), 0);
    println!("sampling: {stats:?}");
    // The status page reads the same counts (`zgnode_status`).
    let shown = &ok(node.addr, "zgnode_status", json!([]))["roles"]["da"]["sampling"];
    assert!(shown["responsesAccepted"].as_u64().is_some_and(|n| n >= 1), "{shown}");
    assert!(shown["rounds"].as_u64().is_some_and(|n| n >= 1), "{shown}");
    assert_eq!(shown["sharesUnavailable"], 0, "{shown}");

    // A response with a share that is not the blob's is refused, whatever its quality.
    let root: B256 = submitted["dataRoot"].as_str().unwrap().parse().unwrap();
    let layout = zg_components::da::SquareLayout::for_blob(blob.len()).unwrap();
    let forged = zg_systems::da::entrance::SampleResponse {
        dataRoot: root,
        k: U256::from(layout.k),
        row: U256::from(0),
        column: U256::from(0),
        throughRow: true,
        share: Bytes::from(vec![0u8; SHARE_SIZE]),
        toAxis: vec![B256::ZERO; 6],
        toRoot: vec![B256::ZERO; 7],
        signer: B256::from(da.key()),
        signature: Bytes::from(vec![0u8; 64]),
        slotRank: U256::ZERO,
    };
    let try_call = |response: zg_systems::da::entrance::SampleResponse, from: alloy_primitives::Address| {
        let data = IDAEntrance::submitSamplingResponseCall { r: response }.abi_encode();
        let call = json!({"from": from, "to": DA_ENTRANCE_ADDRESS, "data": hex(&data), "gas": "0x100000"});
        err(node.addr, "eth_call", json!([call, "latest"])).1
    };
    let message = try_call(forged.clone(), dev_key(2).address());
    assert!(
        message.contains("does not prove") || message.contains("quality does not beat") || message.contains("proof is too") || message.contains("sibling per level") || message.contains("already answered") || message.contains("bad sampling signature") || message.contains("slot does not hold"),
        "{message}"
    );
    // A true share, proven, but claimed by someone who did not attest the blob (the reward goes
    // to the nodes that store it), or under an attester's key without its signature for this
    // payee: refused.
    let square = extend_blob(&blob).unwrap();
    let roots = square.commit();
    let (leaves, tree) = (square.leaf_hashes(), roots.tree());
    let proof = zg_systems::da::encoding::share_proof(&square, &roots, &tree, &leaves, 0, 0, Axis::Row).unwrap();
    let siblings = |lemma: &[B256]| lemma[1..lemma.len() - 1].to_vec();
    let mut stranger = forged.clone();
    stranger.share = Bytes::copy_from_slice(square.share(0, 0).unwrap());
    stranger.toAxis = siblings(&proof.to_axis.lemma);
    stranger.toRoot = siblings(&proof.to_data_root.lemma);
    stranger.signer = B256::repeat_byte(0x42);
    assert!(try_call(stranger.clone(), dev_key(2).address()).contains("did not attest"));
    let mut unsigned = stranger;
    unsigned.signer = B256::from(da.key());
    // The dev chain's one signer holds every slot; the rank of one whose axis is row 0.
    let ranks = zg_systems::da::quorum::ranks_of(root, &[(da.key(), 1u64)], 1, &da.key(), layout);
    unsigned.slotRank = U256::from(ranks[&(Axis::Row, 0)]);
    let mut off_axis = unsigned.clone();
    off_axis.slotRank = U256::from(ranks[&(Axis::Row, 1)]);
    assert!(try_call(off_axis, dev_key(2).address()).contains("slot does not hold"), "a slot of another row");
    let message = try_call(unsigned, dev_key(2).address());
    assert!(message.contains("bad sampling signature") || message.contains("already answered") || message.contains("quality does not beat"), "{message}");
    node.stop();
}

#[test]
fn hostile_pieces_and_attestation_requests_are_refused_and_nothing_bad_is_kept() {
    use zg_components::da::piece::{AxisPiece, DaAnswer, DaRequest, PieceBatch};
    use zgnode::net::DaService;
    let node = start_node(&test_config());
    let da = node.node.as_ref().unwrap().da().expect("the DA role is on");
    let peer = [9u8; 32];
    let square = extend_blob(&pattern(9_000, 4)).unwrap();
    let roots = square.commit();
    let data_root = roots.data_root();
    let k = square.layout.k;
    let wire_roots = roots.to_wire();
    let half = |axis: usize| square.row(axis)[..k * SHARE_SIZE].to_vec();
    let batch = |pieces: Vec<AxisPiece>| PieceBatch { data_root: data_root.0, k: k as u32, axis_roots: wire_roots.clone(), pieces };
    let refused = |answer: DaAnswer, needle: &str| match answer {
        DaAnswer::Stored(Err(why)) | DaAnswer::Signature(Err(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected a refusal mentioning {needle:?}, got {other:?}"),
    };
    // Pieces of a blob nobody registered (nobody pays for them) are refused, after a short wait
    // for a registration this node might not have seen yet.
    refused(da.answer(&peer, DaRequest::Store(batch(vec![AxisPiece { axis: 0, index: 0, half: half(0) }]))), "not registered");
    let register = IDAEntrance::submitOriginalDataCall { dataRoots: vec![data_root] };
    let nonce = quantity(&ok(node.addr, "eth_getTransactionCount", json!([dev_key(5).address(), "pending"])));
    assert!(send_call(node.addr, 5, DA_ENTRANCE_ADDRESS, &register, zgnode::da::genesis::blob_price(), nonce));
    // A piece that does not extend to its row's root.
    let mut bad = half(0);
    bad[3] ^= 1;
    refused(da.answer(&peer, DaRequest::Store(batch(vec![AxisPiece { axis: 0, index: 0, half: bad }]))), "does not extend");
    // Roots that are not the data root's; a square no blob makes; a piece for a row outside it.
    let mut wrong = batch(vec![AxisPiece { axis: 0, index: 0, half: half(0) }]);
    wrong.axis_roots[1][0] ^= 1;
    refused(da.answer(&peer, DaRequest::Store(wrong)), "do not make data root");
    let mut huge = batch(vec![]);
    huge.k = 100_000;
    refused(da.answer(&peer, DaRequest::Store(huge)), "not one a blob makes");
    refused(da.answer(&peer, DaRequest::Store(batch(vec![AxisPiece { axis: 0, index: 9_999, half: half(0) }]))), "not assigned");
    refused(da.answer(&peer, DaRequest::Store(batch(vec![AxisPiece { axis: 7, index: 0, half: half(0) }]))), "neither a row");
    // Nothing of the refused batches was kept: the blob is unknown here.
    assert_eq!(da.answer(&peer, DaRequest::Roots { data_root: data_root.0 }), DaAnswer::Roots(None));
    // An attestation for a blob it holds nothing of, or with a signer set that is not its own.
    let signers = vec![(da.key(), 1)];
    refused(da.answer(&peer, DaRequest::Sign { data_root: data_root.0, epoch: 0, quorum: 0, signers: signers.clone() }), "holds no pieces");
    refused(da.answer(&peer, DaRequest::Sign { data_root: data_root.0, epoch: 0, quorum: 0, signers: vec![([1; 32], 5)] }), "signer set");
    // With one honest row only, it still refuses to sign: it must hold every axis it is given.
    let one = batch(vec![AxisPiece { axis: 0, index: 0, half: half(0) }]);
    assert_eq!(da.answer(&peer, DaRequest::Store(one)), DaAnswer::Stored(Ok(1)));
    refused(da.answer(&peer, DaRequest::Sign { data_root: data_root.0, epoch: 0, quorum: 0, signers }), "not held");
    // Reads of unknown blobs or axes are empty answers, never errors or panics.
    assert_eq!(da.answer(&peer, DaRequest::Axis { data_root: [1; 32], axis: 0, index: 0 }), DaAnswer::Axis(None));
    assert_eq!(da.answer(&peer, DaRequest::Axis { data_root: data_root.0, axis: 9, index: 0 }), DaAnswer::Axis(None));
    assert_eq!(da.answer(&peer, DaRequest::Share { data_root: [1; 32], row: 0, column: 0 }), DaAnswer::Share(None));
    assert!(matches!(da.answer(&peer, DaRequest::Share { data_root: data_root.0, row: 0, column: 1 }), DaAnswer::Share(Some(_))));
    assert_eq!(da.answer(&peer, DaRequest::Share { data_root: data_root.0, row: u32::MAX, column: 0 }), DaAnswer::Share(None));
    // A disperser that commits honest rows and one column of another square (each a codeword
    // under its own root) gets every piece kept, but no signature: the crossings disagree.
    let other = extend_blob(&pattern(9_000, 77)).unwrap();
    assert_eq!(other.layout.k, k);
    let mut mixed = roots.clone();
    mixed.columns[2] = other.commit().columns[2];
    let mixed_root = mixed.data_root();
    let register = IDAEntrance::submitOriginalDataCall { dataRoots: vec![mixed_root] };
    let nonce = quantity(&ok(node.addr, "eth_getTransactionCount", json!([dev_key(5).address(), "pending"])));
    assert!(send_call(node.addr, 5, DA_ENTRANCE_ADDRESS, &register, zgnode::da::genesis::blob_price(), nonce));
    let width = square.layout.width();
    let mut pieces: Vec<AxisPiece> = (0..width).map(|r| AxisPiece { axis: 0, index: r as u32, half: half(r) }).collect();
    pieces.extend((0..width).map(|c| {
        let source = if c == 2 { &other } else { &square };
        AxisPiece { axis: 1, index: c as u32, half: source.column(c)[..k * SHARE_SIZE].to_vec() }
    }));
    let mixed_batch = PieceBatch { data_root: mixed_root.0, k: k as u32, axis_roots: mixed.to_wire(), pieces };
    assert_eq!(da.answer(&peer, DaRequest::Store(mixed_batch)), DaAnswer::Stored(Ok(2 * width as u32)));
    refused(da.answer(&peer, DaRequest::Sign { data_root: mixed_root.0, epoch: 0, quorum: 0, signers: vec![(da.key(), 1)] }), "disagree where they cross");
    // A peer whose batches keep failing is no longer read.
    let noisy = [8u8; 32];
    let mut forged = batch(vec![AxisPiece { axis: 0, index: 1, half: half(1) }]);
    forged.axis_roots[0][0] ^= 1;
    for _ in 0..32 {
        refused(da.answer(&noisy, DaRequest::Store(forged.clone())), "do not make data root");
    }
    refused(da.answer(&noisy, DaRequest::Store(batch(vec![AxisPiece { axis: 0, index: 1, half: half(1) }]))), "no more are read");
    assert_eq!(da.answer(&peer, DaRequest::Store(batch(vec![AxisPiece { axis: 0, index: 1, half: half(1) }]))), DaAnswer::Stored(Ok(2)), "others still are");
    node.stop();
}

/// A blob's status is the node's own record, restored after `kill -9`: a confirmed blob comes
/// back on the same data directory with the epoch, quorum and blocks it had (not a fresh guess
/// from the entrance), and goes on to FINALIZED.
#[test]
fn a_blob_status_survives_kill_9_of_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let args = dev_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::spawn(&args);
    let submitted = ok(node.addr, "da_submitBlob", json!([hex(&pattern(50_000, 9))]));
    let id = submitted["requestId"].as_str().unwrap().to_string();
    let deadline = Instant::now() + TIMEOUT;
    let before = loop {
        let status = ok(node.addr, "da_getBlobStatus", json!([id]));
        if ["CONFIRMED", "FINALIZED"].contains(&status["status"].as_str().unwrap_or_default()) {
            break status;
        }
        assert!(Instant::now() < deadline, "not confirmed in time: {status}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(before["confirmedAt"].as_u64().is_some(), "a confirmed blob says where: {before}");
    node.kill();
    let again = NodeProcess::spawn(&args);
    let after = ok(again.addr, "da_getBlobStatus", json!([id]));
    for field in ["dataRoot", "epoch", "quorumId", "uploadedAt", "confirmedAt"] {
        assert_eq!(after[field], before[field], "{field} after the restart: {after} (before: {before})");
    }
    wait_blob_status(again.addr, &id, "FINALIZED");
    again.kill();
}
