//! The DA entrance's compiled artifact (source `assets/contracts/DAEntrance.sol`, built by
//! `node assets/contracts/build.mjs`) and its genesis accounts.

use alloy_primitives::{U256, hex};

use zg_components::chain::GenesisAccount;
use zg_systems::consensus::staking::STAKING_ADDRESS;
use zg_systems::da::entrance::{self, EntranceParams};
use zg_systems::da::quorum::MAX_VOTES_PER_SIGNER;

pub const DA_ENTRANCE_ARTIFACT: &str = include_str!("../../assets/contracts/DAEntrance.json");

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// The first sampling round's target: one random share in eight beats it (the entrance then
/// steers toward 20 valid responses a round).
pub fn first_target() -> U256 {
    U256::MAX / U256::from(8)
}

/// 0.001 0G per blob.
pub fn blob_price() -> U256 {
    U256::from(10u64).pow(U256::from(15))
}

/// The dev chain's entrance: its one signer is the dev DA key with one vote; a blob is final
/// 4 blocks after it is confirmed (an idle dev chain seals an empty block a second, so about
/// 4 s) and gives up 240 blocks after upload.
pub fn dev_params() -> EntranceParams {
    EntranceParams {
        staking: None,
        blob_price: blob_price(),
        fraud_window_blocks: 4,
        attest_timeout_blocks: 240,
        tokens_per_vote: tokens(1),
        max_votes_per_signer: MAX_VOTES_PER_SIGNER,
        fixed_signers: vec![(*super::dev_signer().public_key().as_bytes(), tokens(1))],
        sample_period: 5,
        sample_window_blocks: 1_000,
        podas_target: first_target(),
    }
}

/// A validator network's entrance: the staking contract's validators sign, a vote per 1,000
/// 0G of stake (capped at 1,024, 0G's rule).
pub fn network_params() -> EntranceParams {
    EntranceParams {
        staking: Some(STAKING_ADDRESS),
        blob_price: blob_price(),
        fraud_window_blocks: 10,
        attest_timeout_blocks: 600,
        tokens_per_vote: tokens(1_000),
        max_votes_per_signer: MAX_VOTES_PER_SIGNER,
        fixed_signers: Vec::new(),
        sample_period: 30,
        sample_window_blocks: 3_000,
        podas_target: first_target(),
    }
}

/// The entrance's genesis account for `params`.
pub fn entrance_account(params: &EntranceParams) -> GenesisAccount {
    let build = || -> Result<GenesisAccount, String> {
        let artifact: serde_json::Value = serde_json::from_str(DA_ENTRANCE_ARTIFACT).map_err(|e| e.to_string())?;
        let code = hex::decode(artifact["bytecode"].as_str().ok_or("no bytecode")?).map_err(|e| e.to_string())?;
        entrance::genesis_account(&code, params).map_err(|e| e.to_string())
    };
    // The artifact is part of the binary and tested; a failure here is a build defect.
    build().expect("the shipped DA entrance deploys")
}
