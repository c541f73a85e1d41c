//! `zgnode bench wan`: validators across continents, simulated deterministically. Each validator
//! is the node's own consensus, execution and QUIC network ([`host`]) on a turmoil host; turmoil
//! carries their UDP datagrams with the latency of the link between their regions ([`regions`]),
//! jitter and loss, on a simulated clock, so a seed replays the same run. Reported: time to
//! finality (a transaction handed to a validator until that validator commits its block), the
//! block interval, and the datagrams and bytes each validator sends.
//!
//! What the simulation leaves out, on purpose: CPU time. The simulated clock only moves between
//! steps, so execution, signature checks and QUIC's crypto cost nothing in it; the figures are
//! what the protocol and the network allow, not what a machine of a given size would reach.

mod host;
pub mod regions;
mod socket;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use zg_components::chain::{Genesis, GrantEntry};
use zg_systems::consensus::staking::GenesisValidator;

use crate::config::NodeConfig;
use crate::net::identity::Identity;
use crate::tools::bench::{percentile, sorted};
use crate::tools::seeded::SeededRng;
use host::{Record, Scheduled, Shared};
use socket::{WireCounters, WireSnapshot};

const CHAIN_ID: u64 = 9_100;
/// Accounts the load is sent from (each sends its nonces in order).
const SENDERS: u64 = 64;
/// Most validators: turmoil hands out one IPv4 address per host from a /24.
pub const MAX_VALIDATORS: usize = 250;

/// One run: how many validators, for how long, on what network.
#[derive(Clone, Debug)]
pub struct WanPlan {
    pub validators: usize,
    /// Simulated seconds measured, after `warmup_s` for the validators to connect.
    pub seconds: u64,
    pub warmup_s: u64,
    pub seed: u64,
    /// Probability each datagram is lost.
    pub loss: f64,
    /// How far past its link's one-way time a datagram may arrive, as a fraction of it.
    pub jitter: f64,
    /// Transactions handed to the validators each simulated second (round robin).
    pub tx_per_s: u64,
    pub block_time_ms: u64,
}

impl WanPlan {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_VALIDATORS).contains(&self.validators) {
            return Err(format!("--validators must be 1..={MAX_VALIDATORS} (got {})", self.validators));
        }
        if self.seconds == 0 {
            return Err("--seconds must be at least 1".into());
        }
        if !(0.0..=0.5).contains(&self.loss) {
            return Err(format!("--loss is a probability in 0..=0.5 (got {})", self.loss));
        }
        if !(0.0..=2.0).contains(&self.jitter) {
            return Err(format!("--jitter is a fraction of the one-way time in 0..=2 (got {})", self.jitter));
        }
        if self.tx_per_s > 10_000 {
            return Err(format!("--tx-per-s at most 10000 (got {})", self.tx_per_s));
        }
        if self.block_time_ms == 0 {
            return Err("--block-time-ms must be at least 1 (validators do not automine)".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct WanReport {
    pub validators: usize,
    pub seconds: u64,
    /// Blocks validator 0 committed in the measured window.
    pub blocks: usize,
    pub interval_p50_ms: f64,
    pub interval_p99_ms: f64,
    /// From the first validator's commit of a height to the last one's.
    pub spread_p50_ms: f64,
    pub spread_p99_ms: f64,
    pub sent: usize,
    /// Transactions committed by the validator they were handed to, by the end.
    pub finalized: usize,
    pub refused: usize,
    pub finality_p50_ms: f64,
    pub finality_p99_ms: f64,
    /// Per validator per measured second, mean over validators.
    pub datagrams_per_s: f64,
    pub kbytes_per_s: f64,
    /// Datagrams one validator sends per block, mean.
    pub datagrams_per_block: f64,
    pub lost: u64,
    /// Every validator committed the same block at each height they share.
    pub agreed: bool,
    /// The lowest head among the validators at the end, and the highest.
    pub heads: (u64, u64),
    /// A fingerprint of what happened (every commit's height, hash and simulated time on every
    /// validator): equal for two runs of one seed when the run replays.
    pub fingerprint: B256,
    pub wall: Duration,
}

/// A genesis for `identities` as equal-stake validators, with the load's senders funded: the
/// chain a validator network runs, less the storage, DA and compute contracts (their roles are
/// not simulated).
fn genesis(identities: &[Identity], senders: &[PrivateKeySigner], epoch_length: u64) -> anyhow::Result<Genesis> {
    use crate::tools::testnet::MIN_SELF_STAKE_TOKENS;
    let stake = U256::from(MIN_SELF_STAKE_TOKENS) * U256::from(10u64).pow(U256::from(18));
    let validators: Vec<GenesisValidator> = identities
        .iter()
        .enumerate()
        .map(|(i, id)| GenesisValidator {
            operator: Address::from_word(B256::from(U256::from(0x5100_0000u64 + i as u64))),
            consensus_key: id.public(),
            stake,
        })
        .collect();
    let mut genesis = Genesis::zero_gravity(CHAIN_ID);
    genesis.grants = senders.iter().map(|s| GrantEntry { address: s.address(), tokens: 1_000, from: "ecosystem".into() }).collect();
    crate::tools::testnet::add_validators(&mut genesis, &validators, epoch_length)?;
    genesis.validate()?;
    Ok(genesis)
}

/// The load: `tx_per_s` transfers a second over the measured window, round robin over the
/// validators, each from the next sender at its next nonce.
fn schedule_load(plan: &WanPlan, senders: &[PrivateKeySigner]) -> Vec<VecDeque<Scheduled>> {
    let mut loads: Vec<VecDeque<Scheduled>> = (0..plan.validators).map(|_| VecDeque::new()).collect();
    let total = plan.tx_per_s * plan.seconds;
    for k in 0..total {
        let sender = &senders[(k % SENDERS) as usize];
        let nonce = k / SENDERS;
        let to = TxKind::Call(Address::with_last_byte(0x77));
        let envelope = crate::signing::sign_eip1559(sender, CHAIN_ID, to, U256::from(1), Bytes::new(), nonce, 21_000);
        let at_ms = plan.warmup_s * 1_000 + k * 1_000 / plan.tx_per_s.max(1);
        let hash = *envelope.tx_hash();
        loads[(k as usize) % plan.validators].push_back(Scheduled { at_ms, envelope, sender: sender.address(), hash });
    }
    loads
}

/// Runs one simulation to its end. Blocking (turmoil runs its own runtimes): call it off any
/// tokio runtime.
pub fn run(plan: &WanPlan) -> anyhow::Result<WanReport> {
    plan.validate().map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let mut draws = SeededRng::new(plan.seed);
    let identities: Vec<Identity> = (0..plan.validators)
        .map(|_| {
            let mut seed = [0u8; 32];
            for chunk in seed.chunks_mut(8) {
                chunk.copy_from_slice(&draws.next_u64().to_le_bytes());
            }
            Identity::from_seed(seed)
        })
        .collect();
    let senders: Vec<PrivateKeySigner> = (0..SENDERS)
        .map(|i| {
            let mut bytes = [0x33u8; 32];
            bytes[24..].copy_from_slice(&(i + 1).to_be_bytes());
            PrivateKeySigner::from_slice(&bytes).map_err(|e| anyhow::anyhow!("load key: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut config = NodeConfig::default();
    config.chain.block_time_ms = plan.block_time_ms;
    let genesis = genesis(&identities, &senders, 1_000_000)?;
    let counters: Vec<Arc<WireCounters>> = (0..plan.validators).map(|_| Arc::default()).collect();
    let record = Arc::new(Mutex::new(Record { commits: (0..plan.validators).map(|_| Vec::new()).collect(), ..Default::default() }));
    let shared = Arc::new(Shared {
        genesis,
        config,
        identities,
        loss: plan.loss,
        seed: plan.seed,
        counters: counters.clone(),
        record: record.clone(),
        loads: schedule_load(plan, &senders).into_iter().map(Mutex::new).collect(),
    });

    // Every host runs on this thread: without RUST_LOG, a hundred nodes' start-up lines stay quiet.
    let (opened, closed) = if std::env::var_os("RUST_LOG").is_some() {
        simulate(plan, shared, &counters)
    } else {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || simulate(plan, shared, &counters))
    }?;

    let record = std::mem::take(&mut *record.lock().map_err(|_| anyhow::anyhow!("record poisoned"))?);
    Ok(report(plan, &record, &opened, &closed, started.elapsed()))
}

/// Builds the simulated network of `plan.validators` hosts and runs it to the end; returns the
/// wire counters as the measured window opened and closed.
fn simulate(plan: &WanPlan, shared: Arc<Shared>, counters: &[Arc<WireCounters>]) -> anyhow::Result<(Vec<WireSnapshot>, Vec<WireSnapshot>)> {
    let total_s = plan.warmup_s + plan.seconds;
    // Transactions sent near the end get a grace period to finalize.
    let drain_s = 3;
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(total_s + drain_s + 5))
        .tick_duration(Duration::from_millis(1))
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        .udp_capacity(1 << 20)
        .rng_seed(plan.seed)
        .build();
    for index in 0..plan.validators {
        let shared = shared.clone();
        sim.host(host::host_name(index), move || host::run_validator(shared.clone(), index));
    }
    for a in 0..plan.validators {
        for b in (a + 1)..plan.validators {
            let (name_a, name_b) = (host::host_name(a), host::host_name(b));
            sim.set_link_latency(name_a.as_str(), name_b.as_str(), regions::one_way(a, b));
            sim.set_link_max_message_latency(name_a.as_str(), name_b.as_str(), regions::one_way_max(a, b, plan.jitter));
        }
    }
    // The clock: snapshots the wire counters when the measured window opens and closes.
    let window: Arc<Mutex<(Vec<WireSnapshot>, Vec<WireSnapshot>)>> = Arc::default();
    let (clock_counters, clock_window, warmup, seconds) = (counters.to_vec(), window.clone(), plan.warmup_s, plan.seconds);
    sim.client("clock", async move {
        tokio::time::sleep(Duration::from_secs(warmup)).await;
        let opened = clock_counters.iter().map(|c| c.snapshot()).collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let closed = clock_counters.iter().map(|c| c.snapshot()).collect();
        if let Ok(mut w) = clock_window.lock() {
            *w = (opened, closed);
        }
        tokio::time::sleep(Duration::from_secs(drain_s)).await;
        Ok(())
    });
    sim.run().map_err(|e| anyhow::anyhow!("the simulation stopped: {e}"))?;
    drop(sim);
    let window = window.lock().map(|w| w.clone()).map_err(|_| anyhow::anyhow!("window poisoned"))?;
    Ok(window)
}

fn report(plan: &WanPlan, record: &Record, opened: &[WireSnapshot], closed: &[WireSnapshot], wall: Duration) -> WanReport {
    let (from_ms, to_ms) = (plan.warmup_s * 1_000, (plan.warmup_s + plan.seconds) * 1_000);
    let in_window: Vec<&host::Commit> = record.commits[0].iter().filter(|c| (from_ms..to_ms).contains(&c.at_ms)).collect();
    let intervals = sorted(in_window.windows(2).map(|w| (w[1].at_ms - w[0].at_ms) as f64).collect());

    // Finality: from the hand-over to the commit on the validator it was handed to.
    let mut committed_at: Vec<HashMap<B256, u64>> = vec![HashMap::new(); plan.validators];
    for (validator, commits) in record.commits.iter().enumerate() {
        for commit in commits {
            for tx in &commit.transactions {
                committed_at[validator].entry(*tx).or_insert(commit.at_ms);
            }
        }
    }
    let finality = sorted(
        record.sent.iter().filter_map(|(hash, validator, at)| committed_at[*validator].get(hash).map(|done| done.saturating_sub(*at) as f64)).collect(),
    );

    // Spread: how long a height takes to reach every validator once the first has it.
    let mut first_last: HashMap<u64, (u64, u64, usize)> = HashMap::new();
    for commit in record.commits.iter().flatten() {
        let entry = first_last.entry(commit.number).or_insert((commit.at_ms, commit.at_ms, 0));
        *entry = (entry.0.min(commit.at_ms), entry.1.max(commit.at_ms), entry.2 + 1);
    }
    let spreads = sorted(
        in_window.iter().filter_map(|c| first_last.get(&c.number)).filter(|(_, _, n)| *n == plan.validators).map(|(a, b, _)| (b - a) as f64).collect(),
    );

    // Agreement: one hash per height across every validator.
    let mut by_height: HashMap<u64, B256> = HashMap::new();
    let mut agreed = true;
    for commit in record.commits.iter().flatten() {
        agreed &= *by_height.entry(commit.number).or_insert(commit.hash) == commit.hash;
    }
    let heads: Vec<u64> = record.commits.iter().map(|c| c.last().map_or(0, |b| b.number)).collect();
    let mut fingerprint = alloy_primitives::Keccak256::new();
    for commit in record.commits.iter().flatten() {
        fingerprint.update(commit.number.to_be_bytes());
        fingerprint.update(commit.hash);
        fingerprint.update(commit.at_ms.to_be_bytes());
    }

    let deltas: Vec<WireSnapshot> = closed.iter().zip(opened).map(|(c, o)| c.since(o)).collect();
    let validators = plan.validators.max(1) as f64;
    let seconds = plan.seconds.max(1) as f64;
    let datagrams: u64 = deltas.iter().map(|d| d.datagrams_sent).sum();
    let bytes: u64 = deltas.iter().map(|d| d.bytes_sent).sum();
    WanReport {
        validators: plan.validators,
        seconds: plan.seconds,
        blocks: in_window.len(),
        interval_p50_ms: percentile(&intervals, 0.5),
        interval_p99_ms: percentile(&intervals, 0.99),
        spread_p50_ms: percentile(&spreads, 0.5),
        spread_p99_ms: percentile(&spreads, 0.99),
        sent: record.sent.len(),
        finalized: finality.len(),
        refused: record.refused.len(),
        finality_p50_ms: percentile(&finality, 0.5),
        finality_p99_ms: percentile(&finality, 0.99),
        datagrams_per_s: datagrams as f64 / validators / seconds,
        kbytes_per_s: bytes as f64 / 1e3 / validators / seconds,
        datagrams_per_block: if in_window.is_empty() { 0.0 } else { datagrams as f64 / validators / in_window.len() as f64 },
        lost: deltas.iter().map(|d| d.datagrams_lost).sum(),
        agreed,
        heads: (heads.iter().copied().min().unwrap_or(0), heads.iter().copied().max().unwrap_or(0)),
        fingerprint: fingerprint.finalize(),
        wall,
    }
}

pub fn print_header(plan: &WanPlan) {
    println!(
        "wan: validators in {} regions ({}), round trips 50-300 ms, jitter {:.0} %, loss {:.1} %, {} ms block time, \
         {} transfers/s, {} s measured after {} s, seed {} (simulated time; CPU time is not simulated)",
        regions::REGIONS.len(),
        regions::REGIONS.join(", "),
        plan.jitter * 100.0,
        plan.loss * 100.0,
        plan.block_time_ms,
        plan.tx_per_s,
        plan.seconds,
        plan.warmup_s,
        plan.seed
    );
    println!(
        "  validators | blocks  interval p50/p99 ms | commit spread p50/p99 ms | finalized/sent  finality p50/p99 ms | per validator: datagrams/s  KB/s  datagrams/block | agreed  heads  | wall s"
    );
}

pub fn print_row(r: &WanReport) {
    println!(
        "  {:>10} | {:>6}  {:>6.0} / {:<6.0}       | {:>9.0} / {:<12.0} | {:>6}/{:<6}  {:>8.0} / {:<8.0} | {:>25.0}  {:>5.1}  {:>15.0} | {:<6}  {}-{} | {:.1}",
        r.validators,
        r.blocks,
        r.interval_p50_ms,
        r.interval_p99_ms,
        r.spread_p50_ms,
        r.spread_p99_ms,
        r.finalized,
        r.sent,
        r.finality_p50_ms,
        r.finality_p99_ms,
        r.datagrams_per_s,
        r.kbytes_per_s,
        r.datagrams_per_block,
        r.agreed,
        r.heads.0,
        r.heads.1,
        r.wall.as_secs_f64()
    );
    if r.refused > 0 {
        println!("             {} transactions refused by the validator they were handed to", r.refused);
    }
    println!("             fingerprint {} ({} datagrams lost)", r.fingerprint, r.lost);
}

#[cfg(test)]
mod tests;
