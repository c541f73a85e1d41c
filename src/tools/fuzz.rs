//! Fuzz targets: one per external input, each the code the node runs on that input, with the
//! properties that must hold for any bytes (no panic, and what is accepted is what it claims to
//! be). `fuzz/` runs them under libFuzzer (cargo-fuzz, coverage-guided); `tests/fuzz_corpus.rs`
//! runs every committed seed and a fixed budget of seeded mutations of them in the test suite.

use alloy_eips::eip2718::Encodable2718;
use std::sync::OnceLock;

use zg_components::consensus::wire::{self, NetMessage};
use zg_components::consensus::Shard;
use zg_components::storage::merkle::{self, FileCommitment};
use zg_components::storage::FileRecord;
use zg_systems::storage::erasure::ErasureConfig;

/// The chain id raw transactions are checked against.
pub const CHAIN_ID: u64 = 16_600;

mod da_compute;
mod kv;
pub use da_compute::{da_fraud_proof, provider_http_body, verifier_input};
pub use kv::stream_data;

/// A fuzz target: takes any bytes, must never panic.
pub type Target = fn(&[u8]);

/// Every target, by name (the folder of its seed corpus under `fuzz/corpus`).
pub const TARGETS: &[(&str, Target)] = &[
    ("raw_transaction", raw_transaction),
    ("wire_frame", wire_frame),
    ("shard", shard),
    ("segment_upload", segment_upload),
    ("config_file", config_file),
    ("genesis_file", genesis_file),
    ("rpc_request", rpc_request),
    ("da_fraud_proof", da_fraud_proof),
    ("provider_http_body", provider_http_body),
    ("verifier_input", verifier_input),
    ("stream_data", stream_data),
];

/// `eth_sendRawTransaction` and gossip: decoding, chain id, signature. What is accepted must
/// encode back to exactly the bytes received (its hash is the hash of those bytes).
pub fn raw_transaction(data: &[u8]) {
    if let Ok((envelope, _sender)) = zg_systems::chain::mempool::decode_transaction(data, CHAIN_ID, 128 * 1024) {
        assert_eq!(envelope.encoded_2718(), data, "an accepted transaction must be canonical");
        let _ = zg_systems::chain::mempool::intrinsic_gas(&envelope);
    }
}

/// A validator-network frame body: decoding is strict and canonical (what decodes encodes back
/// to the same bytes), and every conversion the node applies to a decoded message is total.
pub fn wire_frame(data: &[u8]) {
    let Ok(message) = wire::decode_body(data) else { return };
    assert_eq!(wire::encode_body(&message), data, "a decoded frame must re-encode to itself");
    match &message {
        NetMessage::Vote(vote) => {
            let signed = vote.to_signed();
            let _ = signed.message.sign_bytes(CHAIN_ID);
        }
        NetMessage::Proposal(proposal) => {
            let _ = proposal.to_signed().message.sign_bytes(CHAIN_ID);
        }
        NetMessage::Block(body) => {
            let key = malachite_ed25519::PrivateKey::from([1; 32]);
            let _ = body.verify(CHAIN_ID, &key.public_key());
        }
        NetMessage::SyncResponse(blocks) => {
            for decided in blocks {
                let _ = decided.certificate.to_certificate();
                let _ = decided.block.hash();
            }
        }
        NetMessage::StoreShard(shard) | NetMessage::ShardReply { shard: Some(shard), .. } => {
            let fixture = shard_fixture();
            let _ = crate::storage::shard_checks_out(fixture.config, &fixture.record, shard);
        }
        _ => {}
    }
}

/// A file published and coded 2+2, with every honest shard, for the shard targets.
pub struct ShardFixture {
    pub config: ErasureConfig,
    pub record: FileRecord,
    pub segments: Vec<Vec<u8>>,
    pub shards: Vec<Vec<Shard>>,
    pub commitment: FileCommitment,
    pub data: Vec<u8>,
}

pub fn shard_fixture() -> &'static ShardFixture {
    static FIXTURE: OnceLock<ShardFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = ErasureConfig { data_shards: 2, parity_shards: 2 };
        let data: Vec<u8> = (0..merkle::SEGMENT_SIZE + 3_000).map(|i| ((i * 31 + 7) % 251) as u8).collect();
        let commitment = FileCommitment::of(&data);
        let record = FileRecord::from_commitment(3, &commitment);
        let mut segments = Vec::new();
        let mut shards = Vec::new();
        for segment in 0..record.data_segments() {
            let (bytes, proof) = commitment.stored_segment(&data, segment as usize).expect("segment in the file");
            shards.push(crate::storage::cut_shards(config, &record, segment, &bytes, &proof).expect("codable"));
            segments.push(bytes);
        }
        ShardFixture { config, record, segments, shards, commitment, data }
    })
}

/// A shard from a peer (`StoreShard`, `ShardReply`): checking it never panics; a data shard that
/// passes is the real one (a forgery would be stored and served); a rebuild that uses it either
/// yields the real segment or nothing.
pub fn shard(data: &[u8]) {
    let Ok(shard) = borsh::from_slice::<Shard>(data) else { return };
    let fixture = shard_fixture();
    let accepted = crate::storage::shard_checks_out(fixture.config, &fixture.record, &shard);
    let segment = shard.segment as usize;
    let index = shard.index as usize;
    if accepted && index < fixture.config.data_shards {
        let real = &fixture.shards[segment][index];
        let chunks = (real.segment_len as usize).div_ceil(merkle::CHUNK_SIZE);
        let range = fixture.config.data_shard_chunks(chunks, index);
        let covered = range.len() * merkle::CHUNK_SIZE;
        assert_eq!(shard.data[..covered], real.data[..covered], "a forged data shard passed its check");
    }
    if segment < fixture.shards.len() && index < fixture.config.total() {
        // The peer's shard in place of the honest one, with one honest shard lost.
        let mut found: Vec<Option<Shard>> = fixture.shards[segment].iter().cloned().map(Some).collect();
        found[index] = Some(shard);
        let lost = (index + 1) % found.len();
        found[lost] = None;
        if let Some((rebuilt, _)) = crate::storage::decode_checked(fixture.config, &fixture.record, segment as u64, found) {
            assert_eq!(rebuilt, fixture.segments[segment], "a rebuild yielded something other than the segment");
        }
    }
}

/// `zgs_uploadSegment(s)`: what passes the checks is the file's segment, byte for byte.
pub fn segment_upload(data: &[u8]) {
    let Ok(upload) = serde_json::from_slice::<crate::storage::SegmentUpload<'_>>(data) else { return };
    let fixture = shard_fixture();
    if let Ok(bytes) = crate::storage::check_upload(&upload, &fixture.record) {
        assert_eq!(bytes, fixture.segments[upload.index as usize], "an upload that is not the segment passed");
    }
}

/// A dev node with the storage role, started once per process, for `rpc_request`.
struct RpcFixture {
    _runtime: tokio::runtime::Runtime,
    _node: crate::RunningNode,
    rpc: std::net::SocketAddr,
    storage: std::net::SocketAddr,
}

fn rpc_fixture() -> &'static RpcFixture {
    static FIXTURE: OnceLock<RpcFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let mut config = crate::NodeConfig::default();
        config.node.ephemeral = true;
        config.node.tick_ms = 2;
        config.chain.block_time_ms = 50;
        config.rpc.addr = "127.0.0.1:0".parse().expect("literal");
        config.storage.enabled = true;
        config.storage.addr = "127.0.0.1:0".parse().expect("literal");
        let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
        let node = runtime.block_on(crate::RunningNode::start(&config, &genesis)).expect("the fuzz node starts");
        let (rpc, storage) = (node.rpc_addr.expect("JSON-RPC on"), node.storage_addr.expect("storage role on"));
        RpcFixture { _runtime: runtime, _node: node, rpc, storage }
    })
}

/// Posts `body` as a JSON-RPC request; the HTTP status line, or why there was none.
fn post(addr: std::net::SocketAddr, body: &[u8]) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).map_err(|e| e.to_string())?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body)).map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("no complete answer: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// A JSON-RPC request body, to the chain's and the storage node's servers: each answers (a
/// status line, a JSON body), never hangs or dies, and the chain keeps answering after it.
pub fn rpc_request(data: &[u8]) {
    let fixture = rpc_fixture();
    for addr in [fixture.rpc, fixture.storage] {
        let status = post(addr, data).unwrap_or_else(|error| panic!("{addr} gave no answer: {error}"));
        assert!(status.starts_with("HTTP/1.1 "), "{addr} answered {status:?}");
    }
    let alive = post(fixture.rpc, br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#);
    assert!(alive.is_ok_and(|s| s.contains("200")), "the chain stopped answering");
}

/// A config file: parsed and validated, or a clear error.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = crate::NodeConfig::from_toml(text) {
        let _ = config.peers();
        let _ = config.timeouts();
    }
}

/// A genesis file: parsed and validated, or a clear error.
pub fn genesis_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = zg_components::chain::Genesis::from_json(text);
}

/// The seed corpus, generated (so it stays valid as formats evolve): realistic inputs of every
/// kind each target takes. `tests/fuzz_corpus.rs` checks that `fuzz/corpus` holds them and
/// writes them there when `ZG_WRITE_CORPUS=1`.
pub fn seed_corpus() -> Vec<(&'static str, Vec<u8>)> {
    use alloy_consensus::SignableTransaction;
    use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
    use alloy_signer::SignerSync;
    use zg_components::consensus::{DecidedBlock, OrderedBlock, SignedBlock, WireCertificate, WireProposal, WireVote};

    let mut seeds: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let signer = alloy_signer_local::PrivateKeySigner::from_slice(&[0x42; 32]).expect("valid key");
    let to = TxKind::Call(Address::repeat_byte(0x77));
    let eip1559 = crate::signing::sign_eip1559(&signer, CHAIN_ID, to, U256::from(5), Bytes::from_static(&[1, 2, 3]), 7, 50_000);
    seeds.push(("raw_transaction", eip1559.encoded_2718()));
    let create = crate::signing::sign_eip1559(&signer, CHAIN_ID, TxKind::Create, U256::ZERO, Bytes::from(vec![0x60; 40]), 0, 200_000);
    seeds.push(("raw_transaction", create.encoded_2718()));
    let legacy = alloy_consensus::TxLegacy { chain_id: Some(CHAIN_ID), nonce: 1, gas_price: 2_000_000_000, gas_limit: 21_000, to, value: U256::from(1), input: Bytes::new() };
    if let Ok(signature) = signer.sign_hash_sync(&legacy.signature_hash()) {
        seeds.push(("raw_transaction", alloy_consensus::TxEnvelope::from(legacy.into_signed(signature)).encoded_2718()));
    }
    let access = alloy_consensus::TxEip2930 {
        chain_id: CHAIN_ID,
        nonce: 2,
        gas_price: 2_000_000_000,
        gas_limit: 30_000,
        to,
        value: U256::ZERO,
        access_list: alloy_eips::eip2930::AccessList(vec![alloy_eips::eip2930::AccessListItem { address: Address::repeat_byte(9), storage_keys: vec![Default::default()] }]),
        input: Bytes::from_static(&[0xaa]),
    };
    if let Ok(signature) = signer.sign_hash_sync(&access.signature_hash()) {
        seeds.push(("raw_transaction", alloy_consensus::TxEnvelope::from(access.into_signed(signature)).encoded_2718()));
    }

    let fixture = shard_fixture();
    let key = malachite_ed25519::PrivateKey::from([3; 32]);
    let vote = zg_components::consensus::Vote {
        height: zg_components::consensus::Height(9),
        round: malachite_types::Round::new(1),
        value: malachite_types::NilOrVal::Val(alloy_primitives::B256::repeat_byte(4)),
        vote_type: malachite_types::VoteType::Precommit,
        validator: zg_components::consensus::ValidatorAddress::from_public_key(&key.public_key()),
    };
    let signature = key.sign(&vote.sign_bytes(CHAIN_ID));
    let wire_vote = WireVote::from_signed(&malachite_types::SignedMessage::new(vote, signature)).expect("a round");
    let block = OrderedBlock {
        height: 9,
        round: 1,
        timestamp_ms: 1_700_000_000_000,
        proposer: wire_vote.validator,
        parent_hash: [2; 32],
        transactions: vec![eip1559.encoded_2718()],
        evidence: vec![zg_components::consensus::DoubleSignEvidence { first: wire_vote.clone(), second: wire_vote.clone() }],
    };
    let body_signature = key.sign(&SignedBlock::sign_bytes(CHAIN_ID, block.hash())).to_bytes();
    let certificate = WireCertificate { height: 9, round: 1, value: block.hash().0, signatures: vec![(wire_vote.validator, wire_vote.signature)] };
    let messages = vec![
        NetMessage::Status { genesis: [1; 32], height: 42 },
        NetMessage::Transactions(vec![eip1559.encoded_2718(), create.encoded_2718()]),
        NetMessage::Proposal(WireProposal { height: 9, round: 1, value: block.hash().0, pol_round: Some(0), proposer: wire_vote.validator, signature: wire_vote.signature }),
        NetMessage::Vote(wire_vote.clone()),
        NetMessage::Block(SignedBlock { block: block.clone(), signature: body_signature }),
        NetMessage::SyncRequest { from: 3, to: 34 },
        NetMessage::SyncResponse(vec![DecidedBlock { block, certificate }]),
        NetMessage::StoreShard(fixture.shards[1][0].clone()),
        NetMessage::ShardRequest { id: 7, tx_seq: 3, segment: 1, shard: 2 },
        NetMessage::ShardReply { id: 7, shard: Some(fixture.shards[1][3].clone()) },
        NetMessage::ShardReply { id: 8, shard: None },
    ];
    for message in &messages {
        seeds.push(("wire_frame", wire::encode_body(message)));
    }
    for shards in &fixture.shards {
        for shard in shards {
            seeds.push(("shard", borsh::to_vec(shard).expect("encodable")));
        }
    }
    for index in 0..fixture.segments.len() {
        let upload = crate::storage::client::segment_json(&fixture.data, &fixture.commitment, index);
        seeds.push(("segment_upload", serde_json::to_vec(&upload).expect("serializable")));
    }
    seeds.push(("config_file", crate::config::CONFIG_TEMPLATE.as_bytes().to_vec()));
    let call = serde_json::json!({"to": Address::repeat_byte(0x77), "data": "0x70a08231", "gas": "0x5208"});
    let bodies = [
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}),
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "eth_call", "params": [call, "latest"]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "eth_estimateGas", "params": [call]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 4, "method": "eth_getLogs", "params": [{"fromBlock": "0x0", "toBlock": "latest", "topics": [null]}]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 5, "method": "eth_sendRawTransaction", "params": [alloy_primitives::hex::encode_prefixed(eip1559.encoded_2718())]}),
        serde_json::json!([{"jsonrpc": "2.0", "id": 6, "method": "eth_getBlockByNumber", "params": ["latest", true]}, {"jsonrpc": "2.0", "id": 7, "method": "eth_syncing"}]),
        serde_json::json!({"jsonrpc": "2.0", "id": 8, "method": "zgs_getFileInfo", "params": [fixture.commitment.root(), true]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 9, "method": "zgs_uploadSegment", "params": [crate::storage::client::segment_json(&fixture.data, &fixture.commitment, 1)]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 10, "method": "zgs_downloadSegment", "params": [fixture.commitment.root(), 0, 4]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 12, "method": "eth_call", "params": [call, "0x0", {format!("{:#x}", Address::repeat_byte(0x77)): {"balance": "0x1", "code": "0x6000", "stateDiff": {format!("{:#x}", B256::ZERO): format!("{:#x}", B256::ZERO)}}}]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 13, "method": "eth_newFilter", "params": [{"fromBlock": "earliest", "address": Address::repeat_byte(0x77)}]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 14, "method": "eth_getFilterChanges", "params": ["0x00000000000000000000000000000001"]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 15, "method": "debug_traceCall", "params": [call, "latest", {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}}]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 16, "method": "eth_createAccessList", "params": [call, "pending"]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 17, "method": "eth_getProof", "params": [Address::repeat_byte(0x77), [B256::ZERO], "latest"]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 18, "method": "eth_getTransactionByBlockNumberAndIndex", "params": ["latest", "0x0"]}),
        serde_json::json!({"jsonrpc": "2.0", "id": 19, "method": "evm_increaseTime", "params": [60]}),
    ];
    for body in bodies {
        seeds.push(("rpc_request", serde_json::to_vec(&body).expect("serializable")));
    }
    // PoRA proofs reach the chain as PoraMine.submitProof calls: through eth_call and
    // eth_estimateGas the contract's whole check runs on whatever the fuzzer makes of them.
    {
        use alloy_sol_types::SolCall;
        let (bytes, proof) = fixture.commitment.stored_segment(&fixture.data, 0).expect("segment 0");
        let submit = zg_systems::storage::pora::IPoraMine::submitProofCall {
            epoch: U256::from(1),
            index: U256::from(0),
            chunk: Bytes::from(bytes[..merkle::CHUNK_SIZE].to_vec()),
            siblings: proof.lemma.clone(),
        };
        let miner = crate::dev::dev_accounts()[9].address;
        for method in ["eth_call", "eth_estimateGas"] {
            let call = serde_json::json!({"from": miner, "to": zg_systems::storage::pora::MINE_ADDRESS, "data": alloy_primitives::hex::encode_prefixed(submit.abi_encode())});
            let body = serde_json::json!({"jsonrpc": "2.0", "id": 11, "method": method, "params": [call, "latest"]});
            seeds.push(("rpc_request", serde_json::to_vec(&body).expect("serializable")));
        }
    }
    seeds.push(("genesis_file", include_bytes!("../../assets/genesis/zgnode.json").to_vec()));
    seeds.extend(da_compute::seeds(&signer));
    seeds.extend(kv::seeds());
    seeds
}
