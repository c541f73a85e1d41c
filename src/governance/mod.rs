//! Governance by staked 0G: the compiled Governor, timelock and `ChainParams` artifacts, the
//! parameters `zgnode dev` and `zgnode testnet` give them, and the dev chain's genesis stake
//! (dev accounts 0–3 are self-staked validators in the staking contract, so they hold votes).
//! The contracts' behaviour is in `zg_systems::governance`; the chain reads the parameters in
//! `zg_systems::chain::params`.

use alloy_primitives::{U256, hex};

use anyhow::Context;
use zg_components::chain::{Genesis, GrantEntry};
use zg_systems::consensus::staking::{self, GenesisValidator, STAKING_ADDRESS};
use zg_systems::governance::{self as contracts, GovernanceCode, GovernanceParams, InitialChainParams};

pub use zg_systems::chain::params::CHAIN_PARAMS_ADDRESS;
pub use zg_systems::governance::{GOVERNOR_ADDRESS, TIMELOCK_ADDRESS};

/// The staking contract's compiled artifact (source: `assets/contracts/Staking.sol`, built by
/// `node assets/contracts/build.mjs`).
pub const STAKING_ARTIFACT: &str = include_str!("../../assets/contracts/Staking.json");
pub const GOVERNOR_ARTIFACT: &str = include_str!("../../assets/contracts/ZgGovernor.json");
pub const TIMELOCK_ARTIFACT: &str = include_str!("../../assets/contracts/ZgTimelock.json");
pub const CHAIN_PARAMS_ARTIFACT: &str = include_str!("../../assets/contracts/ChainParams.json");

/// Each dev validator's self-stake (dev accounts 0–3), in whole 0G, out of the AI alignment
/// nodes' allocation, as a validator network's stake is.
pub const DEV_STAKE_TOKENS: u64 = 1_000;
/// How many dev accounts hold stake.
pub const DEV_STAKERS: usize = 4;

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A compiled artifact's creation code.
pub fn creation_code(artifact: &str) -> anyhow::Result<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_str(artifact).context("the artifact is not JSON")?;
    hex::decode(value["bytecode"].as_str().context("the artifact has no bytecode")?).context("the bytecode is not hex")
}

/// Voting delay 1 block, voting period 20 blocks, a 2 s timelock, anyone with stake may
/// propose, and a quorum of 30 % of all stake (so one of the four equal dev stakers alone
/// cannot carry a vote).
pub fn dev_params() -> GovernanceParams {
    GovernanceParams {
        voting_delay_blocks: 1,
        voting_period_blocks: 20,
        proposal_threshold: tokens(1),
        quorum_percent: 30,
        timelock_delay_secs: 2,
        initial: InitialChainParams {
            block_gas_limit: 0,
            da_blob_price: crate::da::genesis::blob_price(),
            storage_price_per_sector: U256::from(zg_systems::storage::flow::DEFAULT_PRICE_PER_SECTOR),
            compute_min_stake: tokens(100),
            alignment_reward_rate_bps: U256::from(10_000u64),
        },
    }
}

/// A validator network's (`zgnode testnet`): as the dev chain's, with a 60-block voting period
/// (its blocks come faster; 100 ms blocks still leave 6 s to vote).
pub fn network_params() -> GovernanceParams {
    GovernanceParams { voting_period_blocks: 60, ..dev_params() }
}

/// The dev chain's validators in the staking contract: dev accounts 0–3, self-staked. The dev
/// chain has one producer, so their consensus keys only name them; the stake votes.
pub fn dev_validators() -> Vec<GenesisValidator> {
    crate::dev::dev_accounts()
        .into_iter()
        .take(DEV_STAKERS)
        .enumerate()
        .map(|(i, account)| GenesisValidator {
            operator: account.address,
            consensus_key: alloy_primitives::keccak256(format!("zgnode dev validator {i}")).0,
            stake: tokens(DEV_STAKE_TOKENS),
        })
        .collect()
}

/// Places `validators`' staking contract in `genesis` (its stake granted from the alignment
/// allocation, replacing any earlier one) and the governance contracts beside it.
pub fn install(
    genesis: &mut Genesis,
    validators: &[GenesisValidator],
    min_self_stake: U256,
    unbonding_blocks: u64,
    slash_percent: u64,
    params: &GovernanceParams,
) -> anyhow::Result<()> {
    let staking_code = creation_code(STAKING_ARTIFACT).context("the staking artifact")?;
    let account = staking::genesis_account(&staking_code, validators, min_self_stake, unbonding_blocks, slash_percent)
        .context("deploying the staking contract")?;
    let total: U256 = validators.iter().map(|v| v.stake).sum();
    let whole = u64::try_from(total / tokens(1)).context("the genesis stake is too large")?;
    genesis.grants.retain(|grant| grant.address != STAKING_ADDRESS);
    genesis.grants.push(GrantEntry { address: STAKING_ADDRESS, tokens: whole, from: "ai_alignment_nodes".into() });
    let governor = creation_code(GOVERNOR_ARTIFACT).context("the governor artifact")?;
    let timelock = creation_code(TIMELOCK_ARTIFACT).context("the timelock artifact")?;
    let chain_params = creation_code(CHAIN_PARAMS_ARTIFACT).context("the ChainParams artifact")?;
    let code = GovernanceCode { governor: &governor, timelock: &timelock, chain_params: &chain_params };
    let accounts = contracts::genesis_accounts(&code, params, &account).context("deploying the governance contracts")?;
    genesis.accounts.insert(STAKING_ADDRESS, account);
    genesis.accounts.extend(accounts);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_genesis_holds_stake_and_governance() {
        let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
        genesis.validate().expect("valid");
        for address in [STAKING_ADDRESS, GOVERNOR_ADDRESS, TIMELOCK_ADDRESS, CHAIN_PARAMS_ADDRESS] {
            assert!(genesis.accounts[&address].code.as_ref().is_some_and(|c| !c.is_empty()), "{address}");
        }
        let staked: Vec<_> = genesis.grants.iter().filter(|g| g.address == STAKING_ADDRESS).collect();
        assert_eq!(staked.len(), 1);
        assert_eq!(staked[0].tokens, DEV_STAKE_TOKENS * DEV_STAKERS as u64);
    }
}
