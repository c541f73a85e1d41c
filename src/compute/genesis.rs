//! The marketplace contracts' compiled artifacts (sources in `assets/contracts`, built by
//! `node assets/contracts/build.mjs`) and their genesis accounts.

use alloy_primitives::{Address, hex};

use zg_components::chain::GenesisAccount;
use zg_systems::compute::contracts::{self, MarketCode, MarketParams};
use zg_systems::verifiable::contracts::RegistryParams;

pub const LEDGER_ARTIFACT: &str = include_str!("../../assets/contracts/LedgerManager.json");
pub const INFERENCE_ARTIFACT: &str = include_str!("../../assets/contracts/InferenceServing.json");
pub const FINE_TUNING_ARTIFACT: &str = include_str!("../../assets/contracts/FineTuningServing.json");
pub const MODEL_REGISTRY_ARTIFACT: &str = include_str!("../../assets/contracts/ModelRegistry.json");
pub const VERIFIED_INFERENCE_ARTIFACT: &str = include_str!("../../assets/contracts/VerifiedInference.json");

/// The dev chain's marketplace (validator networks built on the dev genesis share it): dev
/// account 7, which runs `zgnode dev`'s built-in provider, owns it (so it acknowledges its own
/// signer without touching the accounts users deploy from), refunds wait 60 s, 30 % of an
/// unacknowledged fine-tuning fee is paid.
pub fn dev_params() -> MarketParams {
    MarketParams { owner: crate::dev::dev_accounts()[super::dev_provider::DEV_PROVIDER_ACCOUNT].address, lock_time_secs: 60, penalty_percent: 30 }
}

fn creation_code(artifact: &str) -> Result<Vec<u8>, String> {
    let artifact: serde_json::Value = serde_json::from_str(artifact).map_err(|e| e.to_string())?;
    hex::decode(artifact["bytecode"].as_str().ok_or("no bytecode")?).map_err(|e| e.to_string())
}

/// The LedgerManager, InferenceServing and FineTuningServing accounts for `params`.
pub fn market_accounts(params: &MarketParams) -> Vec<(Address, GenesisAccount)> {
    let build = || -> Result<Vec<(Address, GenesisAccount)>, String> {
        let (ledger, inference, fine_tuning) =
            (creation_code(LEDGER_ARTIFACT)?, creation_code(INFERENCE_ARTIFACT)?, creation_code(FINE_TUNING_ARTIFACT)?);
        let code = MarketCode { ledger: &ledger, inference: &inference, fine_tuning: &fine_tuning };
        contracts::genesis_accounts(&code, params).map_err(|e| e.to_string())
    };
    // The artifacts are part of the binary and tested; a failure here is a build defect.
    build().expect("the shipped marketplace contracts deploy")
}

/// The dev chain's model registry: a model is usable 5 s after registration (the node derives
/// its key meanwhile: under a second in a release build) and registering burns 0.0001 0G per
/// circuit row (0.2048 0G for the small digit classifier's 2^11 rows).
pub fn dev_registry_params() -> RegistryParams {
    RegistryParams { activation_delay_secs: 5, fee_per_row: alloy_primitives::U256::from(100_000_000_000_000u64) }
}

/// The ModelRegistry and VerifiedInference accounts (verifiable compute, issue 14).
pub fn verifiable_accounts(params: RegistryParams) -> Vec<(Address, GenesisAccount)> {
    let build = || -> Result<Vec<(Address, GenesisAccount)>, String> {
        let (registry, verified) = (creation_code(MODEL_REGISTRY_ARTIFACT)?, creation_code(VERIFIED_INFERENCE_ARTIFACT)?);
        zg_systems::verifiable::contracts::genesis_accounts(&registry, &verified, params).map_err(|e| e.to_string())
    };
    build().expect("the shipped verifiable-compute contracts deploy")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_market_deploys_at_the_sdk_addresses() {
        let accounts = market_accounts(&dev_params());
        let addresses: Vec<Address> = accounts.iter().map(|(a, _)| *a).collect();
        assert_eq!(
            addresses,
            vec![contracts::DEPLOYER, contracts::LEDGER_ADDRESS, contracts::INFERENCE_ADDRESS, contracts::FINE_TUNING_ADDRESS]
        );
        assert_eq!(accounts[0].1.nonce, contracts::DEPLOYER_NONCE);
        for (_, account) in &accounts[1..] {
            let code = account.code.as_ref().expect("code");
            assert!(!code.is_empty() && code.len() <= 24_576, "runtime code within EIP-170");
            assert!(!account.storage.is_empty(), "the constructor wrote the owner");
        }
    }
}
