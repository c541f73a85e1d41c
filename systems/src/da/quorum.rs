//! Who attests which part of a square: 0G's slot rule applied to our square's axes.
//!
//! Each signer gets votes in proportion to its stake (`power / tokens_per_vote`, capped at
//! 1,024, as 0G caps `maxVotesPerSigner`); every vote is a ballot, ordered by
//! `keccak(seed ‖ signer ‖ vote)`, so the order is fixed for an epoch's seed and unknown before
//! it; the ordered ballots are cut into quorums of 3,072 slots (fewer ballots than that: one
//! quorum cycling through them). Slot `s` of a quorum answers for axis `s mod 4k` of a square
//! (its `2k` rows, then its `2k` columns), so every axis of the largest square (1,428 axes) has
//! at least two slots. A blob is attested when signers holding at least 2/3 of the quorum's
//! slots have signed (`2 · total ≤ 3 · signed`, 0G's check).

use alloy_primitives::{B256, keccak256};
use std::collections::BTreeSet;

use zg_components::da::{Axis, SquareLayout};

pub const QUORUM_SLOTS: usize = 3_072;
pub const MAX_VOTES_PER_SIGNER: u64 = 1_024;

/// The slots of one quorum, by signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum<S> {
    pub slots: Vec<S>,
}

/// A signer's votes for its stake.
pub fn votes(power: u64, tokens_per_vote: u64) -> u64 {
    (power / tokens_per_vote.max(1)).min(MAX_VOTES_PER_SIGNER)
}

/// The epoch's quorums from its seed and the signers' stakes (signer ids as bytes).
pub fn quorums<S: AsRef<[u8]> + Clone>(seed: B256, signers: &[(S, u64)], tokens_per_vote: u64) -> Vec<Quorum<S>> {
    let mut ballots: Vec<(B256, usize)> = Vec::new();
    for (index, (signer, power)) in signers.iter().enumerate() {
        for vote in 0..votes(*power, tokens_per_vote) {
            let mut preimage = seed.to_vec();
            preimage.extend_from_slice(signer.as_ref());
            preimage.extend_from_slice(&vote.to_be_bytes());
            ballots.push((keccak256(&preimage), index));
        }
    }
    if ballots.is_empty() {
        return Vec::new();
    }
    ballots.sort();
    let count = (ballots.len() / QUORUM_SLOTS).max(1);
    (0..count)
        .map(|q| Quorum {
            slots: (0..QUORUM_SLOTS).map(|s| signers[ballots[(q * QUORUM_SLOTS + s) % ballots.len()].1].0.clone()).collect(),
        })
        .collect()
}

/// The axis slot `slot` answers for in a square of `layout`.
pub fn axis_of_slot(layout: SquareLayout, slot: usize) -> (Axis, usize) {
    let width = layout.width();
    let axis = slot % layout.axes();
    if axis < width { (Axis::Row, axis) } else { (Axis::Column, axis - width) }
}

/// The axes `signer` holds in a quorum, for a square of `layout`.
pub fn axes_of<S: PartialEq>(quorum: &Quorum<S>, signer: &S, layout: SquareLayout) -> BTreeSet<(Axis, usize)> {
    quorum.slots.iter().enumerate().filter(|(_, s)| *s == signer).map(|(slot, _)| axis_of_slot(layout, slot)).collect()
}

/// Whether signers holding `signed` of `total` slots are enough (at least 2/3).
pub fn threshold_met(total: usize, signed: usize) -> bool {
    total > 0 && 2 * total <= 3 * signed
}

/// The slots held by the signers in `signed`.
pub fn slots_signed<S: Ord>(quorum: &Quorum<S>, signed: &BTreeSet<S>) -> usize {
    quorum.slots.iter().filter(|s| signed.contains(s)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(i: u8) -> [u8; 20] {
        [i; 20]
    }

    #[test]
    fn slots_follow_stake_and_a_signer_is_capped() {
        let signers = [(signer(1), 3_000u64), (signer(2), 1_000)];
        let quorum = &quorums(B256::repeat_byte(5), &signers, 10)[0];
        assert_eq!(quorum.slots.len(), QUORUM_SLOTS);
        let first = quorum.slots.iter().filter(|s| **s == signer(1)).count();
        // 300 and 100 ballots cycle 7 times through 3,072 slots (2,100 of signer 1), then 272
        // of the ordered 400 fill the rest: 172 to 272 of them signer 1's.
        assert!((2_272..=2_372).contains(&first), "{first}");
        assert_eq!(votes(1 << 40, 10), MAX_VOTES_PER_SIGNER);
        assert_eq!(votes(9, 10), 0);
        assert_eq!(votes(100, 0), 100, "a zero unit counts one token per vote");
    }

    #[test]
    fn the_order_is_fixed_by_the_seed_and_changes_with_it() {
        let signers: Vec<([u8; 20], u64)> = (1..=4).map(|i| (signer(i), 10_000)).collect();
        let a = quorums(B256::repeat_byte(1), &signers, 10);
        assert_eq!(a, quorums(B256::repeat_byte(1), &signers, 10));
        assert_ne!(a, quorums(B256::repeat_byte(2), &signers, 10));
    }

    #[test]
    fn many_ballots_make_many_quorums_and_none_make_none() {
        let signers: Vec<([u8; 20], u64)> = (1..=7).map(|i| (signer(i), 10_240)).collect();
        assert_eq!(quorums(B256::ZERO, &signers, 10).len(), 7 * 1_024 / QUORUM_SLOTS);
        assert!(quorums::<[u8; 20]>(B256::ZERO, &[], 10).is_empty());
        assert!(quorums(B256::ZERO, &[(signer(1), 5)], 10).is_empty(), "no votes, no quorum");
    }

    #[test]
    fn every_axis_of_the_largest_square_has_slots_and_two_thirds_is_the_line() {
        let layout = SquareLayout::for_blob(zg_components::da::MAX_BLOB_SIZE).unwrap();
        let signers: Vec<([u8; 20], u64)> = (1..=4).map(|i| (signer(i), 10_000)).collect();
        let quorum = &quorums(B256::repeat_byte(3), &signers, 10)[0];
        let mut covered: BTreeSet<(Axis, usize)> = BTreeSet::new();
        for (i, _) in signers.iter().enumerate() {
            covered.extend(axes_of(quorum, &signer(i as u8 + 1), layout));
        }
        assert_eq!(covered.len(), layout.axes());
        assert!(threshold_met(3_072, 2_048));
        assert!(!threshold_met(3_072, 2_047));
        assert!(!threshold_met(0, 0));
        let three: BTreeSet<[u8; 20]> = (1..=3).map(signer).collect();
        assert!(threshold_met(QUORUM_SLOTS, slots_signed(quorum, &three)), "three of four equal signers");
        let two: BTreeSet<[u8; 20]> = (1..=2).map(signer).collect();
        assert!(!threshold_met(QUORUM_SLOTS, slots_signed(quorum, &two)), "two of four");
    }
}
