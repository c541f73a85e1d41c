//! Validators and the validator set a height is decided by.

use alloy_primitives::Address;
use bevy_ecs::prelude::*;
use malachite_ed25519::PublicKey;
use malachite_types::{Round, VotingPower};

use super::types::{Height, ValidatorAddress};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: ValidatorAddress,
    pub public_key: PublicKey,
    pub voting_power: VotingPower,
    /// Where this validator's share of fees and block rewards is paid.
    pub reward_address: Address,
}

impl Validator {
    pub fn new(public_key: PublicKey, voting_power: VotingPower, reward_address: Address) -> Self {
        Self { address: ValidatorAddress::from_public_key(&public_key), public_key, voting_power, reward_address }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("the validator set is empty")]
    Empty,
    #[error("validator {0} appears twice")]
    Duplicate(ValidatorAddress),
    #[error("validator {0} has no voting power")]
    NoPower(ValidatorAddress),
    #[error("total voting power overflows")]
    Overflow,
}

/// Validators ordered by address, each at most once, all with power. The resource holds the set
/// the current height is decided by.
#[derive(Resource, Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_power: VotingPower,
}

impl ValidatorSet {
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, ValidatorSetError> {
        validators.sort_by_key(|v| v.address);
        let mut total: VotingPower = 0;
        for pair in validators.windows(2) {
            if pair[0].address == pair[1].address {
                return Err(ValidatorSetError::Duplicate(pair[0].address));
            }
        }
        for validator in &validators {
            if validator.voting_power == 0 {
                return Err(ValidatorSetError::NoPower(validator.address));
            }
            total = total.checked_add(validator.voting_power).ok_or(ValidatorSetError::Overflow)?;
        }
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        Ok(Self { validators, total_power: total })
    }

    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    pub fn get(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators.binary_search_by_key(address, |v| v.address).ok().map(|i| &self.validators[i])
    }

    pub fn total_power(&self) -> VotingPower {
        self.total_power
    }

    /// Round robin over the ordered set, shifted by height so each height starts elsewhere.
    pub fn proposer(&self, height: Height, round: Round) -> &Validator {
        let round = round.as_u32().unwrap_or(0) as u64;
        let index = height.0.wrapping_add(round) % self.validators.len() as u64;
        &self.validators[index as usize]
    }

    /// Whether `power` is more than two thirds of the total (a commit quorum).
    pub fn is_quorum(&self, power: VotingPower) -> bool {
        (power as u128) * 3 > (self.total_power as u128) * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use malachite_ed25519::PrivateKey;

    fn validator(seed: u8, power: u64) -> Validator {
        Validator::new(PrivateKey::from([seed; 32]).public_key(), power, Address::repeat_byte(seed))
    }

    #[test]
    fn sets_are_ordered_and_checked() {
        let set = ValidatorSet::new(vec![validator(3, 10), validator(1, 20), validator(2, 30)]).unwrap();
        assert!(set.validators().windows(2).all(|w| w[0].address < w[1].address));
        assert_eq!(set.total_power(), 60);
        assert!(set.is_quorum(41) && !set.is_quorum(40));
        assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorSetError::Empty));
        assert!(matches!(ValidatorSet::new(vec![validator(1, 1), validator(1, 2)]), Err(ValidatorSetError::Duplicate(_))));
        assert!(matches!(ValidatorSet::new(vec![validator(1, 0)]), Err(ValidatorSetError::NoPower(_))));
        assert_eq!(ValidatorSet::new(vec![validator(1, u64::MAX), validator(2, 1)]), Err(ValidatorSetError::Overflow));
    }

    #[test]
    fn proposers_rotate_through_every_validator() {
        let set = ValidatorSet::new((1..=4).map(|i| validator(i, 1)).collect()).unwrap();
        let mut seen: Vec<_> = (0..4).map(|r| set.proposer(Height(7), Round::new(r)).address).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 4);
        assert_eq!(set.proposer(Height(7), Round::new(1)).address, set.proposer(Height(8), Round::new(0)).address);
    }
}
