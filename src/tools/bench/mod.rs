//! Benchmark workloads shared by `zgnode bench` and the criterion benches in `benches/`.
//! Every figure is compared with a baseline measured in the same run.

pub mod embed;
pub mod ezkl;
mod history;
mod ingestion;
mod pipeline;
mod schedules;
mod tick_cost;
pub mod alignment;
pub mod charts;
pub mod plot;
pub mod anvil;
pub mod compute;
pub mod consensus;
pub mod proofs;
pub mod precompiles;
pub mod da;
pub mod gpu;
pub mod gpu_erasure;
pub mod kv;
pub mod llm;
pub mod da_network;
pub mod settlement;
pub mod storage;
pub mod tracking;
pub mod training;
pub mod training_overhead;
pub mod verified_chain;

pub use embed::{EmbedReport, EmbedSetup, embed};
pub use history::{HistoryReport, history_cost};
pub use ingestion::{RpcReport, rpc_ingestion};
pub use pipeline::{ExecutionReport, PipelineTimes, SustainedReport, execution, prepared_bare_db, run_bare, run_pipeline, sustained};
pub use schedules::{ScheduleRun, schedules};
pub use tick_cost::{TickReport, tick, tick_node};

use alloy_consensus::TxEnvelope;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue, sol};
use revm::database::{CacheDB, EmptyDB};
use revm::state::{AccountInfo as RevmAccountInfo, Bytecode};
use revm::{ExecuteCommitEvm, MainBuilder, MainContext};
use std::time::{Duration, Instant};

use zg_components::chain::{ChainSpec, Genesis, GrantEntry};
use zg_systems::chain::{evm, mempool, producer};

use crate::node::Node;
use crate::store::ChainStore;

pub const BENCH_CHAIN_ID: u64 = 7777;
/// Most transactions `execution` puts in its one block (its gas limit is 2 billion; an ERC-20
/// transfer to a new holder costs about 52,000 gas).
pub const MAX_BLOCK_TXS: usize = 30_000;
const TOKEN_ARTIFACT: &str = include_str!("../../../assets/contracts/ZgToken.json");

sol! {
    function transfer(address to, uint256 value) external returns (bool);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Plain value transfers between distinct accounts.
    EthTransfers,
    /// ERC-20 `transfer` calls on one token contract.
    Erc20Transfers,
}

/// Signed transactions, their senders and the genesis that funds them.
pub struct Fixture {
    pub genesis: Genesis,
    /// Transactions that must run before the measured ones (token deployment).
    pub setup: Vec<(TxEnvelope, Address)>,
    pub txs: Vec<(TxEnvelope, Address)>,
}

fn key(index: u64) -> PrivateKeySigner {
    let mut bytes = [0x11u8; 32];
    bytes[24..].copy_from_slice(&(index + 1).to_be_bytes());
    PrivateKeySigner::from_slice(&bytes).expect("valid key")
}

fn sign(signer: &PrivateKeySigner, to: TxKind, value: U256, input: Bytes, nonce: u64, gas: u64) -> TxEnvelope {
    crate::signing::sign_eip1559(signer, BENCH_CHAIN_ID, to, value, input, nonce, gas)
}

/// `count` transactions of the workload, from `senders` funded accounts (each sends
/// `count / senders`, in nonce order), to fresh recipients.
pub fn fixture(workload: Workload, count: usize, senders: usize) -> Fixture {
    let senders = senders.clamp(1, count.max(1));
    let keys: Vec<PrivateKeySigner> = (0..senders as u64).map(key).collect();
    let mut genesis = Genesis::zero_gravity(BENCH_CHAIN_ID);
    genesis.gas_limit = 2_000_000_000;
    genesis.grants = keys
        .iter()
        .map(|k| GrantEntry { address: k.address(), tokens: 1_000, from: "ecosystem".into() })
        .collect();
    let recipient = |i: usize| Address::from_word(alloy_primitives::keccak256((i as u64).to_be_bytes()));
    let mut setup = Vec::new();
    let mut first_nonce = 0;
    let token = match workload {
        Workload::EthTransfers => None,
        Workload::Erc20Transfers => {
            // Sender 0 deploys and hands every other sender tokens, before measuring.
            let artifact: serde_json::Value = serde_json::from_str(TOKEN_ARTIFACT).expect("artifact");
            let mut code = alloy_primitives::hex::decode(artifact["bytecode"].as_str().expect("bytecode")).expect("hex");
            code.extend(("Bench".to_string(), "BEN".to_string(), U256::from(u64::MAX)).abi_encode_params());
            let deployer = &keys[0];
            setup.push((sign(deployer, TxKind::Create, U256::ZERO, code.into(), 0, 3_000_000), deployer.address()));
            let token = deployer.address().create(0);
            for (i, k) in keys.iter().enumerate().skip(1) {
                let input = transferCall { to: k.address(), value: U256::from(1u64 << 40) }.abi_encode();
                setup.push((sign(deployer, TxKind::Call(token), U256::ZERO, input.into(), i as u64, 100_000), deployer.address()));
            }
            first_nonce = keys.len() as u64;
            Some(token)
        }
    };
    let txs = (0..count)
        .map(|i| {
            let sender = &keys[i % senders];
            let nonce = (i / senders) as u64 + if i % senders == 0 { first_nonce } else { 0 };
            let tx = match token {
                None => sign(sender, TxKind::Call(recipient(i)), U256::from(1), Bytes::new(), nonce, 21_000),
                Some(token) => {
                    let input = transferCall { to: recipient(i), value: U256::from(1) }.abi_encode();
                    sign(sender, TxKind::Call(token), U256::ZERO, input.into(), nonce, 100_000)
                }
            };
            (tx, sender.address())
        })
        .collect();
    Fixture { genesis, setup, txs }
}

fn bench_spec(genesis: &Genesis) -> ChainSpec {
    let mut spec = ChainSpec::dev(genesis.chain_id, Address::repeat_byte(0xc0));
    spec.block_gas_limit = genesis.gas_limit;
    spec.max_pool_size = 1_000_000;
    spec.max_nonce_gap = 1_000_000;
    spec
}

/// A node on a fresh on-disk database with the fixture's setup already sealed.
pub fn prepared_node(fixture: &Fixture, dir: &std::path::Path) -> Node {
    prepared_node_with(fixture, dir, crate::store::HistoryPolicy::default())
}

fn prepared_node_with(fixture: &Fixture, dir: &std::path::Path, history: crate::store::HistoryPolicy) -> Node {
    let store = ChainStore::open(&dir.join("bench.redb")).expect("bench database").with_history(history);
    let mut node = Node::new(bench_spec(&fixture.genesis), &fixture.genesis, store).expect("bench node");
    if !fixture.setup.is_empty() {
        for (tx, sender) in &fixture.setup {
            mempool::admit(node.world_mut(), tx.clone(), *sender).expect("setup admitted");
        }
        let block = producer::seal_block(node.world_mut(), 1);
        assert!(block.receipts.iter().all(|r| r.success), "bench setup failed");
        node.store().write_block(&block).expect("setup persisted");
    }
    node
}


/// The `p` quantile (nearest rank) of values sorted ascending; 0 for none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub(crate) fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(|a, b| a.total_cmp(b));
    values
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

