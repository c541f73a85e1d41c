//! Benchmark workloads shared by `zgnode bench` and the criterion benches in `benches/`.
//! Every figure is compared with a baseline measured in the same run.

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
const TOKEN_ARTIFACT: &str = include_str!("../assets/contracts/ZgToken.json");

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
    crate::dev::sign_eip1559(signer, BENCH_CHAIN_ID, to, value, input, nonce, gas)
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

/// Pool admission, block building, revm execution, state root and the redb commit of one
/// block holding every measured transaction. Returns (elapsed, gas used).
pub fn run_pipeline(node: &mut Node, fixture: &Fixture) -> PipelineTimes {
    let trie_before = node.world().resource::<zg_components::chain::StateTrie>().0.clone();
    let started = Instant::now();
    for (tx, sender) in &fixture.txs {
        mempool::admit(node.world_mut(), tx.clone(), *sender).expect("admitted");
    }
    let admitted = Instant::now();
    let block = producer::seal_block(node.world_mut(), 2);
    let sealed = Instant::now();
    node.store().write_block(&block).expect("persisted");
    let persisted = Instant::now();
    assert_eq!(block.receipts.len(), fixture.txs.len(), "every transaction made it into the block");
    let commitments = commitments_alone(node, trie_before, &block);
    PipelineTimes {
        total: persisted - started,
        admit: admitted - started,
        seal: sealed - admitted,
        persist: persisted - sealed,
        commitments,
        gas_used: block.header.gas_used,
    }
}

/// What the block's Ethereum commitments cost by themselves, with the node's own code: the
/// changed accounts written into the state trie as it was before the block and its root, and
/// the transactions and receipts roots (blooms included). Storage roots are taken as computed,
/// so this is a lower bound on the work any node that commits to its state each block does on
/// top of execution.
fn commitments_alone(node: &mut Node, mut trie: zg_components::chain::MerkleTrie, block: &zg_components::chain::CommittedBlock) -> Duration {
    use alloy_eips::eip2718::Encodable2718;
    use rayon::prelude::*;
    use zg_components::chain::{AccountIndex, AccountStorage, TxReceipt};
    let world = node.world_mut();
    let leaves: Vec<(alloy_primitives::B256, Vec<u8>)> = block
        .changes
        .iter()
        .map(|change| {
            let value = change
                .info
                .map(|info| {
                    let entity = world.resource::<AccountIndex>().0.get(&change.address).copied();
                    let root = entity
                        .and_then(|entity| world.get_mut::<AccountStorage>(entity).map(|mut storage| storage.root()))
                        .unwrap_or(alloy_trie::EMPTY_ROOT_HASH);
                    info.trie_value(root)
                })
                .unwrap_or_default();
            (alloy_primitives::keccak256(change.address), value)
        })
        .collect();
    let started = Instant::now();
    let (state_root, (transactions_root, receipts_root)) = rayon::join(
        || {
            for (key, value) in leaves {
                trie.insert(key, value);
            }
            trie.root()
        },
        || {
            rayon::join(
                || alloy_trie::root::ordered_trie_root_with_encoder(&block.transactions, |(tx, _), buf| tx.encode_2718(buf)),
                || {
                    let envelopes: Vec<_> = block.receipts.par_iter().map(TxReceipt::envelope).collect();
                    alloy_consensus::proofs::calculate_receipt_root(&envelopes)
                },
            )
        },
    );
    let took = started.elapsed();
    assert_eq!(
        (state_root, transactions_root, receipts_root),
        (block.header.state_root, block.header.transactions_root, block.header.receipts_root),
        "the commitments rebuilt match the block's"
    );
    took
}

/// Where one pipeline run spent its time.
#[derive(Clone, Copy, Debug)]
pub struct PipelineTimes {
    pub total: Duration,
    /// Stateful pool checks and mempool entities.
    pub admit: Duration,
    /// Selection, revm execution, state application, state/tx/receipt roots.
    pub seal: Duration,
    /// One redb write transaction, fsynced.
    pub persist: Duration,
    /// The state, transactions and receipts roots alone, measured apart (a floor; see
    /// `commitments_alone`).
    pub commitments: Duration,
    pub gas_used: u64,
}

/// The same transactions through bare revm: an in-memory `CacheDB`, `transact_commit` each.
pub fn prepared_bare_db(fixture: &Fixture) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    for (address, balance) in fixture.genesis.balances().expect("valid genesis") {
        db.insert_account_info(address, RevmAccountInfo::new(balance, 0, alloy_trie::KECCAK_EMPTY, Bytecode::default()));
    }
    if !fixture.setup.is_empty() {
        run_bare(&mut db, &fixture.genesis, &fixture.setup);
    }
    db
}

pub fn run_bare(db: &mut CacheDB<EmptyDB>, genesis: &Genesis, txs: &[(TxEnvelope, Address)]) -> Duration {
    let block = evm::block_env(1, 1, Address::repeat_byte(0xc0), genesis.gas_limit, 0, Default::default());
    let started = Instant::now();
    let mut evm = revm::Context::mainnet()
        .with_db(db)
        .with_cfg(evm::cfg_env(genesis.chain_id))
        .with_block(block)
        .build_mainnet();
    for (tx, sender) in txs {
        let result = evm.transact_commit(evm::tx_env(tx, *sender)).expect("bare revm executes");
        debug_assert!(result.is_success());
    }
    started.elapsed()
}


#[derive(Debug, Clone)]
pub struct ExecutionReport {
    pub workload: Workload,
    pub transactions: usize,
    pub pipeline_tps: f64,
    pub bare_revm_tps: f64,
    pub mgas_per_s: f64,
    /// The median pipeline run.
    pub breakdown: PipelineTimes,
}

impl ExecutionReport {
    pub fn ratio(&self) -> f64 {
        self.pipeline_tps / self.bare_revm_tps
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs both sides `rounds` times on fresh state and reports medians.
pub fn execution(workload: Workload, count: usize, senders: usize, rounds: usize) -> ExecutionReport {
    let fixture = fixture(workload, count, senders);
    let mut runs = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..rounds.max(1) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = prepared_node(&fixture, dir.path());
        runs.push(run_pipeline(&mut node, &fixture));
        let mut db = prepared_bare_db(&fixture);
        bare.push(run_bare(&mut db, &fixture.genesis, &fixture.txs));
    }
    runs.sort_by_key(|run| run.total);
    let run = runs[runs.len() / 2];
    let bare = median(bare);
    ExecutionReport {
        workload,
        transactions: count,
        pipeline_tps: count as f64 / run.total.as_secs_f64(),
        bare_revm_tps: count as f64 / bare.as_secs_f64(),
        mgas_per_s: run.gas_used as f64 / run.total.as_secs_f64() / 1e6,
        breakdown: run,
    }
}

#[derive(Debug, Clone)]
pub struct TickReport {
    pub idle_us: f64,
    pub accounts: usize,
    pub touching_us: f64,
    /// Mean µs per run of each system in the touching node: the per-system profile.
    pub systems_us: Vec<(&'static str, f64)>,
}

/// Marks every account entity changed, in parallel: the cost of a system touching them all.
fn touch_every_account(
    mut accounts: bevy_ecs::prelude::Query<&mut zg_components::chain::AccountInfo>,
    profile: bevy_ecs::prelude::Res<zg_components::node::TickProfile>,
) {
    use bevy_ecs::change_detection::DetectChangesMut;
    let _timer = zg_systems::profile::SystemTimer::of(&profile, "touch_every_account");
    accounts.par_iter_mut().for_each(|mut info| {
        info.set_changed();
    });
}

/// A node whose genesis holds `accounts` extra accounts and which never seals a block; with
/// `touching`, its tick also runs a system that touches every account entity.
pub fn tick_node(accounts: usize, touching: bool) -> Node {
    use bevy_ecs::prelude::IntoScheduleConfigs;
    let mut genesis = Genesis::zero_gravity(BENCH_CHAIN_ID);
    genesis.grants = (0..accounts as u64)
        .map(|i| GrantEntry {
            address: Address::from_word(alloy_primitives::keccak256(i.to_be_bytes())),
            tokens: 1,
            from: "ecosystem".into(),
        })
        .collect();
    let mut spec = bench_spec(&genesis);
    spec.block_time_ms = u64::MAX / 4;
    let mut node = Node::new(spec, &genesis, ChainStore::in_memory().expect("memory db")).expect("node");
    if touching {
        node.schedule_mut().add_systems(touch_every_account.in_set(zg_systems::TickSet::Execute));
    }
    for warmup in 0..10 {
        node.tick(1_000 + warmup).expect("tick");
    }
    node
}

/// Mean tick time of an idle node, and of one whose tick touches `accounts` account entities.
pub fn tick(accounts: usize, ticks: usize) -> TickReport {
    let measure = |node: &mut Node| {
        let started = Instant::now();
        for i in 0..ticks as u64 {
            node.tick(2_000 + i).expect("tick");
        }
        started.elapsed().as_secs_f64() * 1e6 / ticks.max(1) as f64
    };
    let idle_us = measure(&mut tick_node(accounts, false));
    let mut touching = tick_node(accounts, true);
    let touching_us = measure(&mut touching);
    let profile = touching.world().resource::<zg_components::node::TickProfile>().snapshot();
    let systems_us = profile
        .totals
        .iter()
        .map(|(name, (runs, total))| (*name, total.as_secs_f64() * 1e6 / (*runs).max(1) as f64))
        .collect();
    TickReport { idle_us, accounts, touching_us, systems_us }
}

#[derive(Debug, Clone)]
pub struct RpcReport {
    pub transactions: usize,
    pub concurrency: usize,
    pub tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub blocks: usize,
}

/// Sustained eth_sendRawTransaction from HTTP clients on loopback into sealed blocks: throughput
/// from the first send to the last receipt, and send-to-receipt latency (a receipt exists once
/// its block is persisted, which is when the node announces it).
pub async fn rpc_ingestion(count: usize, senders: usize, concurrency: usize, block_time_ms: u64) -> anyhow::Result<RpcReport> {
    use jsonrpsee::core::client::ClientT;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use zg_components::node::NodeEvent;

    let fixture = fixture(Workload::EthTransfers, count, senders);
    let dir = tempfile::tempdir()?;
    let mut config = crate::NodeConfig::default();
    config.node.data_dir = dir.path().to_path_buf();
    config.node.tick_ms = 1;
    config.chain.block_time_ms = block_time_ms;
    config.rpc.addr = "127.0.0.1:0".parse()?;
    config.txpool.max_size = count + 1;
    config.txpool.max_nonce_gap = count as u64 + 1;
    let node = crate::RunningNode::start(&config, &fixture.genesis).await?;
    let url = node.rpc_url();

    let committed: Arc<Mutex<HashMap<alloy_primitives::B256, Instant>>> = Arc::default();
    let blocks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut events = node.subscribe();
    let (watch_committed, watch_blocks) = (committed.clone(), blocks.clone());
    tokio::spawn(async move {
        while let Ok(NodeEvent::BlockCommitted(block)) = events.recv().await {
            let now = Instant::now();
            if !block.receipts.is_empty() {
                watch_blocks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let mut committed = watch_committed.lock().expect("not poisoned");
            for receipt in &block.receipts {
                committed.insert(receipt.tx_hash, now);
            }
        }
    });

    // Each client task owns whole senders, so every sender's nonces arrive in order.
    let concurrency = concurrency.clamp(1, senders.max(1));
    let mut lanes: Vec<Vec<(alloy_primitives::B256, String)>> = vec![Vec::new(); concurrency];
    let sender_count = senders.clamp(1, count.max(1));
    for (i, (tx, _)) in fixture.txs.iter().enumerate() {
        let raw = alloy_primitives::hex::encode_prefixed(alloy_eips::eip2718::Encodable2718::encoded_2718(tx));
        lanes[(i % sender_count) % concurrency].push((*tx.tx_hash(), raw));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in lanes {
        let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&url)?;
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::with_capacity(lane.len());
            for (hash, raw) in lane {
                let at = Instant::now();
                let _: alloy_primitives::B256 =
                    client.request("eth_sendRawTransaction", jsonrpsee::rpc_params![raw]).await?;
                sent.push((hash, at));
            }
            anyhow::Ok(sent)
        }));
    }
    let mut sent = Vec::with_capacity(count);
    for task in tasks {
        sent.extend(task.await??);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if committed.lock().expect("not poisoned").len() >= count {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "not every transaction was sealed within 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let committed = committed.lock().expect("not poisoned").clone();
    let mut latencies: Vec<Duration> = sent.iter().map(|(hash, at)| committed[hash].saturating_duration_since(*at)).collect();
    latencies.sort();
    let last = committed.values().max().copied().unwrap_or(started);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    let report = RpcReport {
        transactions: count,
        concurrency,
        tps: count as f64 / last.duration_since(started).as_secs_f64(),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        blocks: blocks.load(std::sync::atomic::Ordering::Relaxed),
    };
    node.stop().await?;
    Ok(report)
}

/// What keeping state history costs on disk: the same blocks of transfers written with every
/// block's history kept (archive) and with one block's, database file sizes compared.
#[derive(Clone, Debug)]
pub struct HistoryReport {
    pub blocks: usize,
    pub per_block: usize,
    pub archive_bytes: u64,
    pub minimal_bytes: u64,
    pub archive_ms_per_block: f64,
    pub minimal_ms_per_block: f64,
}

impl HistoryReport {
    /// Disk per block that archive mode adds.
    pub fn history_bytes_per_block(&self) -> f64 {
        (self.archive_bytes as f64 - self.minimal_bytes as f64) / self.blocks as f64
    }
}

pub fn history_cost(blocks: usize, per_block: usize, senders: usize) -> HistoryReport {
    let senders = senders.clamp(1, per_block);
    let fixture = fixture(Workload::EthTransfers, blocks * per_block, senders);
    let run = |policy: crate::store::HistoryPolicy| -> (u64, f64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = prepared_node_with(&fixture, dir.path(), policy);
        let started = Instant::now();
        for (index, chunk) in fixture.txs.chunks(per_block).enumerate() {
            for (tx, sender) in chunk {
                mempool::admit(node.world_mut(), tx.clone(), *sender).expect("admitted");
            }
            let block = producer::seal_block(node.world_mut(), 10 + index as u64);
            node.store().write_block(&block).expect("persisted");
        }
        let elapsed = started.elapsed().as_secs_f64() * 1e3 / blocks as f64;
        drop(node);
        let size = std::fs::metadata(dir.path().join("bench.redb")).map(|m| m.len()).unwrap_or_default();
        (size, elapsed)
    };
    let (minimal_bytes, minimal_ms_per_block) = run(crate::store::HistoryPolicy::recent(1));
    let (archive_bytes, archive_ms_per_block) = run(crate::store::HistoryPolicy::archive());
    HistoryReport { blocks, per_block, archive_bytes, minimal_bytes, archive_ms_per_block, minimal_ms_per_block }
}

/// Blocks in a row through the node's own schedule (automine, the pool filled first): each
/// block's redb commit inline, against the dev chain's writer thread committing block N while
/// N+1 executes; bare revm on the same transactions in the same run.
#[derive(Clone, Debug)]
pub struct SustainedReport {
    pub blocks: usize,
    pub per_block: usize,
    pub inline_tps: f64,
    pub overlapped_tps: f64,
    pub bare_revm_tps: f64,
}

pub fn sustained(workload: Workload, blocks: usize, per_block: usize, senders: usize) -> SustainedReport {
    let fixture = fixture(workload, blocks * per_block, senders);
    let gas_per_tx = fixture.txs.first().map(|(tx, _)| alloy_consensus::Transaction::gas_limit(tx)).unwrap_or(21_000);
    let run = |overlapped: bool| -> f64 {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = prepared_node(&fixture, dir.path());
        if !overlapped {
            node.world_mut().remove_resource::<zg_systems::chain::writer::BlockWriter>();
        }
        {
            let mut spec = node.world_mut().resource_mut::<ChainSpec>();
            spec.block_time_ms = 0;
            spec.block_gas_limit = gas_per_tx * per_block as u64;
        }
        for (tx, sender) in &fixture.txs {
            mempool::admit(node.world_mut(), tx.clone(), *sender).expect("admitted");
        }
        let start_head = node.world().resource::<zg_components::chain::ChainHead>().number();
        let target = start_head + blocks as u64;
        let started = Instant::now();
        let mut now_ms = 1_000_000;
        loop {
            now_ms += 1;
            node.tick(now_ms).expect("bench node ticks");
            let sealed = node.world().resource::<zg_components::chain::ChainHead>().number() >= target;
            let on_disk = node.store().head_number().ok().flatten().unwrap_or_default() >= target;
            if sealed && on_disk {
                break;
            }
        }
        fixture.txs.len() as f64 / started.elapsed().as_secs_f64()
    };
    let inline_tps = run(false);
    let overlapped_tps = run(true);
    let mut db = prepared_bare_db(&fixture);
    let bare = run_bare(&mut db, &fixture.genesis, &fixture.txs);
    SustainedReport {
        blocks,
        per_block,
        inline_tps,
        overlapped_tps,
        bare_revm_tps: fixture.txs.len() as f64 / bare.as_secs_f64(),
    }
}
