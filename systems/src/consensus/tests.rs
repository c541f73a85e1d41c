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

const STAKING_ARTIFACT: &str = include_str!("../../../assets/contracts/Staking.json");
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

#[test]
fn four_validators_decide_the_same_blocks_and_carry_transactions() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 3)), "no progress");
    let tx = transfer(&signer(0), Address::repeat_byte(0x77), 5, 0, 2);
    let sender = signer(0).address();
    net.nodes[2]
        .requests
        .send(NodeRequest::SubmitTransaction { envelope: Box::new(tx), sender, reply: ReplyTo::new(|r: Result<B256, zg_components::chain::PoolError>| assert!(r.is_ok())) })
        .unwrap();
    assert!(net.run_until(2_000, |n| (0..4).all(|i| balance(&n.nodes[i].world, Address::repeat_byte(0x77)) == alloy_primitives::U256::from(5))));
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 8)));
    net.assert_no_fork();
    let roots: Vec<B256> = (0..4).map(|i| net.nodes[i].world.resource::<ChainHead>().header.state_root).collect();
    let heads: Vec<u64> = (0..4).map(|i| net.head(i)).collect();
    if heads.iter().all(|h| *h == heads[0]) {
        assert!(roots.windows(2).all(|w| w[0] == w[1]));
    }
}

#[test]
fn a_validator_down_costs_time_not_progress() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 2)));
    net.nodes[3].up = false;
    let start = net.head(0);
    assert!(net.run_until(5_000, |n| (0..3).all(|i| n.head(i) >= start + 8)), "three of four must keep deciding");
    net.assert_no_fork();
}

#[test]
fn without_a_quorum_nothing_is_decided_and_it_resumes_after() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 2)));
    net.nodes[2].up = false;
    net.nodes[3].up = false;
    // Let anything in flight settle, then watch for a while.
    net.run_until(50, |_| false);
    let stalled = (net.head(0), net.head(1));
    net.run_until(1_000, |_| false);
    assert_eq!((net.head(0), net.head(1)), stalled, "two of four must not decide");
    net.nodes[2].up = true;
    assert!(net.run_until(5_000, |n| n.head(0) >= stalled.0 + 3 && n.head(2) >= stalled.0 + 3), "quorum is back");
    net.assert_no_fork();
}

#[test]
fn a_partition_heals_without_a_fork() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 2)));
    for a in [0, 1] {
        for b in [2, 3] {
            net.cut.push((a, b));
            net.cut.push((b, a));
        }
    }
    net.run_until(50, |_| false);
    let stalled: Vec<u64> = (0..4).map(|i| net.head(i)).collect();
    net.run_until(1_000, |_| false);
    assert_eq!((0..4).map(|i| net.head(i)).collect::<Vec<_>>(), stalled, "neither half has a quorum");
    net.cut.clear();
    let top = *stalled.iter().max().unwrap();
    assert!(net.run_until(5_000, |n| (0..4).all(|i| n.head(i) >= top + 3)), "healed");
    net.assert_no_fork();
}

#[test]
fn a_restarted_validator_replays_its_wal_and_never_votes_twice_differently() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 2)));
    // Stop node 3 once it voted at a height and bring it back with a fresh engine over the same WAL.
    assert!(net.run_until(500, |n| !own_votes(&n.nodes[3].wal, n.head(3) + 1, &n.nodes[3].key).is_empty()));
    let height = zg_components::consensus::Height(net.head(3) + 1);
    let logged_before = net.nodes[3].wal.entries(height.0).unwrap().len();
    let key = net.nodes[3].key.clone();
    let set = net.nodes[3].world.resource::<ValidatorSet>().clone();
    let engine = Engine::new(CHAIN_ID, key, height, set, net.nodes[3].wal.clone());
    net.nodes[3].world.insert_resource(ConsensusEngine(engine));
    net.nodes[3].world.resource_mut::<zg_components::consensus::ConsensusProgress>().awaiting_execution = false;
    let own: Vec<WireVote> = own_votes(&net.nodes[3].wal, height.0, &net.nodes[3].key);
    assert!(net.run_until(3_000, |n| (0..4).all(|i| n.head(i) >= height.0 + 2)), "continues after restart");
    net.assert_no_fork();
    let after = own_votes(&net.nodes[3].wal, height.0, &net.nodes[3].key);
    for vote in &own {
        for other in &after {
            if (vote.round, vote.precommit) == (other.round, other.precommit) {
                assert_eq!(vote.value, other.value, "signed two values for one round and step");
            }
        }
    }
    assert!(logged_before > 0 && !own.is_empty(), "the height under way was logged");
}

#[test]
fn a_validator_that_was_away_syncs_with_certificates_and_rejoins() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 2)));
    net.nodes[3].up = false;
    let away_at = net.head(3);
    assert!(net.run_until(5_000, |n| n.head(0) >= away_at + 10));
    net.nodes[3].up = true;
    assert!(net.run_until(5_000, |n| n.head(3) >= away_at + 12), "node 3 caught up");
    // Rejoined: with node 0 gone, decisions need node 3's votes.
    net.nodes[0].up = false;
    let now = net.head(1);
    assert!(net.run_until(5_000, |n| n.head(1) >= now + 3 && n.head(3) >= now + 3), "node 3 votes again");
    net.assert_no_fork();
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

#[test]
fn a_double_vote_is_detected_and_carried_on_chain() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| (0..4).all(|i| n.head(i) >= 2)));
    // Node 3's key signs two different prevotes for the height node 0 is at.
    let height = net.head(0) + 1;
    let key = net.nodes[3].key.clone();
    let validator = zg_components::consensus::ValidatorAddress::from_public_key(&key.public_key());
    let vote = |value: u8| {
        let vote = zg_components::consensus::Vote {
            height: zg_components::consensus::Height(height),
            round: malachite_types::Round::new(0),
            value: malachite_types::NilOrVal::Val(B256::repeat_byte(value)),
            vote_type: malachite_types::VoteType::Prevote,
            validator,
        };
        let signature = key.sign(&vote.sign_bytes(CHAIN_ID));
        WireVote::from_signed(&malachite_types::SignedMessage::new(vote, signature)).unwrap()
    };
    let from = net.public(3);
    for value in [0xe1, 0xe2] {
        net.nodes[0].inbox.send(NetEvent { from, message: NetMessage::Vote(vote(value)) }).unwrap();
    }
    assert!(
        net.run_until(3_000, |n| !n.nodes[0].world.resource::<PendingEvidence>().0.is_empty()),
        "evidence must be found"
    );
    let carried = |n: &Net| {
        n.nodes[1].committed.0.lock().unwrap().iter().any(|b| {
            b.decided.as_ref().is_some_and(|d| d.block.evidence.iter().any(|e| e.first.validator == validator.0.0 .0))
        })
    };
    assert!(net.run_until(3_000, carried), "a decided block carries the evidence");
    assert!(net.run_until(500, |n| n.nodes[0].world.resource::<PendingEvidence>().0.is_empty()));
    // Slashed and jailed: out of the set at the next epoch, everywhere, and the chain goes on.
    let jailed = net.run_until(500, |n| staking::validator_status(&n.nodes[0].world, operator(3)).unwrap().1);
    let statuses: Vec<_> = (0..4).map(|i| staking::validator_status(&net.nodes[0].world, operator(i)).unwrap()).collect();
    assert!(jailed, "{statuses:?}");
    assert!(net.run_until(3_000, |n| (0..4).all(|i| n.set_size(i) == 3)), "the double signer leaves the set");
    assert!(net.nodes[0].world.resource::<ValidatorSet>().get(&validator).is_none());
    let now = net.head(0);
    assert!(net.run_until(3_000, |n| n.head(0) >= now + 3));
    net.assert_no_fork();
}

#[test]
fn fees_and_block_rewards_go_to_validators_by_power_and_supply_is_constant() {
    let mut net = Net::new(4);
    let tx = transfer(&signer(0), Address::repeat_byte(0x55), 1, 0, 2);
    net.submit(0, tx);
    assert!(net.run_until(3_000, |n| (0..4).all(|i| n.head(i) >= 6)));
    let world = &mut net.nodes[0].world;
    let paid: Vec<U256> = (0..4).map(|i| balance(world, operator(i))).collect();
    assert!(paid.iter().all(|p| *p >= one_token() * U256::from(5u64) / U256::from(4u64)), "{paid:?}");
    // Equal power, equal pay (to the wei: leftovers stay in the pool).
    assert!(paid.windows(2).all(|w| w[0] == w[1]), "{paid:?}");
    assert_eq!(total_supply(world), net.genesis.max_supply_wei());
}

#[test]
fn a_new_validator_stakes_joins_at_the_epoch_and_leaves_after_undelegating() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| n.head(0) >= 2));
    let fifth = PrivateKey::from([5; 32]);
    let staker = signer(4);
    let create = staking::IStaking::createValidatorCall { consensusKey: B256::from(*fifth.public_key().as_bytes()) };
    use alloy_sol_types::SolCall;
    net.submit(1, call_with_value(&staker, staking::STAKING_ADDRESS, create.abi_encode().into(), U256::from(STAKE_TOKENS) * one_token(), 0));
    assert!(net.run_until(3_000, |n| n.set_size(0) == 5), "joins at an epoch boundary");
    let joined_at = net.head(0);
    assert_eq!(joined_at % EPOCH, 0, "only at a boundary");
    net.add_node(fifth);
    assert!(net.run_until(5_000, |n| n.head(4) >= joined_at + 2 && n.set_size(4) == 5), "the new node syncs and sees itself in the set");
    // With one of the original four gone, the other three hold 300 of 500: decisions need the newcomer.
    net.nodes[0].up = false;
    let now = net.head(2);
    assert!(net.run_until(6_000, |n| n.head(2) >= now + 3 && n.head(4) >= now + 3), "the new validator votes");
    net.nodes[0].up = true;
    let leave = staking::IStaking::undelegateCall { operator: staker.address(), amount: U256::from(STAKE_TOKENS) * one_token() };
    net.submit(2, call_with_value(&staker, staking::STAKING_ADDRESS, leave.abi_encode().into(), U256::ZERO, 1));
    assert!(net.run_until(6_000, |n| (0..5).all(|i| n.set_size(i) == 4)), "leaves at the next boundary");
    net.assert_no_fork();
}

#[test]
fn bodies_from_anyone_but_the_rounds_proposer_are_not_kept() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| n.head(0) >= 2));
    let head = net.nodes[0].world.resource::<ChainHead>().clone();
    let set = net.nodes[0].world.resource::<ValidatorSet>().clone();
    let height = head.number() + 1;
    let rightful = set.proposer(zg_components::consensus::Height(height), malachite_types::Round::new(0)).address;
    let impostor = set.validators().iter().find(|v| v.address != rightful).unwrap().address;
    let flood: Vec<_> = (0..50u64)
        .map(|i| zg_components::consensus::OrderedBlock {
            height,
            round: (i % 3) as u32,
            timestamp_ms: head.header.timestamp * 1000 + i,
            proposer: if i % 3 == 0 { impostor.0.0 .0 } else { set.proposer(zg_components::consensus::Height(height), malachite_types::Round::new((i % 3) as u32)).address.0.0 .0 },
            parent_hash: head.hash.0,
            transactions: vec![],
            evidence: vec![],
        })
        .collect();
    let from = net.public(1);
    // Stop everyone else so node 0 stays at this height while it reads the flood.
    for i in 1..4 {
        net.nodes[i].up = false;
    }
    for block in &flood {
        net.nodes[0].inbox.send(NetEvent { from, message: forged_body_message(block.clone()) }).unwrap();
    }
    net.step();
    let kept = net.nodes[0].world.resource::<zg_components::consensus::ReceivedBlocks>();
    let at_height: Vec<_> = kept.0.values().map(|b| &b.block).filter(|b| b.height == height).collect();
    assert!(at_height.iter().all(|b| b.proposer != impostor.0.0 .0 || b.round != 0), "impostor body kept");
    assert!(at_height.len() <= 2 * super::driver::MAX_BODIES_PER_ROUND + 1, "{} bodies kept", at_height.len());
}

/// Bodies that claim to come from the round's proposer but were built by someone else, two per
/// round for the next rounds, delivered to every node ahead of the real body every tick.
fn forged_bodies(net: &Net, node: usize) -> Vec<NetMessage> {
    let world = &net.nodes[node].world;
    let head = world.resource::<ChainHead>().clone();
    let set = world.resource::<ValidatorSet>().clone();
    let height = head.number() + 1;
    let mut forged = Vec::new();
    for round in 0..3u32 {
        let proposer = set.proposer(zg_components::consensus::Height(height), malachite_types::Round::new(round)).address;
        for salt in 0..2u64 {
            let block = zg_components::consensus::OrderedBlock {
                height,
                round,
                timestamp_ms: net.now_ms + 1 + salt,
                proposer: proposer.0.0 .0,
                parent_hash: head.hash.0,
                transactions: vec![],
                evidence: vec![],
            };
            forged.push(forged_body_message(block));
        }
    }
    forged
}

fn forged_body_message(block: zg_components::consensus::OrderedBlock) -> NetMessage {
    NetMessage::Block(zg_components::consensus::SignedBlock { block, signature: [0x5a; 64] })
}

#[test]
fn forged_bodies_claiming_the_proposer_never_displace_the_real_one() {
    let mut net = Net::new(4);
    assert!(net.run_until(2_000, |n| n.head(0) >= 2));
    let start = net.head(0);
    let attacker = net.public(3);
    for _ in 0..3_000 {
        for i in 0..3 {
            for message in forged_bodies(&net, i) {
                net.nodes[i].inbox.send(NetEvent { from: attacker, message }).unwrap();
            }
        }
        net.step();
        if (0..3).all(|i| net.head(i) >= start + 5) {
            break;
        }
    }
    assert!((0..3).all(|i| net.head(i) >= start + 5), "forged bodies stalled the chain at {:?}", (0..3).map(|i| net.head(i)).collect::<Vec<_>>());
    net.assert_no_fork();
}
