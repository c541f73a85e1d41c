//! Signature and certificate checks: what the engine asks for through its `Verify*` effects,
//! and what block sync checks before executing a block it did not see decided.

use alloy_primitives::B256;
use malachite_types::{
    CertificateError, CommitCertificate, NilOrVal, PolkaCertificate, Round, RoundCertificate,
    RoundCertificateType, ThresholdParams, VoteType, VotingPower,
};
use std::collections::BTreeSet;

use zg_components::consensus::{Height, ValidatorAddress, ValidatorSet, Vote, ZgContext};

type CertResult = Result<(), CertificateError<ZgContext>>;

/// One signer of a certificate: who, what they voted, and the signature.
struct Signer<'a> {
    address: ValidatorAddress,
    vote_type: VoteType,
    value: NilOrVal<B256>,
    signature: &'a malachite_ed25519::Signature,
}

/// Checks each signature against the validator's key and sums the power of distinct signers;
/// `enough` decides whether the sum suffices.
fn check_signers<'a>(
    chain_id: u64,
    set: &ValidatorSet,
    height: Height,
    round: Round,
    signers: impl Iterator<Item = Signer<'a>>,
    enough: impl Fn(VotingPower, VotingPower) -> bool,
    invalid: impl Fn(ValidatorAddress) -> CertificateError<ZgContext>,
) -> CertResult {
    let mut seen = BTreeSet::new();
    let mut signed: VotingPower = 0;
    for signer in signers {
        let Some(validator) = set.get(&signer.address) else {
            return Err(CertificateError::UnknownValidator(signer.address));
        };
        if !seen.insert(signer.address) {
            return Err(CertificateError::DuplicateVote(signer.address));
        }
        let vote = Vote { height, round, value: signer.value, vote_type: signer.vote_type, validator: signer.address };
        if validator.public_key.verify(&vote.sign_bytes(chain_id), signer.signature).is_err() {
            return Err(invalid(signer.address));
        }
        signed = signed
            .checked_add(validator.voting_power)
            .ok_or(CertificateError::VotingPowerOverflow { signed, added: validator.voting_power })?;
    }
    let total = set.total_power();
    if enough(signed, total) {
        Ok(())
    } else {
        Err(CertificateError::NotEnoughVotingPower { signed, total, expected: total * 2 / 3 + 1 })
    }
}

/// Precommits from more than 2/3 of the voting power for the certificate's value.
pub fn commit_certificate(
    chain_id: u64,
    certificate: &CommitCertificate<ZgContext>,
    set: &ValidatorSet,
    thresholds: ThresholdParams,
) -> CertResult {
    check_signers(
        chain_id,
        set,
        certificate.height,
        certificate.round,
        certificate.commit_signatures.iter().map(|s| Signer {
            address: s.address,
            vote_type: VoteType::Precommit,
            value: NilOrVal::Val(certificate.value_id),
            signature: &s.signature,
        }),
        |signed, total| thresholds.quorum.is_met(signed, total),
        |address| {
            let signature = certificate.commit_signatures.iter().find(|s| s.address == address).cloned();
            match signature {
                Some(signature) => CertificateError::InvalidCommitSignature(signature),
                None => CertificateError::UnknownValidator(address),
            }
        },
    )
}

/// Prevotes from more than 2/3 of the voting power for the certificate's value.
pub fn polka_certificate(
    chain_id: u64,
    certificate: &PolkaCertificate<ZgContext>,
    set: &ValidatorSet,
    thresholds: ThresholdParams,
) -> CertResult {
    check_signers(
        chain_id,
        set,
        certificate.height,
        certificate.round,
        certificate.polka_signatures.iter().map(|s| Signer {
            address: s.address,
            vote_type: VoteType::Prevote,
            value: NilOrVal::Val(certificate.value_id),
            signature: &s.signature,
        }),
        |signed, total| thresholds.quorum.is_met(signed, total),
        |address| {
            let signature = certificate.polka_signatures.iter().find(|s| s.address == address).cloned();
            match signature {
                Some(signature) => CertificateError::InvalidPolkaSignature(signature),
                None => CertificateError::UnknownValidator(address),
            }
        },
    )
}

/// A skip certificate needs f+1 of the power, a precommit-any certificate 2f+1 precommits.
pub fn round_certificate(
    chain_id: u64,
    certificate: &RoundCertificate<ZgContext>,
    set: &ValidatorSet,
    thresholds: ThresholdParams,
) -> CertResult {
    let precommits_only = certificate.cert_type == RoundCertificateType::Precommit;
    if precommits_only
        && let Some(prevote) = certificate.round_signatures.iter().find(|s| s.vote_type == VoteType::Prevote)
    {
        return Err(CertificateError::InvalidVoteType(prevote.address));
    }
    check_signers(
        chain_id,
        set,
        certificate.height,
        certificate.round,
        certificate.round_signatures.iter().map(|s| Signer {
            address: s.address,
            vote_type: s.vote_type,
            value: s.value_id,
            signature: &s.signature,
        }),
        |signed, total| {
            if precommits_only { thresholds.quorum.is_met(signed, total) } else { thresholds.honest.is_met(signed, total) }
        },
        |address| {
            let signature = certificate.round_signatures.iter().find(|s| s.address == address).cloned();
            match signature {
                Some(signature) => CertificateError::InvalidRoundSignature(signature),
                None => CertificateError::UnknownValidator(address),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use malachite_ed25519::PrivateKey;
    use malachite_types::{CommitSignature, SignedMessage};
    use zg_components::consensus::Validator;

    fn keys() -> Vec<PrivateKey> {
        (1..=4u8).map(|i| PrivateKey::from([i; 32])).collect()
    }

    fn set() -> ValidatorSet {
        ValidatorSet::new(keys().iter().map(|k| Validator::new(k.public_key(), 10, Default::default())).collect()).unwrap()
    }

    fn certificate(signers: &[PrivateKey], value: B256) -> CommitCertificate<ZgContext> {
        let votes = signers
            .iter()
            .map(|key| {
                let vote = Vote {
                    height: Height(3),
                    round: Round::new(1),
                    value: NilOrVal::Val(value),
                    vote_type: VoteType::Precommit,
                    validator: ValidatorAddress::from_public_key(&key.public_key()),
                };
                let signature = key.sign(&vote.sign_bytes(7));
                SignedMessage::new(vote, signature)
            })
            .collect();
        CommitCertificate::new(Height(3), Round::new(1), value, votes)
    }

    #[test]
    fn a_quorum_of_valid_precommits_passes_and_anything_less_fails() {
        let keys = keys();
        let value = B256::repeat_byte(1);
        let params = ThresholdParams::default();
        assert_eq!(commit_certificate(7, &certificate(&keys[..3], value), &set(), params), Ok(()));
        assert!(matches!(
            commit_certificate(7, &certificate(&keys[..2], value), &set(), params),
            Err(CertificateError::NotEnoughVotingPower { signed: 20, total: 40, .. })
        ));
        // Signed for another chain.
        assert!(commit_certificate(8, &certificate(&keys[..3], value), &set(), params).is_err());
        // A signature moved onto another value.
        let mut forged = certificate(&keys[..3], value);
        forged.value_id = B256::repeat_byte(2);
        assert!(matches!(commit_certificate(7, &forged, &set(), params), Err(CertificateError::InvalidCommitSignature(_))));
        // The same signer counted twice.
        let mut doubled = certificate(&keys[..2], value);
        doubled.commit_signatures.push(doubled.commit_signatures[0].clone());
        assert!(matches!(commit_certificate(7, &doubled, &set(), params), Err(CertificateError::DuplicateVote(_))));
        // A stranger's signature.
        let stranger = PrivateKey::from([9; 32]);
        let mut with_stranger = certificate(&keys[..2], value);
        with_stranger.commit_signatures.push(CommitSignature::new(
            ValidatorAddress::from_public_key(&stranger.public_key()),
            stranger.sign(b"x"),
        ));
        assert!(matches!(commit_certificate(7, &with_stranger, &set(), params), Err(CertificateError::UnknownValidator(_))));
    }
}
