//! PoRA end to end inside one world: the real Flow, market and PoraMine contracts in genesis, a
//! file published by transaction, storage nodes registering, challenges from block hashes,
//! proofs built from what each node holds and verified by the contract.

use super::*;
use crate::chain::test_support::*;
use crate::chain::test_support::execute_next_block as block;
use crate::storage::flow::{self, FLOW_ADDRESS, IFlow, Submission, SubmissionData, SubmissionNode};
use alloy_consensus::TxEnvelope;
use alloy_primitives::Bytes;
use alloy_sol_types::SolCall;
use bevy_ecs::prelude::*;
use zg_components::chain::{BlockHeader, BlockIndex, ChainHead, GrantEntry};
use zg_components::storage::merkle::{FileCommitment, SEGMENT_SIZE};

const EPOCH: u64 = 4;
const CHALLENGES: u64 = 16;

fn code(artifact: &str) -> Vec<u8> {
    let artifact: serde_json::Value = serde_json::from_str(artifact).unwrap();
    alloy_primitives::hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap()
}

fn one() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

fn world() -> World {
    world_with(vec![], 0)
}

/// A chain with Flow, the market and PoraMine (erasure-coding `ring` with `data_shards`).
fn world_with(ring: Vec<[u8; 32]>, data_shards: u64) -> World {
    let (_, _, mut genesis) = chain_world(6);
    install_flow_and_mine(&mut genesis, ring, data_shards);
    world_of_genesis(&genesis)
}

/// Flow, the market (a wei per sector) and PoraMine (1 0G minimum stake, 10 % per missed
/// epoch's challenges) placed in `genesis`.
pub(crate) fn install_flow_and_mine(genesis: &mut zg_components::chain::Genesis, ring: Vec<[u8; 32]>, data_shards: u64) {
    let flow_code = code(include_str!("../../../../assets/contracts/Flow.json"));
    let market_code = code(include_str!("../../../../assets/contracts/FixedPriceMarket.json"));
    genesis.accounts.extend(flow::genesis_accounts(&flow_code, &market_code, U256::from(1)).unwrap());
    let params = MineParams {
        epoch_blocks: EPOCH,
        challenges_per_epoch: CHALLENGES,
        min_stake: one(),
        penalty_per_mille: 100,
        reward_per_challenge: one() / U256::from(100),
        ring,
        data_shards,
    };
    let mut init = code(include_str!("../../../../assets/contracts/PoraMine.json"));
    init.extend(constructor_args(FLOW_ADDRESS, &params));
    genesis.accounts.insert(MINE_ADDRESS, crate::chain::genesis::deploy_contract(&init, U256::ZERO).unwrap());
    genesis.grants.push(GrantEntry { address: MINE_ADDRESS, tokens: 1_000, from: "community".into() });
}

fn hash_of(world: &World, number: u64) -> B256 {
    let entity = world.resource::<BlockIndex>().by_number[&number];
    world.get::<BlockHeader>(entity).unwrap().hash
}

struct Node {
    key: alloy_signer_local::PrivateKeySigner,
    nonce: u64,
    holds: Box<dyn Fn(u64) -> bool>,
}

impl Node {
    fn tx(&mut self, to: Address, input: Vec<u8>, value: U256) -> TxEnvelope {
        let tx = call_with_value(&self.key, to, input.into(), value, self.nonce);
        self.nonce += 1;
        tx
    }
}

/// Publishes a 16-segment file from signer 0; the data, its commitment and its record.
fn publish_file(world: &mut World) -> (Vec<u8>, FileCommitment, FileRecord) {
    let data: Vec<u8> = (0..16 * SEGMENT_SIZE).map(|i| ((i * 131 + 7) % 251) as u8).collect();
    let (commitment, record) = publish(world, &data, 0);
    (data, commitment, record)
}

/// Publishes `data` from signer 0 with `nonce`; its commitment and record.
pub(crate) fn publish(world: &mut World, data: &[u8], nonce: u64) -> (FileCommitment, FileRecord) {
    let commitment = FileCommitment::of(data);
    let nodes = commitment.submission.nodes.iter().map(|(root, h)| SubmissionNode { root: *root, height: U256::from(*h) }).collect();
    let submit = IFlow::submitCall {
        submission: Submission { data: SubmissionData { length: U256::from(data.len()), tags: Bytes::new(), nodes }, submitter: signer(0).address() },
    };
    let fee = U256::from(commitment.submission.nodes.iter().map(|(_, h)| 1u64 << h).sum::<u64>());
    let published = block(world, vec![call_with_value(&signer(0), FLOW_ADDRESS, submit.abi_encode().into(), fee, nonce)]);
    assert!(published.receipts[0].success);
    let record = published.receipts[0].logs.iter().find_map(|log| flow::decode_submit(log, published.header.number)).unwrap();
    (commitment, record)
}

#[test]
fn nodes_pass_the_challenges_for_what_they_hold_and_pay_for_the_rest() {
    let mut world = world();
    // A 16-segment file published by transaction.
    let (data, commitment, record) = publish_file(&mut world);
    assert_eq!(record.root(), commitment.root());
    let files = vec![record.clone()];

    let mut full = Node { key: signer(1), nonce: 0, holds: Box::new(|_| true) };
    let mut half = Node { key: signer(2), nonce: 0, holds: Box::new(|segment| segment % 2 == 0) };
    let register = IPoraMine::registerCall { nodeId: B256::ZERO, nodeSignature: Bytes::new() }.abi_encode();
    let txs = vec![full.tx(MINE_ADDRESS, register.clone(), one()), half.tx(MINE_ADDRESS, register, one())];
    assert!(block(&mut world, txs).receipts.iter().all(|r| r.success));

    let mut passes = [0u64, 0u64];
    let mut epochs = Vec::new();
    for _ in 0..8 {
        // Into the next epoch, one block past its first (whose hash is the seed).
        let head = world.resource::<ChainHead>().number();
        let epoch = head / EPOCH + 1;
        while world.resource::<ChainHead>().number() < epoch * EPOCH + 1 {
            block(&mut world, vec![]);
        }
        epochs.push(epoch);
        let seed = hash_of(&world, epoch * EPOCH);
        let length = flow_length_before(&files, epoch * EPOCH);
        for (n, node) in [&mut full, &mut half].into_iter().enumerate() {
            let mut txs = Vec::new();
            for index in 0..CHALLENGES {
                let position = flow_challenge(seed, node.key.address(), index, &files, length).unwrap();
                let file = file_at(&files, position).unwrap();
                let holds = &node.holds;
                let proof = prove(file, position - file.start_entry_index, |segment| {
                    holds(segment).then(|| {
                        let start = segment as usize * SEGMENT_SIZE;
                        (data[start..start + SEGMENT_SIZE].to_vec(), commitment.tree.proof(segment as usize).unwrap())
                    })
                });
                if let Some(proof) = proof {
                    let call = IPoraMine::submitProofCall {
                        epoch: U256::from(epoch),
                        index: U256::from(index),
                        chunk: proof.chunk.into(),
                        siblings: proof.siblings,
                    };
                    txs.push(node.tx(MINE_ADDRESS, call.abi_encode(), U256::ZERO));
                }
            }
            let receipts = block(&mut world, txs).receipts;
            assert!(receipts.iter().all(|r| r.success), "a proof built from held data must verify");
            passes[n] += receipts.len() as u64;
        }
    }
    let total = CHALLENGES * epochs.len() as u64;
    assert_eq!(passes[0], total, "a node holding everything passes every challenge");
    let rate = passes[1] as f64 / total as f64;
    eprintln!("PoRA: full node {}/{total}, half node {}/{total} ({rate:.2})", passes[0], passes[1]);
    assert!((0.35..=0.65).contains(&rate), "half the data, about half the challenges: {rate}");

    // A forged proof fails on chain; an unregistered caller too.
    let head = world.resource::<ChainHead>().number();
    let epoch = head / EPOCH;
    let forged = IPoraMine::submitProofCall { epoch: U256::from(epoch), index: U256::ZERO, chunk: vec![0u8; 256].into(), siblings: vec![] };
    let mut stranger = Node { key: signer(3), nonce: 0, holds: Box::new(|_| false) };
    let receipts = block(&mut world, vec![full.tx(MINE_ADDRESS, forged.abi_encode(), U256::ZERO), stranger.tx(MINE_ADDRESS, forged.abi_encode(), U256::ZERO)]).receipts;
    assert!(receipts.iter().all(|r| !r.success));

    // After the deadline, settling penalizes the half node for what it missed and not the full one.
    while world.resource::<ChainHead>().number() / EPOCH < epochs[0] + 2 {
        block(&mut world, vec![]);
    }
    let settle = |miner: Address| IPoraMine::settleCall { epoch: U256::from(epochs[0]), miner }.abi_encode();
    let receipts = block(&mut world, vec![stranger.tx(MINE_ADDRESS, settle(full.key.address()), U256::ZERO), stranger.tx(MINE_ADDRESS, settle(half.key.address()), U256::ZERO)]).receipts;
    assert!(receipts.iter().all(|r| r.success));
    let status = |world: &World, miner: Address| {
        let output = crate::consensus::staking::call_view(world, MINE_ADDRESS, IPoraMine::minersCall { miner }.abi_encode()).unwrap();
        IPoraMine::minersCall::abi_decode_returns(&output).unwrap()
    };
    assert_eq!(status(&world, full.key.address()).penalized, U256::ZERO);
    let half_status = status(&world, half.key.address());
    assert!(half_status.penalized > U256::ZERO, "missed challenges cost stake");
    assert!(half_status.earned > U256::ZERO && status(&world, full.key.address()).earned > half_status.earned);
    // Settling twice is refused.
    let receipts = block(&mut world, vec![stranger.tx(MINE_ADDRESS, settle(half.key.address()), U256::ZERO)]).receipts;
    assert!(!receipts[0].success);
}

#[test]
fn registering_for_a_storage_node_takes_its_signature_and_claims_it_once() {
    let mut world = world();
    let node_key = malachite_ed25519::PrivateKey::from([9u8; 32]);
    let node_id = B256::from(*node_key.public_key().as_bytes());
    // The contract's registrationMessage(miner).
    let message = |miner: Address| {
        let mut message = b"zgnode PoRA registration".to_vec();
        message.extend(U256::from(CHAIN_ID).to_be_bytes::<32>());
        message.extend(MINE_ADDRESS.as_slice());
        message.extend(miner.as_slice());
        message
    };
    let register = |signature: Vec<u8>| IPoraMine::registerCall { nodeId: node_id, nodeSignature: signature.into() }.abi_encode();
    let mut honest = Node { key: signer(1), nonce: 0, holds: Box::new(|_| true) };
    let mut thief = Node { key: signer(2), nonce: 0, holds: Box::new(|_| true) };
    let mut second = Node { key: signer(3), nonce: 0, holds: Box::new(|_| true) };
    let for_honest = node_key.sign(&message(honest.key.address())).to_bytes().to_vec();
    let txs = vec![
        thief.tx(MINE_ADDRESS, register(for_honest.clone()), one()),
        thief.tx(MINE_ADDRESS, register(vec![7; 64]), one()),
        thief.tx(MINE_ADDRESS, register(vec![7; 10]), one()),
        honest.tx(MINE_ADDRESS, register(for_honest), one()),
        second.tx(MINE_ADDRESS, register(node_key.sign(&message(second.key.address())).to_bytes().to_vec()), one()),
    ];
    let outcome: Vec<bool> = block(&mut world, txs).receipts.iter().map(|r| r.success).collect();
    assert_eq!(
        outcome,
        vec![false, false, false, true, false],
        "a signature for another miner, a forged one, a short one: refused; the node's own: accepted; a second claim: refused"
    );
    let owner = IPoraMine::nodeOwnerCall { nodeId: node_id }.abi_encode();
    let output = crate::consensus::staking::call_view(&world, MINE_ADDRESS, owner).unwrap();
    assert_eq!(IPoraMine::nodeOwnerCall::abi_decode_returns(&output).unwrap(), honest.key.address());
}

#[test]
fn on_an_erasure_coded_ring_each_node_is_challenged_on_its_data_shards() {
    use crate::storage::erasure::{ErasureConfig, data_shard};
    use crate::storage::pora::shard_proof::{boundary, prove_from_shard};
    use zg_components::storage::merkle::{CHUNK_SIZE, MerkleTree, chunk_hashes};
    let config = ErasureConfig { data_shards: 2, parity_shards: 2 };
    let keys: Vec<malachite_ed25519::PrivateKey> = (11u8..15).map(|seed| malachite_ed25519::PrivateKey::from([seed; 32])).collect();
    let mut ring: Vec<[u8; 32]> = keys.iter().map(|k| *k.public_key().as_bytes()).collect();
    ring.sort();
    let mut world = world_with(ring.clone(), config.data_shards as u64);
    let (data, commitment, record) = publish_file(&mut world);

    // Four miners, one per ring member; the last keeps only the shards of even segments.
    let mut miners: Vec<Node> = (0..4)
        .map(|i| Node { key: signer(i as u8 + 1), nonce: 0, holds: Box::new(move |segment| i < 3 || segment % 2 == 0) })
        .collect();
    let mut registrations = Vec::new();
    for (miner, key) in miners.iter_mut().zip(&keys) {
        let message = crate::consensus::staking::call_view(&world, MINE_ADDRESS, IPoraMine::registrationMessageCall { miner: miner.key.address() }.abi_encode()).unwrap();
        let message = IPoraMine::registrationMessageCall::abi_decode_returns(&message).unwrap();
        let register = IPoraMine::registerCall { nodeId: B256::from(*key.public_key().as_bytes()), nodeSignature: key.sign(&message).to_bytes().to_vec().into() };
        registrations.push(miner.tx(MINE_ADDRESS, register.abi_encode(), one()));
    }
    assert!(block(&mut world, registrations).receipts.iter().all(|r| r.success));
    let member = |i: usize| ring.iter().position(|k| k == keys[i].public_key().as_bytes()).unwrap();

    let (mut proven, mut drawn, mut vacuous) = ([0u64; 4], [0u64; 4], [0u64; 4]);
    for _ in 0..8 {
        let epoch = world.resource::<ChainHead>().number() / EPOCH + 1;
        while world.resource::<ChainHead>().number() < epoch * EPOCH + 1 {
            block(&mut world, vec![]);
        }
        for (i, node) in miners.iter_mut().enumerate() {
            let mut txs = Vec::new();
            for index in 0..CHALLENGES {
                let call = IPoraMine::challengeCall { epoch: U256::from(epoch), miner: node.key.address(), index: U256::from(index) };
                let position = IPoraMine::challengeCall::abi_decode_returns(&crate::consensus::staking::call_view(&world, MINE_ADDRESS, call.abi_encode()).unwrap()).unwrap();
                let submit = |chunk: Vec<u8>, siblings| IPoraMine::submitProofCall { epoch: U256::from(epoch), index: U256::from(index), chunk: chunk.into(), siblings }.abi_encode();
                if position == U256::MAX {
                    vacuous[i] += 1;
                    txs.push(node.tx(MINE_ADDRESS, submit(vec![], vec![]), U256::ZERO));
                    continue;
                }
                drawn[i] += 1;
                let chunk = position.to::<u64>() - record.start_entry_index;
                let (segment, within) = (chunk / 1024, (chunk % 1024) as usize);
                let shard = (0..config.data_shards).find(|j| config.data_shard_chunks(1024, *j).contains(&within)).unwrap();
                assert_eq!((shard + segment as usize) % 4, member(i), "challenged only on a data shard placement gives it");
                if !(node.holds)(segment) {
                    continue;
                }
                let bytes = &data[segment as usize * SEGMENT_SIZE..(segment as usize + 1) * SEGMENT_SIZE];
                let range = config.data_shard_chunks(1024, shard);
                let tree = MerkleTree::build(chunk_hashes(bytes));
                let lemma: Vec<[u8; 32]> = commitment.tree.proof(segment as usize).unwrap().lemma.iter().map(|h| h.0).collect();
                let shard_bytes = data_shard(config, bytes, shard);
                assert_eq!(shard_bytes.len(), range.len() * CHUNK_SIZE);
                let proof = prove_from_shard(&record, chunk, range.clone(), &shard_bytes, &boundary(&tree, &range), &lemma).unwrap();
                txs.push(node.tx(MINE_ADDRESS, submit(proof.chunk, proof.siblings), U256::ZERO));
            }
            let receipts = block(&mut world, txs).receipts;
            assert!(receipts.iter().all(|r| r.success), "proofs from held shards verify on chain");
            proven[i] += receipts.len() as u64;
        }
    }
    let total = CHALLENGES * 8;
    for i in 0..3 {
        assert_eq!(proven[i], total, "node {i} keeps its shards and passes every challenge");
        assert!(drawn[i] > total / 2, "most challenges land on a shard: {}", drawn[i]);
    }
    let kept = proven[3] - vacuous[3];
    let rate = kept as f64 / drawn[3] as f64;
    eprintln!("PoRA on a 2+2 ring: full nodes {total}/{total}; the node that kept half its shards proved {kept} of {} drawn ({rate:.2})", drawn[3]);
    assert!((0.3..=0.7).contains(&rate), "half the shards, about half the challenges: {rate}");
}

#[test]
fn a_draw_in_the_padding_between_files_is_drawn_again_so_padding_shields_no_one() {
    let mut world = world();
    // One sector at 0, then a 16-segment file (a 2^14-sector piece) at 16,384: about half the
    // flow is padding, which holds nothing to prove.
    let (_, tiny) = publish(&mut world, &[7u8; 100], 0);
    let data: Vec<u8> = (0..16 * SEGMENT_SIZE).map(|i| ((i * 7 + 1) % 251) as u8).collect();
    let (_, large) = publish(&mut world, &data, 1);
    assert_eq!((tiny.start_entry_index, large.start_entry_index), (0, 16_384));
    let files = vec![tiny, large];
    let mut node = Node { key: signer(1), nonce: 0, holds: Box::new(|_| true) };
    let register = IPoraMine::registerCall { nodeId: B256::ZERO, nodeSignature: Bytes::new() }.abi_encode();
    assert!(block(&mut world, vec![node.tx(MINE_ADDRESS, register, one())]).receipts[0].success);

    let (mut redrawn, mut drawn) = (0, 0);
    for _ in 0..4 {
        let epoch = world.resource::<ChainHead>().number() / EPOCH + 1;
        while world.resource::<ChainHead>().number() < epoch * EPOCH + 1 {
            block(&mut world, vec![]);
        }
        let seed = hash_of(&world, epoch * EPOCH);
        let length = flow_length_before(&files, epoch * EPOCH);
        assert_eq!(length, 16_384 * 2, "the flow ends where the last file does");
        for index in 0..CHALLENGES {
            let call = IPoraMine::challengeCall { epoch: U256::from(epoch), miner: node.key.address(), index: U256::from(index) };
            let output = crate::consensus::staking::call_view(&world, MINE_ADDRESS, call.abi_encode()).unwrap();
            let on_chain = IPoraMine::challengeCall::abi_decode_returns(&output).unwrap();
            assert_ne!(on_chain, U256::MAX, "never excused: a node storing nothing must still be caught");
            let position = on_chain.to::<u64>();
            assert!(file_at(&files, position).is_some(), "challenge {index} of epoch {epoch} lands in a file: {position}");
            assert_eq!(flow_challenge(seed, node.key.address(), index, &files, length), Some(position), "the node draws what the chain draws");
            let first = challenge_position(seed, node.key.address(), index, length).unwrap();
            redrawn += usize::from(file_at(&files, first).is_none());
            drawn += 1;
        }
    }
    eprintln!("PoRA with padding: {redrawn} of {drawn} first draws landed in padding and were drawn again");
    assert!(redrawn > 0, "the padding was drawn into at least once, so the redraw ran");
}

/// A storage node's signed answer for `segment`: what `zgs_downloadSegmentWithProofSigned` sends.
fn signed_answer(key: &alloy_signer_local::PrivateKeySigner, root: B256, segment: u64, data: &[u8], siblings: &[B256]) -> Bytes {
    use alloy_signer::SignerSync;
    let hash = segment_answer_hash(CHAIN_ID, root, segment, data, siblings);
    Bytes::from(key.sign_message_sync(hash.as_slice()).unwrap().as_bytes().to_vec())
}

#[test]
fn a_signed_corrupted_segment_costs_its_miner_stake_and_an_honest_answer_frames_no_one() {
    let mut world = world();
    let (data, commitment, record) = publish_file(&mut world);
    let mut chain = CallChain::new(world, 6, 20_000_000);
    let (miner, reporter, stranger) = (1u8, 3u8, 4u8);
    assert!(chain.send(miner, MINE_ADDRESS, IPoraMine::registerCall { nodeId: B256::ZERO, nodeSignature: Bytes::new() }, one()));
    let status = |chain: &CallChain| chain.view(MINE_ADDRESS, IPoraMine::minersCall { miner: signer(miner).address() });
    let segment = 5u64;
    let honest = data[5 * SEGMENT_SIZE..6 * SEGMENT_SIZE].to_vec();
    let siblings = inner_siblings(&commitment.tree.proof(5).unwrap());
    let root = record.root();
    let report = |data: &[u8], siblings: &[B256], signature: Bytes, segment: u64, seq: u64| IPoraMine::reportBadSegmentCall {
        txSeq: U256::from(seq),
        segment: U256::from(segment),
        data: data.to_vec().into(),
        siblings: siblings.to_vec(),
        signature,
    };
    // The contract signs over the same bytes as the node.
    let on_chain = chain.view(MINE_ADDRESS, IPoraMine::segmentAnswerHashCall { root, segment: U256::from(segment), data: honest.clone().into(), siblings: siblings.clone() });
    assert_eq!(on_chain, segment_answer_hash(CHAIN_ID, root, segment, &honest, &siblings));

    // An honest answer, signed, frames no one; neither does one the node never signed.
    let honest_answer = report(&honest, &siblings, signed_answer(&signer(miner), root, segment, &honest, &siblings), segment, 0);
    assert!(!chain.send(reporter, MINE_ADDRESS, honest_answer, U256::ZERO), "an answer that verifies is no evidence");
    let mut corrupted = honest.clone();
    corrupted[1000] ^= 1;
    let forged = report(&corrupted, &siblings, signed_answer(&signer(stranger), root, segment, &corrupted, &siblings), segment, 0);
    assert!(!chain.send(reporter, MINE_ADDRESS, forged, U256::ZERO), "signed by no staked node");
    let unsigned = report(&corrupted, &siblings, Bytes::from(vec![0u8; 65]), segment, 0);
    assert!(!chain.send(reporter, MINE_ADDRESS, unsigned, U256::ZERO));
    // A segment the file does not have, and the node's signature moved to another submission.
    let beyond = report(&corrupted, &siblings, signed_answer(&signer(miner), root, 16, &corrupted, &siblings), 16, 0);
    assert!(!chain.send(reporter, MINE_ADDRESS, beyond, U256::ZERO), "no such segment");
    let elsewhere = report(&corrupted, &siblings, signed_answer(&signer(miner), root, segment, &corrupted, &siblings), segment, 1);
    assert!(!chain.send(reporter, MINE_ADDRESS, elsewhere, U256::ZERO), "no submission 1");
    assert_eq!(status(&chain).stake, one(), "nothing above cost the miner anything");

    // The node signed a corrupted segment: 10 % of its stake, half to the reporter.
    let before = balance(&chain.world, signer(reporter).address());
    let caught = report(&corrupted, &siblings, signed_answer(&signer(miner), root, segment, &corrupted, &siblings), segment, 0);
    assert!(chain.send(reporter, MINE_ADDRESS, caught.clone(), U256::ZERO));
    let penalty = one() / U256::from(10);
    assert_eq!((status(&chain).stake, status(&chain).penalized), (one() - penalty, penalty));
    assert!(balance(&chain.world, signer(reporter).address()) > before + penalty / U256::from(2) - one() / U256::from(50), "the reporter's half (less its gas)");
    assert!(!chain.send(reporter, MINE_ADDRESS, caught, U256::ZERO), "an answer is judged once");
    // Honest bytes under siblings that do not lead to the root, and a short answer, are bad answers too.
    let mut wrong_siblings = siblings.clone();
    wrong_siblings[0] = B256::repeat_byte(9);
    let bad_proof = report(&honest, &wrong_siblings, signed_answer(&signer(miner), root, segment, &honest, &wrong_siblings), segment, 0);
    assert!(chain.send(reporter, MINE_ADDRESS, bad_proof, U256::ZERO));
    let short = &honest[..256];
    let truncated = report(short, &siblings, signed_answer(&signer(miner), root, segment, short, &siblings), segment, 0);
    assert!(chain.send(reporter, MINE_ADDRESS, truncated, U256::ZERO));
    assert_eq!(status(&chain).stake, one() * U256::from(729) / U256::from(1000), "10 % of what is left, each time");
}
