//! The 10 dev accounts anvil and Hardhat fund (from their mnemonic), and which of them the dev
//! node's roles pay from.

use alloy_primitives::{Address, B256};
use alloy_signer_local::{MnemonicBuilder, coins_bip39::English};

/// The mnemonic anvil and Hardhat derive their dev accounts from.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
pub const DEV_ACCOUNT_COUNT: u32 = 10;
/// Each dev account's funding, in whole 0G, taken from the ecosystem allocation.
pub const DEV_ACCOUNT_TOKENS: u64 = 10_000;
/// Chain id of `zgnode dev`: Hardhat's, so tools and the 0G SDKs pick their local defaults.
pub const DEV_CHAIN_ID: u64 = 31337;
/// The dev account `zgnode dev`'s storage node mines PoRA with (the last one).
pub const DEV_MINER_ACCOUNT: usize = 9;
/// The dev account `zgnode dev`'s DA node pays blob fees from.
pub const DEV_DISPERSER_ACCOUNT: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevAccount {
    pub address: Address,
    pub private_key: B256,
}

/// Derives the dev accounts at m/44'/60'/0'/0/i.
pub fn dev_accounts() -> Vec<DevAccount> {
    (0..DEV_ACCOUNT_COUNT)
        .map(|index| {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(index)
                .and_then(|builder| builder.build())
                .expect("the dev mnemonic and path are valid");
            DevAccount { address: signer.address(), private_key: B256::from_slice(&signer.to_bytes()[..]) }
        })
        .collect()
}

/// The dev accounts' signers, in order (each derivation hashes the mnemonic: derive them once).
pub fn dev_signers() -> Vec<alloy_signer_local::PrivateKeySigner> {
    dev_accounts()
        .iter()
        .filter_map(|account| alloy_signer_local::PrivateKeySigner::from_bytes(&account.private_key).ok())
        .collect()
}

