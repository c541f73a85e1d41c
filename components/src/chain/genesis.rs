//! Genesis: the chain id, the native token's supply and its distribution.
//!
//! The 0G distribution fixes the token: `0G`, 18 decimals, 1,000,000,000 max supply, split
//! 28% ecosystem growth, 22% backers, 22% team/contributors/advisors, 15% AI alignment nodes and
//! 13% community rewards. Every genesis balance comes out of one of those allocations, so the
//! sum of all balances is exactly the max supply.

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One allocation of the max supply, in whole percent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    pub name: String,
    pub percent: u32,
    pub address: Address,
}

/// An account at genesis beyond the allocations (contracts, pre-deployed code).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    #[serde(default)]
    pub code: Option<Bytes>,
    #[serde(default)]
    pub storage: BTreeMap<U256, U256>,
    /// The account's starting nonce (a contract starts at least at 1). An account that
    /// "deployed" genesis contracts starts past the nonces whose CREATE addresses they hold.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nonce: u64,
}

fn is_zero(nonce: &u64) -> bool {
    *nonce == 0
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    pub address: Address,
    /// Whole tokens (not wei), taken from `from`.
    pub tokens: u64,
    pub from: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Genesis {
    pub chain_id: u64,
    pub token_symbol: String,
    pub token_decimals: u8,
    /// Whole tokens.
    pub max_supply: u64,
    pub gas_limit: u64,
    pub base_fee_per_gas: u64,
    #[serde(default)]
    pub timestamp: u64,
    #[serde(default)]
    pub extra_data: Bytes,
    pub allocations: Vec<Allocation>,
    /// Balances moved out of an allocation to other addresses at genesis.
    #[serde(default)]
    pub grants: Vec<GrantEntry>,
    #[serde(default)]
    pub accounts: BTreeMap<Address, GenesisAccount>,
    /// Present on a chain run by validators (the staking contract must be in `accounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusGenesis>,
}

/// Consensus parameters fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsensusGenesis {
    /// Blocks per epoch: validator set changes take effect after each multiple of this.
    pub epoch_length: u64,
    /// Wei paid to validators per block on top of fees.
    pub block_reward: U256,
    /// The allocation block rewards come from.
    pub reward_allocation: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis is not valid JSON for this schema: {0}")]
    Parse(String),
    #[error("allocations add up to {0}%, not 100%")]
    PercentNot100(u32),
    #[error("allocation {0:?} appears twice")]
    DuplicateAllocation(String),
    #[error("grant to {address} names allocation {from:?}, which does not exist")]
    UnknownAllocation { address: Address, from: String },
    #[error("grants from {0:?} exceed its allocation")]
    AllocationOverdrawn(String),
    #[error("token must have 18 decimals, got {0}")]
    Decimals(u8),
    #[error("chain id must be non-zero")]
    ZeroChainId,
    #[error("gas limit {0} is below the 5,000 minimum (EIP-1559 adjustments need room)")]
    GasLimitTooLow(u64),
    #[error("consensus: {0}")]
    Consensus(String),
}

impl Genesis {
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        let genesis: Self =
            serde_json::from_str(text).map_err(|e| GenesisError::Parse(e.to_string()))?;
        genesis.validate()?;
        Ok(genesis)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serializes")
    }

    pub fn one_token(&self) -> U256 {
        U256::from(10u64).pow(U256::from(self.token_decimals))
    }

    pub fn max_supply_wei(&self) -> U256 {
        U256::from(self.max_supply) * self.one_token()
    }

    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.chain_id == 0 {
            return Err(GenesisError::ZeroChainId);
        }
        if self.token_decimals != 18 {
            return Err(GenesisError::Decimals(self.token_decimals));
        }
        if self.gas_limit < 5_000 {
            return Err(GenesisError::GasLimitTooLow(self.gas_limit));
        }
        let total: u32 = self.allocations.iter().map(|a| a.percent).sum();
        if total != 100 {
            return Err(GenesisError::PercentNot100(total));
        }
        for (i, a) in self.allocations.iter().enumerate() {
            if self.allocations[..i].iter().any(|b| b.name == a.name) {
                return Err(GenesisError::DuplicateAllocation(a.name.clone()));
            }
        }
        if let Some(consensus) = &self.consensus {
            if consensus.epoch_length == 0 {
                return Err(GenesisError::Consensus("epochLength must be at least 1".into()));
            }
            if !self.allocations.iter().any(|a| a.name == consensus.reward_allocation) {
                return Err(GenesisError::Consensus(format!("rewardAllocation {:?} is not an allocation", consensus.reward_allocation)));
            }
        }
        self.balances().map(|_| ())
    }

    /// The address block rewards are paid from, on a chain with consensus.
    pub fn reward_source(&self) -> Option<Address> {
        let name = &self.consensus.as_ref()?.reward_allocation;
        self.allocations.iter().find(|a| &a.name == name).map(|a| a.address)
    }

    /// Every genesis balance. Their sum is exactly the max supply.
    pub fn balances(&self) -> Result<BTreeMap<Address, U256>, GenesisError> {
        let supply = self.max_supply_wei();
        let mut remaining: BTreeMap<&str, U256> = self
            .allocations
            .iter()
            .map(|a| (a.name.as_str(), supply * U256::from(a.percent) / U256::from(100)))
            .collect();
        let mut balances = BTreeMap::new();
        for grant in &self.grants {
            let left = remaining.get_mut(grant.from.as_str()).ok_or_else(|| {
                GenesisError::UnknownAllocation { address: grant.address, from: grant.from.clone() }
            })?;
            let amount = U256::from(grant.tokens) * self.one_token();
            *left = left
                .checked_sub(amount)
                .ok_or_else(|| GenesisError::AllocationOverdrawn(grant.from.clone()))?;
            *balances.entry(grant.address).or_insert(U256::ZERO) += amount;
        }
        for allocation in &self.allocations {
            *balances.entry(allocation.address).or_insert(U256::ZERO) +=
                remaining[allocation.name.as_str()];
        }
        Ok(balances)
    }

    /// The allocation addresses with no private key anyone holds: derived, not chosen.
    pub fn allocation_address(name: &str) -> Address {
        let hash: B256 = alloy_primitives::keccak256(format!("zgnode/genesis/{name}"));
        Address::from_slice(&hash[12..])
    }

    /// The 0G distribution with derived allocation addresses.
    pub fn zero_gravity(chain_id: u64) -> Self {
        let allocations = [
            ("ecosystem", 28),
            ("backers", 22),
            ("team", 22),
            ("ai_alignment_nodes", 15),
            ("community", 13),
        ]
        .into_iter()
        .map(|(name, percent)| Allocation {
            name: name.to_string(),
            percent,
            address: Self::allocation_address(name),
        })
        .collect();
        Self {
            chain_id,
            token_symbol: "0G".into(),
            token_decimals: 18,
            max_supply: 1_000_000_000,
            gas_limit: 60_000_000,
            base_fee_per_gas: 1_000_000_000,
            timestamp: 0,
            extra_data: Bytes::from_static(b"zgnode genesis"),
            allocations,
            grants: Vec::new(),
            accounts: BTreeMap::new(),
            consensus: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_gravity_distribution_is_valid_and_sums_to_max_supply() {
        let genesis = Genesis::zero_gravity(16600);
        genesis.validate().expect("valid");
        let sum: U256 = genesis.balances().expect("balances").values().copied().sum();
        assert_eq!(sum, U256::from(1_000_000_000u64) * U256::from(10u64).pow(U256::from(18)));
        let ecosystem = genesis.balances().unwrap()[&Genesis::allocation_address("ecosystem")];
        assert_eq!(ecosystem, genesis.max_supply_wei() * U256::from(28) / U256::from(100));
    }

    #[test]
    fn json_round_trips_and_rejects_unknown_fields() {
        let genesis = Genesis::zero_gravity(1);
        assert_eq!(Genesis::from_json(&genesis.to_json()).unwrap(), genesis);
        let bad = genesis.to_json().replacen("{", "{\"surprise\": 1,", 1);
        assert!(matches!(Genesis::from_json(&bad), Err(GenesisError::Parse(_))));
        assert!(matches!(Genesis::from_json("not json"), Err(GenesisError::Parse(_))));
    }

    #[test]
    fn bad_distributions_are_refused() {
        let mut genesis = Genesis::zero_gravity(1);
        genesis.allocations[0].percent = 27;
        assert_eq!(genesis.validate(), Err(GenesisError::PercentNot100(99)));
        let mut genesis = Genesis::zero_gravity(1);
        genesis.grants.push(GrantEntry { address: Address::ZERO, tokens: 1, from: "nobody".into() });
        assert!(matches!(genesis.validate(), Err(GenesisError::UnknownAllocation { .. })));
        let mut genesis = Genesis::zero_gravity(1);
        genesis.grants.push(GrantEntry { address: Address::ZERO, tokens: 280_000_001, from: "ecosystem".into() });
        assert_eq!(genesis.validate(), Err(GenesisError::AllocationOverdrawn("ecosystem".into())));
    }

    #[test]
    fn consensus_parameters_are_checked() {
        let mut genesis = Genesis::zero_gravity(1);
        genesis.consensus = Some(ConsensusGenesis { epoch_length: 0, block_reward: U256::ZERO, reward_allocation: "community".into() });
        assert!(matches!(genesis.validate(), Err(GenesisError::Consensus(_))));
        genesis.consensus = Some(ConsensusGenesis { epoch_length: 10, block_reward: U256::ZERO, reward_allocation: "nobody".into() });
        assert!(matches!(genesis.validate(), Err(GenesisError::Consensus(_))));
        genesis.consensus = Some(ConsensusGenesis { epoch_length: 10, block_reward: U256::from(1), reward_allocation: "community".into() });
        genesis.validate().unwrap();
        assert_eq!(genesis.reward_source(), Some(Genesis::allocation_address("community")));
        assert_eq!(Genesis::from_json(&genesis.to_json()).unwrap(), genesis);
    }

    proptest! {
        #[test]
        fn grants_never_change_total_supply(grants in prop::collection::vec((any::<[u8; 20]>(), 0u64..10_000_000, 0usize..5), 0..20)) {
            let mut genesis = Genesis::zero_gravity(7);
            for (address, tokens, from) in grants {
                let from = genesis.allocations[from].name.clone();
                genesis.grants.push(GrantEntry { address: Address::from(address), tokens, from });
            }
            let sum: U256 = genesis.balances().unwrap().values().copied().sum();
            prop_assert_eq!(sum, genesis.max_supply_wei());
        }
    }
}
