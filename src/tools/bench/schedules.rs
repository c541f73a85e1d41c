//! `zgnode bench schedules`: each role set's tick schedule run by bevy's single-threaded
//! executor and by its multi-threaded one, on the same load in the same run: idle ticks, and
//! ticks that seal a block of transfers. Which executor the node runs is decided by these
//! figures (`NodeBuilder::start` uses the multi-threaded one; a host that ticks its own node
//! keeps its choice, `NodeBuilder::parallel_systems`).

use super::*;
use crate::node::FileTracking;

#[derive(Debug, Clone)]
pub struct ScheduleRun {
    pub roles: &'static str,
    pub executor: &'static str,
    /// Mean µs per tick with nothing to do.
    pub idle_us: f64,
    /// Mean µs per tick that admits and seals `txs_per_block` transfers.
    pub block_us: f64,
    pub txs_per_block: usize,
}

fn node_with(roles: FileTracking, parallel: bool) -> (Node, crate::node::NodeHandle) {
    let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    let mut spec = bench_spec(&genesis);
    // A block whenever transactions wait: one per loaded tick.
    spec.block_time_ms = 0;
    let store = ChainStore::in_memory().expect("memory db");
    let mut node = Node::new_embedded(spec, &genesis, store, crate::node::BlockCommits::InTick, roles).expect("node");
    if !parallel {
        node.schedule_mut().set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
    }
    let handle = node.handle_with(crate::dev::dev_signers());
    (node, handle)
}

/// Every role set × both executors: `idle_ticks` idle ticks, then `blocks` ticks of
/// `txs_per_block` transfers each (signed on the host before the tick; only the tick is timed).
pub fn schedules(idle_ticks: usize, blocks: usize, txs_per_block: usize) -> Vec<ScheduleRun> {
    let role_sets = [("chain (embedded dev chain)", FileTracking::Off), ("chain + storage + DA + compute (zgnode dev)", FileTracking::FromGenesis)];
    let senders: Vec<Address> = crate::dev::dev_accounts().iter().map(|a| a.address).collect();
    let mut runs = Vec::new();
    for (roles, tracking) in role_sets {
        for (executor, parallel) in [("single-threaded", false), ("multi-threaded", true)] {
            let (mut node, handle) = node_with(tracking, parallel);
            let mut now = 1_900_000_000_000u64;
            let mut tick = |node: &mut Node| {
                now += 16;
                let started = Instant::now();
                node.tick(now).expect("tick");
                started.elapsed()
            };
            for _ in 0..50 {
                tick(&mut node);
            }
            let idle: Duration = (0..idle_ticks).map(|_| tick(&mut node)).sum();
            let mut loaded = Duration::ZERO;
            for block in 0..blocks {
                for i in 0..txs_per_block {
                    let from = senders[i % senders.len()];
                    let to = Address::from_word(alloy_primitives::keccak256((block * txs_per_block + i).to_be_bytes()));
                    handle.send(from, crate::node::TxRequest::transfer(to, U256::from(1)).with_gas(21_000)).expect("transfer accepted");
                }
                loaded += tick(&mut node);
            }
            runs.push(ScheduleRun {
                roles,
                executor,
                idle_us: idle.as_secs_f64() * 1e6 / idle_ticks.max(1) as f64,
                block_us: loaded.as_secs_f64() * 1e6 / blocks.max(1) as f64,
                txs_per_block,
            });
        }
    }
    runs
}
