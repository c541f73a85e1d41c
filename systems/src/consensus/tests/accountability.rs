//! Double votes, rewards, membership changes and forged block bodies.

use super::*;


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
    assert!(at_height.len() <= 2 * crate::consensus::driver::MAX_BODIES_PER_ROUND + 1, "{} bodies kept", at_height.len());
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
