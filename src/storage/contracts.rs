//! The storage contracts' compiled artifacts (sources in `assets/contracts/Flow.sol`, built by
//! `node assets/contracts/build.mjs`) and their genesis accounts.

use alloy_primitives::{Address, U256, hex};

use zg_components::chain::GenesisAccount;
use zg_systems::storage::{flow, pora};

pub const FLOW_ARTIFACT: &str = include_str!("../../assets/contracts/Flow.json");
pub const MARKET_ARTIFACT: &str = include_str!("../../assets/contracts/FixedPriceMarket.json");
pub const MINE_ARTIFACT: &str = include_str!("../../assets/contracts/PoraMine.json");

/// PoRA on the dev chain: 20-block epochs (5 s at 250 ms blocks), 8 challenges each, 100 0G
/// storage stake, 5% of it per missed challenge, 0.01 0G per passed one.
pub fn dev_mine_params() -> pora::MineParams {
    let one = U256::from(10u64).pow(U256::from(18));
    pora::MineParams {
        epoch_blocks: 20,
        challenges_per_epoch: 8,
        min_stake: one * U256::from(100),
        penalty_per_mille: 50,
        reward_per_challenge: one / U256::from(100),
        ring: Vec::new(),
        data_shards: 0,
    }
}

/// Whole 0G granted to the PoRA contract at genesis from the community allocation.
pub const MINE_REWARD_POOL_TOKENS: u64 = 1_000_000;

/// Why a system contract could not be put into genesis.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("the artifact is not JSON with a hex \"bytecode\": {0}")]
    Artifact(String),
    #[error(transparent)]
    Deploy(#[from] zg_systems::chain::genesis::DeployError),
}

fn creation_code(artifact: &str) -> Result<Vec<u8>, ContractError> {
    let artifact: serde_json::Value = serde_json::from_str(artifact).map_err(|e| ContractError::Artifact(e.to_string()))?;
    let code = artifact["bytecode"].as_str().ok_or_else(|| ContractError::Artifact("no bytecode".into()))?;
    hex::decode(code).map_err(|e| ContractError::Artifact(e.to_string()))
}

/// Flow at 0x…2000, the FixedPrice market at 0x…2001 and PoraMine at 0x…2002 (dev
/// parameters, no ring), as genesis accounts (PoraMine's reward pool is granted separately,
/// from an allocation).
pub fn storage_contracts() -> Vec<(Address, GenesisAccount)> {
    let build = || -> Result<_, ContractError> {
        let mut accounts = flow::genesis_accounts(
            &creation_code(FLOW_ARTIFACT)?,
            &creation_code(MARKET_ARTIFACT)?,
            U256::from(flow::DEFAULT_PRICE_PER_SECTOR),
        )?;
        accounts.push((pora::MINE_ADDRESS, mine_account(&dev_mine_params())?));
        Ok(accounts)
    };
    // The artifacts are part of the binary and tested; a failure here is a build defect.
    build().expect("the shipped storage contracts deploy")
}

/// PoraMine's genesis account for these parameters (a validator network passes its ring).
pub fn mine_account(params: &pora::MineParams) -> Result<GenesisAccount, ContractError> {
    let mut mine = creation_code(MINE_ARTIFACT)?;
    mine.extend(pora::constructor_args(flow::FLOW_ADDRESS, params));
    Ok(zg_systems::chain::genesis::deploy_contract(&mine, U256::ZERO)?)
}
