//! `zgnode bench embed`: what a node ticked by a game costs per 60 Hz frame.
//!
//! The host's loop as a game runs it: a dev node built by [`NodeBuilder`], one block per frame
//! (16 ms block time, the clock advanced 1/60 s per frame, no sleeping), N game transactions
//! (calls of the `Crafting` contract's `gather`, one per player, players each with their own
//! account) handed to the node each frame through the typed handle, then one tick. Measured per
//! frame: the tick (the node's share of the frame: admission, execution, state root, commit,
//! events) and, separately, the host's submission (the handle's decoding and sender check).
//! Baseline in the same run: bare revm executing the same frame's calls on an in-memory
//! `CacheDB` (no pool, no trie, no database).

use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use alloy_eips::eip2718::Encodable2718;
use revm::database::{CacheDB, EmptyDB};
use revm::state::{AccountInfo as RevmAccountInfo, Bytecode};
use revm::{ExecuteCommitEvm, MainBuilder, MainContext};
use std::time::{Duration, Instant};

use zg_components::chain::GrantEntry;
use zg_systems::chain::evm;

use super::{percentile, sorted};
use crate::assembly::NodeBuilder;
use crate::node::TxRequest;

sol! {
    function gather(uint8 resource) external;
}

const CRAFTING_ARTIFACT: &str = include_str!("../../../assets/contracts/Crafting.json");
const FRAME_MS: f64 = 1000.0 / 60.0;
const GATHER_GAS: u64 = 80_000;

/// How the measured node is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmbedSetup {
    /// The chain in a redb file (an fsync per block) instead of memory.
    pub on_disk: bool,
    /// Blocks committed on the node's writer thread, off the frame ([`NodeBuilder::commit_on_thread`]).
    pub commit_on_thread: bool,
}

/// One load's per-frame costs, in milliseconds.
#[derive(Clone, Debug)]
pub struct EmbedReport {
    pub txs_per_frame: usize,
    pub setup: EmbedSetup,
    pub frames: usize,
    pub tick_p50_ms: f64,
    pub tick_p99_ms: f64,
    pub tick_max_ms: f64,
    pub submit_p50_ms: f64,
    /// Everything the game thread pays per frame: handing the transactions over, the tick,
    /// taking the committed blocks (p50, p99).
    pub frame_p50_ms: f64,
    pub frame_p99_ms: f64,
    /// Bare revm on the same frame's calls (p50).
    pub bare_p50_ms: f64,
    /// Blocks the node committed during the measured frames, and the transactions in them.
    pub blocks: u64,
    pub mined: u64,
    /// Where the tick's time went: each timed system's mean ms per frame, largest first.
    pub systems_ms: Vec<(&'static str, f64)>,
}



/// Runs `frames` measured frames (after `warmup` unmeasured ones) with `txs_per_frame` game
/// transactions each, on a node built as `setup` says.
pub fn embed(txs_per_frame: usize, frames: usize, warmup: usize, setup: EmbedSetup) -> anyhow::Result<EmbedReport> {
    let players: Vec<PrivateKeySigner> = (0..txs_per_frame.max(1) as u64).map(super::key).collect();
    let mut genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    genesis.gas_limit = genesis.gas_limit.max(GATHER_GAS * txs_per_frame as u64 * 2);
    genesis.grants.extend(players.iter().map(|k| GrantEntry { address: k.address(), tokens: 10, from: "ecosystem".into() }));
    let dir = tempfile::tempdir()?;
    let mut builder = NodeBuilder::dev().with_genesis(genesis.clone()).block_time(Duration::from_millis(16)).skip_empty_blocks();
    if setup.on_disk {
        builder = builder.data_dir(dir.path());
    }
    if setup.commit_on_thread {
        builder = builder.commit_on_thread();
    }
    let (mut node, chain) = builder.build()?;
    let chain_id = chain.chain_id();

    // The game's contract, deployed before play.
    let artifact: serde_json::Value = serde_json::from_str(CRAFTING_ARTIFACT)?;
    let code: Bytes = artifact["bytecode"].as_str().unwrap_or_default().parse()?;
    let deployer = crate::dev::dev_accounts()[0].address;
    let deploy = chain.send(deployer, TxRequest::deploy(code.clone()))?;
    let mut now_ms = crate::node::now_ms() as f64;
    let (contract, deploy_block) = loop {
        now_ms += FRAME_MS;
        node.tick(now_ms as u64)?;
        if let Some(receipt) = chain.receipt(deploy.hash())? {
            let contract = receipt.contract_address_opt().ok_or_else(|| anyhow::anyhow!("the Crafting deployment failed"))?;
            break (contract, receipt.block_number);
        }
    };

    // Every frame's transactions, signed ahead: signing is the players' clients' work.
    let total = warmup + frames;
    let input: Bytes = gatherCall { resource: 0 }.abi_encode().into();
    let signed: Vec<Vec<(Vec<u8>, revm::context::TxEnv)>> = (0..total)
        .map(|frame| {
            players
                .iter()
                .take(txs_per_frame)
                .map(|player| {
                    let tx = crate::signing::sign_eip1559(player, chain_id, TxKind::Call(contract), U256::ZERO, input.clone(), frame as u64, GATHER_GAS);
                    let env = evm::tx_env(&tx, player.address());
                    (tx.encoded_2718(), env)
                })
                .collect()
        })
        .collect();

    // The baseline's state: the players funded, the contract's runtime code in place.
    let mut bare = CacheDB::new(EmptyDB::default());
    for player in &players {
        bare.insert_account_info(player.address(), RevmAccountInfo::new(U256::from(10u128.pow(19)), 0, alloy_trie::KECCAK_EMPTY, Bytecode::default()));
    }
    let runtime: Bytes = artifact["deployedBytecode"].as_str().unwrap_or_default().parse()?;
    bare.insert_account_info(contract, RevmAccountInfo::default().with_code(Bytecode::new_raw(runtime)));
    let bare_block = evm::block_env(1, 1, Address::repeat_byte(0xc0), genesis.gas_limit, 0, Default::default());

    let mut blocks = chain.blocks();
    let (mut ticks, mut submits, mut bares, mut frames_ms) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut block_count, mut mined, mut mined_total) = (0u64, 0u64, 0u64);
    let mut systems: std::collections::BTreeMap<&'static str, Duration> = Default::default();
    // Frames at 60 Hz in real time, as a game runs them: the writer thread and the recovery pool
    // get the rest of each frame, not the back-to-back loop a bench could run.
    let first_frame = Instant::now();
    for (frame, txs) in signed.iter().enumerate() {
        let due = first_frame + Duration::from_secs_f64(frame as f64 * FRAME_MS / 1e3);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let started = Instant::now();
        for (raw, _) in txs {
            chain.submit_raw(raw)?;
        }
        let submitted = started.elapsed();
        now_ms += FRAME_MS;
        let started = Instant::now();
        node.tick(now_ms as u64)?;
        let ticked = started.elapsed();
        let profile = node.world().resource::<zg_components::node::TickProfile>().take_last_tick();

        let started = Instant::now();
        {
            let mut evm = revm::Context::mainnet()
                .with_db(&mut bare)
                .with_cfg(evm::cfg_env(chain_id))
                .with_block(bare_block.clone())
                .build_mainnet();
            for (_, env) in txs {
                let result = evm.transact_commit(env.clone()).map_err(|e| anyhow::anyhow!("bare revm: {e:?}"))?;
                anyhow::ensure!(result.is_success(), "bare revm: a gather failed");
            }
        }
        let bare_took = started.elapsed();
        let started = Instant::now();
        let committed: Vec<_> = blocks.drain().into_iter().filter(|b| b.number > deploy_block).collect();
        let drained = started.elapsed();
        mined_total += committed.iter().map(|b| b.transactions.len() as u64).sum::<u64>();
        if frame >= warmup {
            ticks.push(ticked.as_secs_f64() * 1e3);
            submits.push(submitted.as_secs_f64() * 1e3);
            frames_ms.push((submitted + ticked + drained).as_secs_f64() * 1e3);
            bares.push(bare_took.as_secs_f64() * 1e3);
            block_count += committed.len() as u64;
            for (system, took) in profile {
                *systems.entry(system).or_default() += took;
            }
            mined += committed.iter().map(|b| b.transactions.len() as u64).sum::<u64>();
        }
    }
    // Blocks committed on the writer thread are announced a tick or two later: let them land.
    let mut all_mined = mined_total;
    for _ in 0..120 {
        if all_mined >= (total * txs_per_frame) as u64 {
            break;
        }
        // Frames in real time now: the writer thread needs it.
        std::thread::sleep(Duration::from_millis(16));
        now_ms += FRAME_MS;
        node.tick(now_ms as u64)?;
        all_mined += blocks.drain().iter().filter(|b| b.number > deploy_block).map(|b| b.transactions.len() as u64).sum::<u64>();
    }
    anyhow::ensure!(all_mined == (total * txs_per_frame) as u64, "{all_mined} of {} transactions were mined", total * txs_per_frame);
    let ticks = sorted(ticks);
    let frames_ms = sorted(frames_ms);
    let tick_max_ms = ticks.last().copied().unwrap_or_default();
    let mut systems_ms: Vec<(&'static str, f64)> =
        systems.into_iter().map(|(system, took)| (system, took.as_secs_f64() * 1e3 / frames as f64)).collect();
    systems_ms.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(EmbedReport {
        txs_per_frame,
        setup,
        frames,
        tick_p50_ms: percentile(&ticks, 0.5),
        tick_p99_ms: percentile(&ticks, 0.99),
        tick_max_ms,
        submit_p50_ms: percentile(&sorted(submits), 0.5),
        frame_p50_ms: percentile(&frames_ms, 0.5),
        frame_p99_ms: percentile(&frames_ms, 0.99),
        bare_p50_ms: percentile(&sorted(bares), 0.5),
        blocks: block_count,
        mined,
        systems_ms,
    })
}

/// `zgnode bench embed`'s table: one line per run.
pub fn print_header(frames: usize) {
    println!("embed: a dev node ticked at 60 Hz in real time (a frame starts every 16.7 ms), a 16 ms block per frame, Crafting.gather calls; {frames} frames per run");
    println!("  the game thread pays: handing the signed transactions over (decoding; senders are recovered on the node's pool) + the tick + taking the committed blocks");
    println!("  txs/frame | chain, commit   | game thread p50 / p99 ms | tick p50 / p99 / max ms | frame used (p50) | host submit p50 ms | bare revm p50 ms | tick / bare");
}

pub fn print(report: &EmbedReport) {
    let ratio = if report.bare_p50_ms > 0.0 { format!("{:.1}x", report.tick_p50_ms / report.bare_p50_ms) } else { "-".into() };
    println!(
        "  {:>9} | {:<15} | {:>11.2} / {:>10.2} | {:>6.2} / {:>6.2} / {:>6.2} | {:>15.1}% | {:>18.2} | {:>16.2} | {ratio}",
        report.txs_per_frame,
        match (report.setup.on_disk, report.setup.commit_on_thread) {
            (false, false) => "memory, in tick",
            (false, true) => "memory, thread",
            (true, false) => "disk, in tick",
            (true, true) => "disk, thread",
        },
        report.frame_p50_ms,
        report.frame_p99_ms,
        report.tick_p50_ms,
        report.tick_p99_ms,
        report.tick_max_ms,
        report.frame_p50_ms / FRAME_MS * 100.0,
        report.submit_p50_ms,
        report.bare_p50_ms,
    );
    let top: Vec<String> = report.systems_ms.iter().take(6).map(|(system, ms)| format!("{system} {ms:.2}")).collect();
    println!("            where the tick went (mean ms/frame): {}", top.join(", "));
    println!(
        "            committed during the measured frames: {} transactions in {} blocks ({:.1} a frame, {} handed over a frame)",
        report.mined,
        report.blocks,
        report.mined as f64 / report.frames.max(1) as f64,
        report.txs_per_frame
    );
}
