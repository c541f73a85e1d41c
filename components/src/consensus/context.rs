//! [`ZgContext`]: Malachite's context for this chain, and the trait impls that bind the plain
//! data of [`super::types`] and [`super::validators`] to it (the one module that knows both).

use alloy_primitives::B256;
use malachite_ed25519::{Ed25519, PublicKey};
use malachite_types::{self as mt, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower};

use super::types::{BlockValue, Height, Proposal, UnusedProposalPart, ValidatorAddress, Vote};
use super::validators::{Validator, ValidatorSet};

/// The chain's consensus context. Proposers rotate through the validator set (ordered by
/// address) by height and round, so every node picks the same one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZgContext {
    pub chain_id: u64,
}

impl mt::Context for ZgContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = UnusedProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockValue;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(&self, validator_set: &'a ValidatorSet, height: Height, round: Round) -> &'a Validator {
        validator_set.proposer(height, round)
    }

    fn new_proposal(&self, height: Height, round: Round, value: BlockValue, pol_round: Round, address: ValidatorAddress) -> Proposal {
        Proposal { height, round, value, pol_round, proposer: address }
    }

    fn new_prevote(&self, height: Height, round: Round, value_id: NilOrVal<B256>, address: ValidatorAddress) -> Vote {
        Vote { height, round, value: value_id, vote_type: VoteType::Prevote, validator: address }
    }

    fn new_precommit(&self, height: Height, round: Round, value_id: NilOrVal<B256>, address: ValidatorAddress) -> Vote {
        Vote { height, round, value: value_id, vote_type: VoteType::Precommit, validator: address }
    }
}

impl mt::Vote<ZgContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<B256> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<B256> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<ZgContext>> {
        None
    }

    fn take_extension(&mut self) -> Option<SignedExtension<ZgContext>> {
        None
    }

    fn extend(self, _extension: SignedExtension<ZgContext>) -> Self {
        // Vote extensions are disabled for this chain.
        self
    }
}

impl mt::Proposal<ZgContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockValue {
        &self.value
    }

    fn take_value(self) -> BlockValue {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

impl mt::ProposalPart<ZgContext> for UnusedProposalPart {
    fn is_first(&self) -> bool {
        true
    }

    fn is_last(&self) -> bool {
        true
    }
}

impl mt::Validator<ZgContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

impl mt::ValidatorSet<ZgContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators().len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.total_power()
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.get(address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators().get(index)
    }
}
