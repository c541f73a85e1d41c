//! The values Malachite's Tendermint agrees on: heights, block hashes, votes and proposals (as
//! plain data; [`super::context`] binds them to Malachite's traits).
//!
//! Signatures cover fixed-layout sign bytes (see [`Vote::sign_bytes`]) rather than a serializer's
//! output, so the same bytes can be checked by anyone (the staking contract's evidence check
//! included) without this crate.

use alloy_primitives::{Address, B256, keccak256};
use malachite_ed25519::PublicKey;
use malachite_types::{
    self as mt, NilOrVal, Round, VoteType, VotingPower,
};
use std::fmt;


/// A block height (the block number of the decided block).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mt::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// What a height decides: the hash of an [`super::OrderedBlock`]. The block itself travels
/// beside the proposal and is matched to it by this hash.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockValue(pub B256);

impl mt::Value for BlockValue {
    type Id = B256;

    fn id(&self) -> B256 {
        self.0
    }
}

/// A validator's consensus address: the last 20 bytes of keccak256 of its ed25519 key.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub Address);

impl ValidatorAddress {
    pub fn from_public_key(key: &PublicKey) -> Self {
        Self(Address::from_slice(&keccak256(key.as_bytes())[12..]))
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mt::Address for ValidatorAddress {}

/// Distinguishes what a signature is over, so a vote signature can never pass as a proposal's.
const VOTE_DOMAIN: &[u8; 4] = b"ZGV1";
const PROPOSAL_DOMAIN: &[u8; 4] = b"ZGP1";

/// Length of [`Vote::sign_bytes`].
pub const VOTE_SIGN_BYTES: usize = 4 + 8 + 8 + 4 + 1 + 1 + 32 + 20;

fn round_bytes(round: Round) -> [u8; 4] {
    // Nil (-1) encodes as u32::MAX; real rounds are small.
    round.as_u32().unwrap_or(u32::MAX).to_be_bytes()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    pub height: Height,
    pub round: Round,
    pub value: NilOrVal<B256>,
    pub vote_type: VoteType,
    pub validator: ValidatorAddress,
}

impl Vote {
    /// `domain ‖ chain id ‖ height ‖ round ‖ type (0 prevote, 1 precommit) ‖ has value ‖ value ‖
    /// validator`, big-endian, fixed length.
    pub fn sign_bytes(&self, chain_id: u64) -> [u8; VOTE_SIGN_BYTES] {
        let mut out = [0u8; VOTE_SIGN_BYTES];
        out[..4].copy_from_slice(VOTE_DOMAIN);
        out[4..12].copy_from_slice(&chain_id.to_be_bytes());
        out[12..20].copy_from_slice(&self.height.0.to_be_bytes());
        out[20..24].copy_from_slice(&round_bytes(self.round));
        out[24] = match self.vote_type {
            VoteType::Prevote => 0,
            VoteType::Precommit => 1,
        };
        if let NilOrVal::Val(value) = &self.value {
            out[25] = 1;
            out[26..58].copy_from_slice(value.as_slice());
        }
        out[58..78].copy_from_slice(self.validator.0.as_slice());
        out
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub height: Height,
    pub round: Round,
    pub value: BlockValue,
    pub pol_round: Round,
    pub proposer: ValidatorAddress,
}

impl Proposal {
    /// `domain ‖ chain id ‖ height ‖ round ‖ pol round ‖ value ‖ proposer`.
    pub fn sign_bytes(&self, chain_id: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 8 + 8 + 4 + 4 + 32 + 20);
        out.extend_from_slice(PROPOSAL_DOMAIN);
        out.extend_from_slice(&chain_id.to_be_bytes());
        out.extend_from_slice(&self.height.0.to_be_bytes());
        out.extend_from_slice(&round_bytes(self.round));
        out.extend_from_slice(&round_bytes(self.pol_round));
        out.extend_from_slice(self.value.0.as_slice());
        out.extend_from_slice(self.proposer.0.as_slice());
        out
    }
}

/// Malachite's streamed proposal parts are not used: the whole block travels as one
/// [`super::OrderedBlock`] message, so this type only satisfies the trait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedProposalPart;

/// Voting power for a stake in wei: whole tokens, so a u64 holds any possible stake.
pub fn voting_power_of(stake_wei: alloy_primitives::U256) -> VotingPower {
    let tokens = stake_wei / alloy_primitives::U256::from(10u64.pow(18));
    u64::try_from(tokens).unwrap_or(u64::MAX)
}
