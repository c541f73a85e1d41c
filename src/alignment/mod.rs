//! AI alignment nodes: the licence and manager contracts' artifacts and the parameters
//! `zgnode dev` and validator networks give them. Licences 1–10 go to dev accounts 0–9.
//! The contracts' behaviour and their tests are in `zg_systems::alignment`.
//!
//! [`auditor`]: the auditing client (audits drawn from `seed(epoch)` as entities of its tick,
//! a report each epoch); [`checks`]: what it checks (signed storage segments, DA samples,
//! verifiable providers' signed results) and the evidence it accuses with.

pub mod auditor;
pub mod checks;

use alloy_primitives::U256;
use anyhow::Context;

use zg_components::chain::{Genesis, GrantEntry};
use zg_systems::alignment::{self as contracts, AlignmentCode, AlignmentParams};

pub use zg_systems::alignment::{LICENSE_ADDRESS, MANAGER_ADDRESS};

pub const LICENSE_ARTIFACT: &str = include_str!("../../assets/contracts/AlignmentLicense.json");
pub const MANAGER_ARTIFACT: &str = include_str!("../../assets/contracts/AlignmentManager.json");

/// Each licence's whole reward over the schedule, in whole 0G (10 licences: 1,000,000 0G of the
/// 150,000,000 the AI alignment nodes' allocation holds).
pub const REWARD_PER_LICENCE_TOKENS: u64 = 100_000;
/// 36 months of daily unlocks.
pub const VESTING_EPOCHS: u64 = 1_095;
/// A year of reward days.
pub const LOCKED_EPOCHS: u64 = 365;

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// The dev chain's: an epoch (a compressed reward day) is 20 blocks, a licence stays soulbound
/// for 365 of them, 33 % of its reward is claimable at launch and 67 % vests over 1,095
/// reported epochs; operators bond 10 0G and lose 5 0G per false accusation.
pub fn dev_params() -> AlignmentParams {
    AlignmentParams {
        holders: crate::dev::dev_accounts().into_iter().map(|account| account.address).collect(),
        epoch_blocks: 20,
        locked_epochs: LOCKED_EPOCHS,
        vesting_epochs: VESTING_EPOCHS,
        reward_per_licence: tokens(REWARD_PER_LICENCE_TOKENS),
        launch_share_bps: 3_300,
        min_bond: tokens(10),
        false_accusation_penalty: tokens(5),
        verified_inference: zg_systems::verifiable::contracts::VERIFIED_INFERENCE_ADDRESS,
        pora_mine: zg_systems::storage::pora::MINE_ADDRESS,
    }
}

/// Audits an epoch draws unless configured otherwise.
pub const DEFAULT_QUOTA: zg_components::alignment::AuditQuota = zg_components::alignment::AuditQuota { storage_segments: 8, da_blobs: 2, verified_requests: 1, chat_records: 1 };
/// DA shares sampled per audited blob.
pub const DEFAULT_DA_SAMPLES: usize = 16;
/// How often the auditor looks at the chain.
pub const DEFAULT_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// The dev chain's auditor: dev account 5 holds licence 6 and operates it.
pub const DEV_AUDITOR_ACCOUNT: usize = 5;

/// `zgnode dev`'s auditor against the node at `rpc_url` (and its storage node).
pub fn dev_auditor_settings(rpc_url: String, storage_url: Option<String>) -> auditor::AuditorSettings {
    let account = &crate::dev::dev_accounts()[DEV_AUDITOR_ACCOUNT];
    let key = alloy_signer_local::PrivateKeySigner::from_bytes(&account.private_key).expect("the dev keys are valid (tested)");
    auditor::AuditorSettings {
        rpc_url,
        storage_url,
        operator_key: key.clone(),
        licences: vec![DEV_AUDITOR_ACCOUNT as u64 + 1],
        holder_key: Some(key),
        quota: DEFAULT_QUOTA,
        da_samples: DEFAULT_DA_SAMPLES,
        poll: DEFAULT_POLL,
    }
}

/// Places the licence and the manager in `genesis`, the manager's reward pool granted from the
/// AI alignment nodes' allocation.
pub fn install(genesis: &mut Genesis, params: &AlignmentParams) -> anyhow::Result<()> {
    let license = crate::governance::creation_code(LICENSE_ARTIFACT).context("the licence artifact")?;
    let manager = crate::governance::creation_code(MANAGER_ARTIFACT).context("the manager artifact")?;
    let accounts = contracts::genesis_accounts(&AlignmentCode { license: &license, manager: &manager }, params)
        .context("deploying the alignment contracts")?;
    genesis.accounts.extend(accounts);
    let pool = u64::try_from(params.pool() / tokens(1)).context("the reward pool is too large")?;
    genesis.grants.retain(|grant| grant.address != MANAGER_ADDRESS);
    genesis.grants.push(GrantEntry { address: MANAGER_ADDRESS, tokens: pool, from: "ai_alignment_nodes".into() });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_genesis_holds_ten_licences_and_their_pool() {
        let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
        genesis.validate().expect("valid");
        assert!(genesis.accounts.contains_key(&LICENSE_ADDRESS) && genesis.accounts.contains_key(&MANAGER_ADDRESS));
        let pool: u64 = genesis.grants.iter().filter(|g| g.address == MANAGER_ADDRESS).map(|g| g.tokens).sum();
        assert_eq!(pool, 10 * REWARD_PER_LICENCE_TOKENS);
    }
}
