//! Double-sign evidence: two votes by one validator, same height, round and step, different
//! values, both validly signed.

use malachite_ed25519::Signature;
use zg_components::consensus::{DoubleSignEvidence, ValidatorSet, WireVote};

/// Why a piece of evidence proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the votes are not for the same validator, height, round and step")]
    NotComparable,
    #[error("the votes agree")]
    VotesAgree,
    #[error("{0} is not a validator")]
    NotAValidator(String),
    #[error("a signature does not verify")]
    BadSignature,
}

/// Checks that `evidence` proves a double sign by a member of `set`.
pub fn check(evidence: &DoubleSignEvidence, set: &ValidatorSet, chain_id: u64) -> Result<(), EvidenceError> {
    let (a, b) = (&evidence.first, &evidence.second);
    if a.validator != b.validator || a.height != b.height || a.round != b.round || a.precommit != b.precommit {
        return Err(EvidenceError::NotComparable);
    }
    if a.value == b.value {
        return Err(EvidenceError::VotesAgree);
    }
    let first = a.to_signed();
    let Some(validator) = set.get(&first.message.validator) else {
        return Err(EvidenceError::NotAValidator(first.message.validator.to_string()));
    };
    for vote in [a, b] {
        let signed = vote.to_signed();
        if validator.public_key.verify(&signed.message.sign_bytes(chain_id), &Signature::from_bytes(vote.signature)).is_err() {
            return Err(EvidenceError::BadSignature);
        }
    }
    Ok(())
}

/// Evidence is identified by its two signatures, in either order.
pub fn same(a: &DoubleSignEvidence, b: &DoubleSignEvidence) -> bool {
    let key = |e: &DoubleSignEvidence| {
        let mut pair = [e.first.signature, e.second.signature];
        pair.sort();
        pair
    };
    key(a) == key(b)
}

pub fn vote_key(vote: &WireVote) -> (u64, u32, bool, [u8; 20]) {
    (vote.height, vote.round, vote.precommit, vote.validator)
}
