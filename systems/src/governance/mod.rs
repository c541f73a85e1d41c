//! Governance by staked 0G, as genesis places it: OpenZeppelin's Governor at
//! [`GOVERNOR_ADDRESS`] (voting power = stake in the staking contract at the proposal's snapshot
//! block), its timelock at [`TIMELOCK_ADDRESS`], and the `ChainParams` contract at
//! [`CHAIN_PARAMS_ADDRESS`] the timelock owns and the chain reads ([`crate::chain::params`]).

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::{SolValue, sol};

use zg_components::chain::GenesisAccount;

pub use crate::chain::params::CHAIN_PARAMS_ADDRESS;
use crate::chain::genesis::{DeployError, deploy_contract_at};
use crate::consensus::staking::STAKING_ADDRESS;

pub const GOVERNOR_ADDRESS: Address = address!("0000000000000000000000000000000000004000");
pub const TIMELOCK_ADDRESS: Address = address!("0000000000000000000000000000000000004002");

sol! {
    /// The parts of OpenZeppelin's `IGovernor` (and counting, timelock extensions) the node and
    /// its tests call.
    interface IZgGovernor {
        function name() external view returns (string memory);
        function votingDelay() external view returns (uint256);
        function votingPeriod() external view returns (uint256);
        function quorum(uint256 timepoint) external view returns (uint256);
        function proposalThreshold() external view returns (uint256);
        function timelock() external view returns (address);
        function token() external view returns (address);
        function state(uint256 proposalId) external view returns (uint8);
        function propose(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, string memory description) external returns (uint256);
        function castVote(uint256 proposalId, uint8 support) external returns (uint256);
        function hashProposal(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash) external pure returns (uint256);
        function queue(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash) external returns (uint256);
        function execute(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash) external payable returns (uint256);
        function proposalVotes(uint256 proposalId) external view returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes);
        function proposalSnapshot(uint256 proposalId) external view returns (uint256);
        function proposalDeadline(uint256 proposalId) external view returns (uint256);
    }
    interface IStakeVotes {
        function getVotes(address account) external view returns (uint256);
        function getPastVotes(address account, uint256 timepoint) external view returns (uint256);
        function getPastTotalSupply(uint256 timepoint) external view returns (uint256);
    }
}

/// What genesis fixes about governance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GovernanceParams {
    pub voting_delay_blocks: u64,
    pub voting_period_blocks: u32,
    /// Votes (wei of stake) an account needs to propose.
    pub proposal_threshold: U256,
    /// Share of all stake at the snapshot that must vote for or abstain.
    pub quorum_percent: u64,
    pub timelock_delay_secs: u64,
    pub initial: InitialChainParams,
}

/// `ChainParams` at genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialChainParams {
    /// 0: the genesis gas limit.
    pub block_gas_limit: u64,
    pub da_blob_price: U256,
    pub storage_price_per_sector: U256,
    pub compute_min_stake: U256,
    pub alignment_reward_rate_bps: U256,
}

/// The creation code of the three contracts (from their compiled artifacts).
pub struct GovernanceCode<'a> {
    pub governor: &'a [u8],
    pub timelock: &'a [u8],
    pub chain_params: &'a [u8],
}

/// The governor, the timelock and the parameters, each constructed at its own address, beside
/// the genesis `staking` account (the governor reads its clock).
pub fn genesis_accounts(
    code: &GovernanceCode<'_>,
    params: &GovernanceParams,
    staking: &GenesisAccount,
) -> Result<BTreeMap<Address, GenesisAccount>, DeployError> {
    let with_args = |creation: &[u8], args: Vec<u8>| {
        let mut init = creation.to_vec();
        init.extend_from_slice(&args);
        init
    };
    let governor = with_args(
        code.governor,
        (
            STAKING_ADDRESS,
            TIMELOCK_ADDRESS,
            U256::from(params.voting_delay_blocks),
            U256::from(params.voting_period_blocks),
            params.proposal_threshold,
            U256::from(params.quorum_percent),
        )
            .abi_encode_params(),
    );
    let timelock = with_args(code.timelock, (U256::from(params.timelock_delay_secs), GOVERNOR_ADDRESS).abi_encode_params());
    let initial = &params.initial;
    let chain_params = with_args(
        code.chain_params,
        (
            TIMELOCK_ADDRESS,
            U256::from(initial.block_gas_limit),
            initial.da_blob_price,
            initial.storage_price_per_sector,
            initial.compute_min_stake,
            initial.alignment_reward_rate_bps,
        )
            .abi_encode_params(),
    );
    Ok(BTreeMap::from([
        (GOVERNOR_ADDRESS, deploy_contract_at(GOVERNOR_ADDRESS, &governor, &[(STAKING_ADDRESS, staking)])?),
        (TIMELOCK_ADDRESS, deploy_contract_at(TIMELOCK_ADDRESS, &timelock, &[])?),
        (CHAIN_PARAMS_ADDRESS, deploy_contract_at(CHAIN_PARAMS_ADDRESS, &chain_params, &[])?),
    ]))
}

#[cfg(test)]
mod tests;
