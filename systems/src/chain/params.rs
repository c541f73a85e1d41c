//! The chain's governed parameters: the `ChainParams` contract the governance timelock owns, as
//! block production reads it. After a committed block that wrote to the contract (and at
//! genesis, and after a restore) the node reads its `overrides()` from the new state, so a value
//! a proposal changed in block N governs block N+1 on every node alike (it is chain state, not
//! configuration).

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::{SolCall, sol};
use bevy_ecs::prelude::*;

use zg_components::chain::{ChainHead, ChainSpec};

use super::evm;

/// Where genesis places the parameters contract.
pub const CHAIN_PARAMS_ADDRESS: Address = address!("0000000000000000000000000000000000004001");

sol! {
    interface IChainParams {
        function owner() external view returns (address);
        function blockGasLimit() external view returns (uint64);
        function overrides() external view returns (uint64 gasLimit, uint256 blobPrice, uint256 pricePerSector, uint256 minStake, uint256 rewardRateBps);
        function setBlockGasLimit(uint64 limit) external;
        function setDaBlobPrice(uint256 price) external;
        function setStoragePricePerSector(uint256 price) external;
        function setComputeMinStake(uint256 stake) external;
        function setAlignmentRewardRateBps(uint256 rate) external;
        function setOwner(address newOwner) external;
    }
}

/// The contract's bounds on the gas limit (checked again here: the node never builds a block
/// whose limit the contract would refuse, whatever the state says).
pub const MIN_BLOCK_GAS_LIMIT: u64 = 10_000_000;
pub const MAX_BLOCK_GAS_LIMIT: u64 = 2_000_000_000;

/// The parameters as the contract stores them; a zero gas limit means the genesis limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GovernedParams {
    pub block_gas_limit: u64,
    pub da_blob_price: U256,
    pub storage_price_per_sector: U256,
    pub compute_min_stake: U256,
    pub alignment_reward_rate_bps: U256,
}

/// Reads the contract in the world's current state; None where it is not deployed or does not
/// answer (a chain without governance).
pub fn read(world: &World) -> Option<GovernedParams> {
    if !evm::account_info(world, &CHAIN_PARAMS_ADDRESS).is_some_and(|info| info.has_code()) {
        return None;
    }
    world.get_resource::<ChainHead>()?;
    world.get_resource::<evm::PrecompileRegistry>()?;
    let output = evm::call_view(world, CHAIN_PARAMS_ADDRESS, IChainParams::overridesCall {}.abi_encode()).ok()?;
    let values = IChainParams::overridesCall::abi_decode_returns(&output).ok()?;
    Some(GovernedParams {
        block_gas_limit: values.gasLimit,
        da_blob_price: values.blobPrice,
        storage_price_per_sector: values.pricePerSector,
        compute_min_stake: values.minStake,
        alignment_reward_rate_bps: values.rewardRateBps,
    })
}

/// Applies the contract's gas limit to the blocks built from now on. Called after a block that
/// wrote to the contract, after genesis and after a restore.
pub fn apply(world: &mut World) {
    let Some(current) = world.get_resource::<ChainSpec>().map(|spec| spec.block_gas_limit) else { return };
    let Some(params) = read(world) else { return };
    // The limit the chain started with, kept from the first call (the spec then still holds the
    // genesis value), so a state that holds no override again (a rewind) gets it back.
    let genesis_limit = world.get_resource_or_insert_with(|| GenesisGasLimit(current)).0;
    let limit = match params.block_gas_limit {
        0 => genesis_limit,
        limit if (MIN_BLOCK_GAS_LIMIT..=MAX_BLOCK_GAS_LIMIT).contains(&limit) => limit,
        _ => current,
    };
    if limit != current {
        tracing::info!(from = current, to = limit, "block gas limit changed by governance");
        world.resource_mut::<ChainSpec>().block_gas_limit = limit;
    }
}

/// The block gas limit genesis set, before any governance change.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenesisGasLimit(pub u64);
