//! One simulated validator: the node's own consensus, execution and QUIC network, as
//! `zgnode run` assembles them for a validator, on a turmoil host. Its clock is the
//! simulation's; its store is in memory (the simulation measures the network, not disks).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::{Address, B256};
use zg_components::chain::{Genesis, PoolError};
use zg_components::node::{NodeEvent, NodeRequest, ReplyTo};
use zg_systems::chain::io::EventSink;
use zg_systems::consensus::engine::NoGuard;

use super::socket::{SimulatedUdp, WireCounters};
use crate::config::NodeConfig;
use crate::net::{PeerAddress, Transport, identity::Identity};
use crate::node::{ConsensusSetup, Node, Reach, start_network};
use crate::store::ChainStore;

/// The port every simulated validator listens on (each host has its own address).
pub const PORT: u16 = 9000;

pub fn host_name(index: usize) -> String {
    format!("validator-{index}")
}

/// A transaction of the load: due at `at_ms` (simulated, since the start), sent to one validator.
pub struct Scheduled {
    pub at_ms: u64,
    pub envelope: alloy_consensus::TxEnvelope,
    pub sender: Address,
    pub hash: B256,
}

/// A block as one validator committed it.
pub struct Commit {
    pub at_ms: u64,
    pub number: u64,
    pub hash: B256,
    pub transactions: Vec<B256>,
}

/// What every host writes down; read after the run.
#[derive(Default)]
pub struct Record {
    /// Per validator, in commit order.
    pub commits: Vec<Vec<Commit>>,
    /// (hash, validator it was sent to, when) for each transaction handed over.
    pub sent: Vec<(B256, usize, u64)>,
    pub refused: Vec<(B256, String)>,
}

/// What a host needs, shared by every host of the run.
pub struct Shared {
    pub genesis: Genesis,
    pub config: NodeConfig,
    pub identities: Vec<Identity>,
    pub loss: f64,
    pub seed: u64,
    pub counters: Vec<Arc<WireCounters>>,
    pub record: Arc<Mutex<Record>>,
    /// Per validator, its share of the load in time order; taken by its host on start.
    pub loads: Vec<Mutex<VecDeque<Scheduled>>>,
}

/// Milliseconds since the simulation started.
pub fn sim_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the Unix epoch on the simulated clock (what the node's tick is given).
fn sim_now_ms() -> u64 {
    turmoil::since_epoch().map_or(0, |d| d.as_millis() as u64)
}

struct CommitLog {
    index: usize,
    record: Arc<Mutex<Record>>,
}

impl EventSink for CommitLog {
    fn publish(&self, event: NodeEvent) {
        let NodeEvent::BlockCommitted(block) = event;
        let commit = Commit {
            at_ms: sim_ms(),
            number: block.header.number,
            hash: block.hash,
            transactions: block.transactions.iter().map(|(tx, _)| *tx.tx_hash()).collect(),
        };
        if let Ok(mut record) = self.record.lock() {
            record.commits[self.index].push(commit);
        }
    }
}

/// The validator's program: open the node, start its network on the simulated socket, tick it
/// every `tick_ms` of simulated time and hand it its share of the load when due.
pub async fn run_validator(shared: Arc<Shared>, index: usize) -> turmoil::Result {
    let own_ip = turmoil::lookup(host_name(index));
    // turmoil binds only the unspecified address (or localhost); peers reach it at `own_ip`.
    let socket = turmoil::net::UdpSocket::bind(SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), PORT)).await?;
    let seed = shared.seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9);
    let udp = SimulatedUdp::start(socket, shared.loss, seed, shared.counters[index].clone())?;
    let identity = shared.identities[index].clone();
    let peers: Vec<PeerAddress> = (0..shared.identities.len())
        .filter(|j| *j != index)
        .map(|j| PeerAddress { key: shared.identities[j].public(), addr: SocketAddr::new(lookup(j), PORT) })
        .collect();

    let config = &shared.config;
    let spec = crate::node::chain_spec(config, &shared.genesis);
    let setup = ConsensusSetup {
        key: identity.key.clone(),
        // In memory and never restarted: nothing to guard against.
        guard: Arc::new(NoGuard),
        timeouts: config.timeouts(),
        block_time_ms: config.chain.block_time_ms,
    };
    let max_tx_bytes = spec.max_tx_bytes;
    let (mut node, events) = Node::new_validator(spec, &shared.genesis, ChainStore::in_memory()?, setup)?;
    node.schedule_mut().set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
    let transport = Transport::Simulated { socket: udp, rng_seed: alloy_primitives::keccak256(seed.to_le_bytes()).0 };
    let reach = Reach { listen: SocketAddr::new(own_ip, PORT), peers, transport };
    // The same assembly as `zgnode run`'s validator, on the simulated socket.
    let _network = start_network(&mut node, events, identity, reach, shared.genesis.chain_id, max_tx_bytes)?;
    node.set_event_sink(Arc::new(CommitLog { index, record: shared.record.clone() }));

    let mut load = shared.loads[index].lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default();
    let tick = Duration::from_millis(config.node.tick_ms.max(1));
    loop {
        node.tick(sim_now_ms())?;
        let now = sim_ms();
        while load.front().is_some_and(|tx| tx.at_ms <= now) {
            let Some(tx) = load.pop_front() else { break };
            hand_over(&node, &shared.record, index, tx, now);
        }
        tokio::time::sleep(tick).await;
    }
}

fn lookup(index: usize) -> IpAddr {
    turmoil::lookup(host_name(index))
}

fn hand_over(node: &Node, record: &Arc<Mutex<Record>>, index: usize, tx: Scheduled, now: u64) {
    let hash = tx.hash;
    let refused = record.clone();
    let reply = ReplyTo::new(move |result: Result<B256, PoolError>| {
        if let (Err(error), Ok(mut record)) = (result, refused.lock()) {
            record.refused.push((hash, error.to_string()));
        }
    });
    let request = NodeRequest::SubmitTransaction { envelope: Box::new(tx.envelope), sender: tx.sender, reply };
    match node.requests().try_send(request) {
        Ok(()) => {
            if let Ok(mut record) = record.lock() {
                record.sent.push((hash, index, now));
            }
        }
        Err(_) => {
            if let Ok(mut record) = record.lock() {
                record.refused.push((hash, "the node's inbox is full".into()));
            }
        }
    }
}
