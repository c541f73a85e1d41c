//! The storage contracts' compiled artifacts (sources in `assets/contracts/Flow.sol`, built by
//! `node assets/contracts/build.mjs`) and their genesis accounts.

use alloy_primitives::{Address, U256, hex};

use zg_components::chain::GenesisAccount;
use zg_systems::storage::flow;

pub const FLOW_ARTIFACT: &str = include_str!("../../assets/contracts/Flow.json");
pub const MARKET_ARTIFACT: &str = include_str!("../../assets/contracts/FixedPriceMarket.json");

fn creation_code(artifact: &str) -> Result<Vec<u8>, String> {
    let artifact: serde_json::Value = serde_json::from_str(artifact).map_err(|e| e.to_string())?;
    let code = artifact["bytecode"].as_str().ok_or("no bytecode")?;
    hex::decode(code).map_err(|e| e.to_string())
}

/// Flow at 0x…2000 and the FixedPrice market at 0x…2001, as genesis accounts.
pub fn storage_contracts() -> Vec<(Address, GenesisAccount)> {
    let build = || -> Result<_, String> {
        flow::genesis_accounts(
            &creation_code(FLOW_ARTIFACT)?,
            &creation_code(MARKET_ARTIFACT)?,
            U256::from(flow::DEFAULT_PRICE_PER_SECTOR),
        )
    };
    // The artifacts are part of the binary and tested; a failure here is a build defect.
    build().expect("the shipped storage contracts deploy")
}
