//! Validators agree, survive faults and catch up.

use super::*;

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
