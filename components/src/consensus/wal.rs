//! Write-ahead log entries: the consensus inputs whose effects must survive a crash (own and
//! received votes, proposals, proposed values, elapsed timeouts), in the order they were applied.
//! Replaying them after a restart brings the engine back to where it stood, so it re-sends the
//! votes it already signed instead of signing different ones.

use alloy_primitives::{Address, B256};
use borsh::{BorshDeserialize, BorshSerialize};
use malachite_types::{Round, Timeout, TimeoutKind, Validity, ValueOrigin};

use super::types::{BlockValue, Height, ValidatorAddress};
use super::wire::{WireError, WireProposal, WireVote};

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum WalEntry {
    Vote(WireVote),
    Proposal(WireProposal),
    ProposedValue {
        height: u64,
        round: u32,
        valid_round: Option<u32>,
        proposer: [u8; 20],
        value: [u8; 32],
        valid: bool,
        from_sync: bool,
    },
    Timeout { kind: u8, round: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedValueRecord {
    pub height: Height,
    pub round: Round,
    pub valid_round: Round,
    pub proposer: ValidatorAddress,
    pub value: BlockValue,
    pub validity: Validity,
    pub origin: ValueOrigin,
}

impl WalEntry {
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        borsh::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))
    }

    pub fn proposed_value(record: &ProposedValueRecord) -> Option<Self> {
        Some(WalEntry::ProposedValue {
            height: record.height.0,
            round: record.round.as_u32()?,
            valid_round: record.valid_round.as_u32(),
            proposer: record.proposer.0.0 .0,
            value: record.value.0.0,
            valid: record.validity.is_valid(),
            from_sync: record.origin.is_sync(),
        })
    }

    /// Timeouts that carry a duration (finalization) are not logged: replay does not need them.
    pub fn timeout(timeout: &Timeout) -> Option<Self> {
        let kind = match timeout.kind {
            TimeoutKind::Propose => 0,
            TimeoutKind::Prevote => 1,
            TimeoutKind::Precommit => 2,
            TimeoutKind::Rebroadcast => 3,
            TimeoutKind::FinalizeHeight(_) => return None,
        };
        Some(WalEntry::Timeout { kind, round: timeout.round.as_u32()? })
    }

    pub fn to_timeout(kind: u8, round: u32) -> Option<Timeout> {
        let kind = match kind {
            0 => TimeoutKind::Propose,
            1 => TimeoutKind::Prevote,
            2 => TimeoutKind::Precommit,
            3 => TimeoutKind::Rebroadcast,
            _ => return None,
        };
        Some(Timeout::new(Round::new(round), kind))
    }

    pub fn to_proposed_value(&self) -> Option<ProposedValueRecord> {
        let WalEntry::ProposedValue { height, round, valid_round, proposer, value, valid, from_sync } = self else {
            return None;
        };
        Some(ProposedValueRecord {
            height: Height(*height),
            round: Round::new(*round),
            valid_round: valid_round.map(Round::new).unwrap_or(Round::Nil),
            proposer: ValidatorAddress(Address::from(*proposer)),
            value: BlockValue(B256::from(*value)),
            validity: Validity::from_bool(*valid),
            origin: if *from_sync { ValueOrigin::Sync } else { ValueOrigin::Consensus },
        })
    }
}
