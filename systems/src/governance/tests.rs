//! The governance contracts on a bare chain world: stake-weighted votes taken at the snapshot,
//! a timelocked proposal changing the next block's gas limit, and who may not change it.

use alloy_primitives::{B256, Bytes, U256, keccak256};
use alloy_sol_types::SolCall;
use bevy_ecs::prelude::*;

use super::*;
use crate::chain::params::IChainParams;
use crate::chain::test_support::*;
use crate::consensus::staking::{GenesisValidator, IStaking};

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn params(genesis_gas_limit_override: u64) -> GovernanceParams {
    GovernanceParams {
        voting_delay_blocks: 1,
        voting_period_blocks: 20,
        proposal_threshold: U256::ZERO,
        quorum_percent: 30,
        timelock_delay_secs: 2,
        initial: InitialChainParams {
            block_gas_limit: genesis_gas_limit_override,
            da_blob_price: U256::from(1_000u64),
            storage_price_per_sector: U256::from(10u64),
            compute_min_stake: U256::from(100u64),
            alignment_reward_rate_bps: U256::from(10_000u64),
        },
    }
}

/// Signers 0–3 are validators with 100 0G of self-stake each; signer 4 holds 1,000 0G unstaked.
fn governed_world() -> World {
    governed_world_with(0)
}

fn governed_world_with(genesis_gas_limit_override: u64) -> World {
    let (_, _, mut genesis) = chain_world(5);
    let staking_code = artifact_code(include_str!("../../../assets/contracts/Staking.json"));
    let validators: Vec<_> = (0..4u8)
        .map(|i| GenesisValidator { operator: signer(i).address(), consensus_key: [i + 1; 32], stake: tokens(100) })
        .collect();
    let staking = crate::consensus::staking::genesis_account(&staking_code, &validators, tokens(1), 10, 10).unwrap();
    genesis.accounts.insert(STAKING_ADDRESS, staking.clone());
    genesis.grants.push(zg_components::chain::GrantEntry { address: STAKING_ADDRESS, tokens: 400, from: "ecosystem".into() });
    let code = GovernanceCode {
        governor: &artifact_code(include_str!("../../../assets/contracts/ZgGovernor.json")),
        timelock: &artifact_code(include_str!("../../../assets/contracts/ZgTimelock.json")),
        chain_params: &artifact_code(include_str!("../../../assets/contracts/ChainParams.json")),
    };
    genesis.accounts.extend(genesis_accounts(&code, &params(genesis_gas_limit_override), &staking).expect("the shipped contracts deploy"));
    world_of_genesis(&genesis)
}

type Chain = CallChain;

fn chain() -> Chain {
    CallChain::new(governed_world(), 5, 2_000_000)
}

fn gas_limit(chain: &Chain) -> u64 {
    chain.world.resource::<zg_components::chain::ChainSpec>().block_gas_limit
}

fn set_gas_limit_proposal(limit: u64) -> (Vec<Address>, Vec<U256>, Vec<Bytes>, B256) {
    let calldata = IChainParams::setBlockGasLimitCall { limit }.abi_encode();
    (vec![CHAIN_PARAMS_ADDRESS], vec![U256::ZERO], vec![calldata.into()], keccak256(format!("gas limit {limit}")))
}

const PENDING: u8 = 0;
const ACTIVE: u8 = 1;
const DEFEATED: u8 = 3;
const SUCCEEDED: u8 = 4;
const QUEUED: u8 = 5;
const EXECUTED: u8 = 7;

fn propose(chain: &mut Chain, from: u8, limit: u64) -> U256 {
    let (targets, values, calldatas, _) = set_gas_limit_proposal(limit);
    assert!(chain.send(from, GOVERNOR_ADDRESS, IZgGovernor::proposeCall { targets, values, calldatas, description: format!("gas limit {limit}") }, U256::ZERO));
    let (targets, values, calldatas, description_hash) = set_gas_limit_proposal(limit);
    chain.view(GOVERNOR_ADDRESS, IZgGovernor::hashProposalCall { targets, values, calldatas, descriptionHash: description_hash })
}

#[test]
fn a_passed_proposal_changes_the_next_blocks_gas_limit_after_the_timelock() {
    let mut chain = chain();
    let genesis_limit = gas_limit(&chain);
    assert_eq!(chain.view(CHAIN_PARAMS_ADDRESS, IChainParams::blockGasLimitCall {}), genesis_limit);
    let id = propose(&mut chain, 0, 45_000_000);
    assert_eq!(chain.view(GOVERNOR_ADDRESS, IZgGovernor::stateCall { proposalId: id }), PENDING);
    // Views here run as of the head block: voting opens the block after the snapshot.
    chain.mine(2);
    assert_eq!(chain.view(GOVERNOR_ADDRESS, IZgGovernor::stateCall { proposalId: id }), ACTIVE);
    assert!(chain.send(0, GOVERNOR_ADDRESS, IZgGovernor::castVoteCall { proposalId: id, support: 1 }, U256::ZERO));
    assert!(chain.send(1, GOVERNOR_ADDRESS, IZgGovernor::castVoteCall { proposalId: id, support: 0 }, U256::ZERO));
    assert!(chain.send(2, GOVERNOR_ADDRESS, IZgGovernor::castVoteCall { proposalId: id, support: 1 }, U256::ZERO));
    assert!(!chain.send(2, GOVERNOR_ADDRESS, IZgGovernor::castVoteCall { proposalId: id, support: 1 }, U256::ZERO), "one vote each");
    let votes = chain.view(GOVERNOR_ADDRESS, IZgGovernor::proposalVotesCall { proposalId: id });
    assert_eq!((votes.againstVotes, votes.forVotes, votes.abstainVotes), (tokens(100), tokens(200), U256::ZERO));
    // The timelock only takes the governor's word, and ChainParams only the timelock's.
    assert!(!chain.send(3, CHAIN_PARAMS_ADDRESS, IChainParams::setBlockGasLimitCall { limit: 12_000_000 }, U256::ZERO));
    let deadline = u64::try_from(chain.view(GOVERNOR_ADDRESS, IZgGovernor::proposalDeadlineCall { proposalId: id })).unwrap();
    chain.mine(deadline + 1 - chain.head());
    assert_eq!(chain.view(GOVERNOR_ADDRESS, IZgGovernor::stateCall { proposalId: id }), SUCCEEDED);
    let (targets, values, calldatas, description_hash) = set_gas_limit_proposal(45_000_000);
    assert!(chain.send(3, GOVERNOR_ADDRESS, IZgGovernor::queueCall { targets: targets.clone(), values: values.clone(), calldatas: calldatas.clone(), descriptionHash: description_hash }, U256::ZERO));
    assert_eq!(chain.view(GOVERNOR_ADDRESS, IZgGovernor::stateCall { proposalId: id }), QUEUED);
    // Before the delay (block timestamps here are the block numbers, in seconds) it waits.
    assert!(!chain.send(3, GOVERNOR_ADDRESS, IZgGovernor::executeCall { targets: targets.clone(), values: values.clone(), calldatas: calldatas.clone(), descriptionHash: description_hash }, U256::ZERO));
    chain.mine(2);
    assert_eq!(gas_limit(&chain), genesis_limit);
    assert!(chain.send(3, GOVERNOR_ADDRESS, IZgGovernor::executeCall { targets, values, calldatas, descriptionHash: description_hash }, U256::ZERO));
    assert_eq!(chain.view(GOVERNOR_ADDRESS, IZgGovernor::stateCall { proposalId: id }), EXECUTED);
    assert_eq!(gas_limit(&chain), 45_000_000, "the block after the execution is built with the new limit");
    let next = execute_next_block(&mut chain.world, vec![]);
    assert_eq!(next.header.gas_limit, 45_000_000);
}

#[test]
fn votes_are_the_stake_at_the_snapshot_and_a_thin_vote_misses_quorum() {
    let mut chain = chain();
    let id = propose(&mut chain, 0, 30_000_000);
    let snapshot = chain.view(GOVERNOR_ADDRESS, IZgGovernor::proposalSnapshotCall { proposalId: id });
    chain.mine(1);
    // Signer 4 stakes 900 0G after the snapshot: more than everyone else, and it counts for nothing.
    assert!(chain.send(4, STAKING_ADDRESS, IStaking::delegateCall { operator: signer(0).address() }, tokens(900)));
    assert_eq!(chain.view(STAKING_ADDRESS, IStakeVotes::getVotesCall { account: signer(4).address() }), tokens(900));
    assert_eq!(chain.view(STAKING_ADDRESS, IStakeVotes::getPastVotesCall { account: signer(4).address(), timepoint: snapshot }), U256::ZERO);
    assert!(chain.send(4, GOVERNOR_ADDRESS, IZgGovernor::castVoteCall { proposalId: id, support: 1 }, U256::ZERO));
    // Signer 1 undelegates after the snapshot: its vote still weighs what it held then.
    assert!(chain.send(1, STAKING_ADDRESS, IStaking::undelegateCall { operator: signer(1).address(), amount: tokens(50) }, U256::ZERO));
    assert!(chain.send(1, GOVERNOR_ADDRESS, IZgGovernor::castVoteCall { proposalId: id, support: 1 }, U256::ZERO));
    let votes = chain.view(GOVERNOR_ADDRESS, IZgGovernor::proposalVotesCall { proposalId: id });
    assert_eq!(votes.forVotes, tokens(100), "only signer 1's snapshot stake counts");
    // Quorum is 30 % of the 400 0G staked at the snapshot: 100 is not enough.
    assert_eq!(chain.view(GOVERNOR_ADDRESS, IZgGovernor::quorumCall { timepoint: snapshot }), tokens(120));
    let deadline = u64::try_from(chain.view(GOVERNOR_ADDRESS, IZgGovernor::proposalDeadlineCall { proposalId: id })).unwrap();
    chain.mine(deadline + 1 - chain.head());
    assert_eq!(chain.view(GOVERNOR_ADDRESS, IZgGovernor::stateCall { proposalId: id }), DEFEATED);
    // A vote after the deadline is refused.
    assert!(!chain.send(2, GOVERNOR_ADDRESS, IZgGovernor::castVoteCall { proposalId: id, support: 1 }, U256::ZERO));
}

#[test]
fn a_slash_lowers_every_delegators_votes_from_its_block() {
    let mut chain = chain();
    assert!(chain.send(4, STAKING_ADDRESS, IStaking::delegateCall { operator: signer(2).address() }, tokens(100)));
    let before = chain.head();
    let context = crate::chain::producer::BlockContext {
        timestamp_s: before + 1,
        coinbase: COINBASE,
        system_calls: vec![crate::consensus::staking::slash_call(&[3u8; 32])],
        rewards: None,
        edits: Vec::new(),
    };
    crate::chain::producer::execute_block(&mut chain.world, context, vec![]);
    chain.mine(1);
    let votes_at = |chain: &Chain, account: Address, block: u64| chain.view(STAKING_ADDRESS, IStakeVotes::getPastVotesCall { account, timepoint: U256::from(block) });
    assert_eq!(votes_at(&chain, signer(4).address(), before), tokens(100));
    assert_eq!(votes_at(&chain, signer(4).address(), before + 1), tokens(90), "10 % slashed, pro rata");
    assert_eq!(votes_at(&chain, signer(2).address(), before + 1), tokens(90));
    assert_eq!(chain.view(STAKING_ADDRESS, IStakeVotes::getPastTotalSupplyCall { timepoint: U256::from(before + 1) }), tokens(480));
}

#[test]
fn an_out_of_range_limit_in_the_contract_is_ignored_by_the_node() {
    // ChainParams' setter refuses such values; the node's own bound guards a state written by
    // other means (a genesis file) all the same.
    let world = governed_world_with(5);
    assert_eq!(crate::chain::params::read(&world).expect("deployed").block_gas_limit, 5);
    let spec = world.resource::<zg_components::chain::ChainSpec>();
    assert_eq!(spec.block_gas_limit, zg_components::chain::ChainSpec::DEFAULT_BLOCK_GAS_LIMIT);
    let mut world = governed_world_with(25_000_000);
    assert_eq!(world.resource::<zg_components::chain::ChainSpec>().block_gas_limit, 25_000_000, "a valid genesis value applies");
    assert_eq!(execute_next_block(&mut world, vec![]).header.gas_limit, 25_000_000);
}
