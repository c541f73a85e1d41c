//! Validators in one process, wired by an in-memory router that can drop nodes and cut links:
//! the whole consensus path (engine, bodies, execution, sync, WAL replay) without sockets, on a
//! simulated clock, so every run is the same.

use alloy_primitives::{Address, B256, U256};
use bevy_ecs::prelude::*;
use malachite_ed25519::PrivateKey;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use zg_components::chain::{BlockHeader, BlockIndex, ChainHead};
use zg_components::consensus::{
    ConsensusSettings, NetEvent, NetInbox, NetMessage, PeerKey, PendingEvidence, ValidatorSet, WireVote,
};
use zg_components::chain::GrantEntry;
use zg_components::node::{Inbox, NodeRequest, ReplyTo, TickClock};

use super::driver::{ConsensusEngine, NetSink, NetSinkHandle};
use super::engine::{ConsensusWal, Engine, default_timeouts};
use super::{ConsensusPlugin, staking};
use crate::chain::io::PersistError;
use crate::chain::test_support::*;
use crate::chain::{ChainPlugin, genesis};
use crate::{NodePlugin, tick_schedule};

#[derive(Default)]
struct Capture(Mutex<Vec<(Option<PeerKey>, NetMessage)>>);

impl NetSink for Capture {
    fn send(&self, to: Option<PeerKey>, message: NetMessage) {
        self.0.lock().unwrap().push((to, message));
    }
}

#[derive(Default)]
pub struct MemWal(Mutex<BTreeMap<u64, Vec<Vec<u8>>>>);

impl ConsensusWal for MemWal {
    fn append(&self, height: u64, entry: &[u8], _durable: bool) -> Result<(), PersistError> {
        self.0.lock().unwrap().entry(height).or_default().push(entry.to_vec());
        Ok(())
    }

    fn entries(&self, height: u64) -> Result<Vec<Vec<u8>>, PersistError> {
        Ok(self.0.lock().unwrap().get(&height).cloned().unwrap_or_default())
    }
}

/// What a node committed, to answer sync requests and inspect decided blocks.
#[derive(Default)]
struct Committed(Mutex<Vec<Arc<zg_components::chain::CommittedBlock>>>);

impl crate::chain::io::EventSink for Committed {
    fn publish(&self, event: zg_components::node::NodeEvent) {
        let zg_components::node::NodeEvent::BlockCommitted(block) = event;
        self.0.lock().unwrap().push(block);
    }
}

struct TestNode {
    world: World,
    committed: Arc<Committed>,
    schedule: Schedule,
    key: PrivateKey,
    sent: Arc<Capture>,
    inbox: crossbeam_channel::Sender<NetEvent>,
    requests: crossbeam_channel::Sender<NodeRequest>,
    wal: Arc<MemWal>,
    up: bool,
}

fn keys(n: u8) -> Vec<PrivateKey> {
    (1..=n).map(|i| PrivateKey::from([i; 32])).collect()
}

const STAKING_ARTIFACT: &str = include_str!("../../../../assets/contracts/Staking.json");
const STAKE_TOKENS: u64 = 100;
const EPOCH: u64 = 5;

fn one_token() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

pub fn staking_code() -> Vec<u8> {
    let artifact: serde_json::Value = serde_json::from_str(STAKING_ARTIFACT).unwrap();
    alloy_primitives::hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap()
}

fn operator(i: usize) -> Address {
    Address::repeat_byte(0xa0 + i as u8)
}

/// Genesis with the staking contract holding `keys` as validators, 100 tokens each.
fn consensus_genesis(keys: &[PrivateKey]) -> zg_components::chain::Genesis {
    let validators: Vec<staking::GenesisValidator> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| staking::GenesisValidator {
            operator: operator(i),
            consensus_key: *k.public_key().as_bytes(),
            stake: U256::from(STAKE_TOKENS) * one_token(),
        })
        .collect();
    let account = staking::genesis_account(&staking_code(), &validators, one_token(), 3, 10).unwrap();
    let mut spec = zg_components::chain::Genesis::zero_gravity(CHAIN_ID);
    spec.grants = (0..6).map(|i| GrantEntry { address: signer(i).address(), tokens: 1_000, from: "ecosystem".into() }).collect();
    spec.grants.push(GrantEntry { address: staking::STAKING_ADDRESS, tokens: STAKE_TOKENS * keys.len() as u64, from: "ecosystem".into() });
    spec.accounts.insert(staking::STAKING_ADDRESS, account);
    spec
}

fn node(key: PrivateKey, genesis_spec: &zg_components::chain::Genesis, wal: Arc<MemWal>) -> TestNode {
    let mut world = World::new();
    world.insert_resource(zg_components::chain::ChainSpec::dev(CHAIN_ID, COINBASE));
    let schedule = tick_schedule(&mut world, &[&ChainPlugin as &dyn NodePlugin, &ConsensusPlugin]);
    let genesis = genesis::build_genesis(&mut world, genesis_spec).expect("genesis");
    let set = staking::current_validator_set(&world).expect("genesis validators");
    world.insert_resource(set.clone());
    world.insert_resource(ConsensusSettings {
        genesis_hash: genesis.hash,
        timeouts: default_timeouts(),
        block_time_ms: 100,
        status_interval_ms: 500,
        epoch_length: EPOCH,
        block_reward: one_token(),
        reward_source: zg_components::chain::Genesis::allocation_address("community"),
    });
    let engine = Engine::new(CHAIN_ID, key.clone(), zg_components::consensus::Height(1), set, wal.clone());
    world.insert_resource(ConsensusEngine(engine));
    let (inbox, receiver) = crossbeam_channel::unbounded();
    world.insert_resource(NetInbox(receiver));
    let (requests, request_receiver) = crossbeam_channel::unbounded();
    world.insert_resource(Inbox(request_receiver));
    let sent = Arc::new(Capture::default());
    world.insert_resource(NetSinkHandle(sent.clone()));
    let committed = Arc::new(Committed::default());
    world.insert_resource(crate::chain::io::EventSinkHandle(committed.clone()));
    TestNode { world, committed, schedule, key, sent, inbox, requests, wal, up: true }
}

struct Net {
    nodes: Vec<TestNode>,
    now_ms: u64,
    /// Links that drop everything: (from, to) by node index.
    cut: Vec<(usize, usize)>,
    genesis: zg_components::chain::Genesis,
}

impl Net {
    fn new(n: u8) -> Self {
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
        let keys = keys(n);
        let genesis = consensus_genesis(&keys);
        let nodes = keys.into_iter().map(|k| node(k, &genesis, Arc::new(MemWal::default()))).collect();
        Self { nodes, now_ms: 1_700_000_000_000, cut: Vec::new(), genesis }
    }

    /// Starts another node from genesis (it syncs what it missed).
    fn add_node(&mut self, key: PrivateKey) {
        let node = node(key, &self.genesis, Arc::new(MemWal::default()));
        self.nodes.push(node);
    }

    fn submit(&self, at: usize, tx: alloy_consensus::TxEnvelope) {
        let sender = alloy_consensus::transaction::SignerRecoverable::recover_signer(&tx).unwrap();
        let reply = ReplyTo::new(|r: Result<B256, zg_components::chain::PoolError>| assert!(r.is_ok(), "{r:?}"));
        self.nodes[at].requests.send(NodeRequest::SubmitTransaction { envelope: Box::new(tx), sender, reply }).unwrap();
    }

    fn set_size(&self, i: usize) -> usize {
        self.nodes[i].world.resource::<ValidatorSet>().validators().len()
    }

    fn public(&self, i: usize) -> PeerKey {
        *self.nodes[i].key.public_key().as_bytes()
    }

    /// One tick everywhere, 10 ms apart, then delivery of what was sent.
    fn step(&mut self) {
        self.now_ms += 10;
        for node in self.nodes.iter_mut().filter(|n| n.up) {
            node.world.resource_mut::<TickClock>().now_ms = self.now_ms;
            node.schedule.run(&mut node.world);
        }
        let keys: Vec<PeerKey> = (0..self.nodes.len()).map(|i| self.public(i)).collect();
        for from in 0..self.nodes.len() {
            let sent = std::mem::take(&mut *self.nodes[from].sent.0.lock().unwrap());
            if !self.nodes[from].up {
                continue;
            }
            for (to, message) in sent {
                if let NetMessage::SyncRequest { from: first, to: last } = message {
                    self.serve_sync(from, to, first, last);
                    continue;
                }
                for (target, node) in self.nodes.iter().enumerate() {
                    let addressed = to.is_none_or(|k| k == keys[target]);
                    if target == from || !node.up || !addressed || self.cut.contains(&(from, target)) {
                        continue;
                    }
                    node.inbox.send(NetEvent { from: keys[from], message: message.clone() }).unwrap();
                }
            }
        }
    }

    /// Sync requests are served by the network layer from the database in a real node; here
    /// the asked peer answers from what it committed.
    fn serve_sync(&self, asker: usize, to: Option<PeerKey>, first: u64, last: u64) {
        let Some(target) = (0..self.nodes.len()).find(|i| Some(self.public(*i)) == to) else { return };
        if !self.nodes[target].up || self.cut.contains(&(target, asker)) {
            return;
        }
        let blocks: Vec<_> = self.nodes[target]
            .committed
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|b| (first..=last).contains(&b.header.number))
            .filter_map(|b| b.decided.as_deref().cloned())
            .collect();
        let message = NetMessage::SyncResponse(blocks);
        self.nodes[asker].inbox.send(NetEvent { from: self.public(target), message }).unwrap();
    }

    fn run_until(&mut self, steps: usize, done: impl Fn(&Net) -> bool) -> bool {
        for _ in 0..steps {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    fn head(&self, i: usize) -> u64 {
        self.nodes[i].world.resource::<ChainHead>().number()
    }

    fn hash_at(&mut self, i: usize, number: u64) -> Option<B256> {
        let world = &self.nodes[i].world;
        let entity = world.resource::<BlockIndex>().by_number.get(&number)?;
        world.get::<BlockHeader>(*entity).map(|h| h.hash)
    }

    /// Every live node agrees on every block they both have.
    fn assert_no_fork(&mut self) {
        let heads: Vec<u64> = (0..self.nodes.len()).map(|i| self.head(i)).collect();
        let top = heads.iter().copied().min().unwrap_or(0);
        for number in 1..=top {
            let hashes: Vec<_> = (0..self.nodes.len()).map(|i| self.hash_at(i, number)).collect();
            assert!(hashes.windows(2).all(|w| w[0] == w[1]), "fork at {number}: {hashes:?}");
        }
    }
}

fn own_votes(wal: &MemWal, height: u64, key: &PrivateKey) -> Vec<WireVote> {
    let own = zg_components::consensus::ValidatorAddress::from_public_key(&key.public_key());
    wal.entries(height)
        .unwrap()
        .iter()
        .filter_map(|bytes| match zg_components::consensus::WalEntry::decode(bytes).ok()? {
            zg_components::consensus::WalEntry::Vote(vote) if vote.validator == own.0.0 .0 => Some(vote),
            _ => None,
        })
        .collect()
}

mod accountability;
mod agreement;
