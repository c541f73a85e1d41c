//! The dev chain's fixtures: the 10 accounts anvil and Hardhat fund ([`accounts`]), and the dev
//! genesis, which every role adds its contracts to.

pub mod accounts;

use alloy_primitives::U256;
use zg_components::chain::{Genesis, GrantEntry};

pub use accounts::{
    DEV_ACCOUNT_COUNT, DEV_ACCOUNT_TOKENS, DEV_CHAIN_ID, DEV_DISPERSER_ACCOUNT, DEV_MINER_ACCOUNT, DEV_MNEMONIC, DevAccount, dev_accounts,
    dev_signers,
};

/// The 0G distribution with the dev accounts funded out of the ecosystem allocation, and the
/// storage contracts (Flow, FixedPrice market, PoraMine with its reward pool) in place.
pub fn dev_genesis(chain_id: u64) -> Genesis {
    let mut genesis = Genesis::zero_gravity(chain_id);
    genesis.grants = dev_accounts()
        .into_iter()
        .map(|account| GrantEntry { address: account.address, tokens: DEV_ACCOUNT_TOKENS, from: "ecosystem".into() })
        .collect();
    genesis.accounts.extend(crate::storage::storage_contracts());
    genesis.accounts.insert(
        zg_systems::da::entrance::DA_ENTRANCE_ADDRESS,
        crate::da::genesis::entrance_account(&crate::da::genesis::dev_params()),
    );
    genesis.accounts.extend(crate::compute::genesis::market_accounts(&crate::compute::genesis::dev_params()));
    genesis.accounts.extend(crate::compute::genesis::verifiable_accounts(crate::compute::genesis::dev_registry_params()));
    genesis.grants.push(GrantEntry {
        address: zg_systems::storage::pora::MINE_ADDRESS,
        tokens: crate::storage::MINE_REWARD_POOL_TOKENS,
        from: "community".into(),
    });
    // The artifacts are part of the binary and tested; a failure here is a build defect.
    crate::governance::install(
        &mut genesis,
        &crate::governance::dev_validators(),
        U256::from(10u64).pow(U256::from(18)),
        DEV_UNBONDING_BLOCKS,
        10,
        &crate::governance::dev_params(),
    )
    .expect("the shipped staking and governance contracts deploy");
    crate::alignment::install(&mut genesis, &crate::alignment::dev_params()).expect("the shipped alignment contracts deploy");
    genesis
}

/// Blocks a dev staker's undelegated stake waits before it can be withdrawn (an idle dev chain
/// seals a block a second).
pub const DEV_UNBONDING_BLOCKS: u64 = 10;

#[cfg(test)]
mod tests {
    use alloy_primitives::address;
    use super::*;

    #[test]
    fn dev_accounts_are_anvils() {
        let accounts = dev_accounts();
        assert_eq!(accounts.len(), 10);
        assert_eq!(accounts[0].address, address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(
            accounts[0].private_key.to_string(),
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        );
        assert_eq!(accounts[9].address, address!("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"));
    }

    #[test]
    fn dev_genesis_is_valid() {
        dev_genesis(DEV_CHAIN_ID).validate().expect("valid");
    }
}

/// The network genesis shipped in `assets/genesis/zgnode.json`: the 0G distribution, chain id
/// 16600, no dev accounts. `zgnode run` uses it when the config names no genesis file.
pub const NETWORK_GENESIS_JSON: &str = include_str!("../../assets/genesis/zgnode.json");

pub fn network_genesis() -> Genesis {
    Genesis::from_json(NETWORK_GENESIS_JSON).expect("the shipped genesis is valid (tested)")
}

#[cfg(test)]
mod asset_tests {
    use super::*;

    #[test]
    fn the_shipped_genesis_is_the_0g_distribution() {
        let genesis = network_genesis();
        assert_eq!(genesis, Genesis::zero_gravity(16600), "regenerate assets/genesis/zgnode.json");
        let shares: Vec<(&str, u32)> = genesis.allocations.iter().map(|a| (a.name.as_str(), a.percent)).collect();
        assert_eq!(
            shares,
            [("ecosystem", 28), ("backers", 22), ("team", 22), ("ai_alignment_nodes", 15), ("community", 13)]
        );
        assert_eq!(genesis.max_supply, 1_000_000_000);
        assert_eq!((genesis.token_symbol.as_str(), genesis.token_decimals), ("0G", 18));
    }
}
