//! Who attests which part of a square: 0G's slot rule applied to our square's axes.
//!
//! Each signer gets votes in proportion to its stake (`power / tokens_per_vote`, capped at
//! 1,024, as 0G caps `maxVotesPerSigner`), and of the quorum's 3,072 slots exactly
//! `3,072 · votes / all votes` (rounded down: [`slots_for`]) — the count the DA entrance
//! recomputes from the same stakes, so the on-chain threshold counts the slots signers hold,
//! not a proxy for them. Where the slots sit is drawn: each slot is a ballot ordered by
//! `keccak(seed ‖ signer ‖ j)`, so the order is fixed for a blob's seed and unknown before it.
//! Slot `s` answers for axis `s mod 4k` of a square (its `2k` rows, then its `2k` columns), so
//! every axis of the largest square (1,428 axes) has at least two slots while fewer than 216
//! signers lose slots to rounding. A blob is attested when signers holding at least 2/3 of the
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

/// A signer's slots out of the quorum's: `QUORUM_SLOTS · votes / total_votes`, rounded down
/// (as the DA entrance's `slotsOf`).
pub fn slots_for(votes: u64, total_votes: u64) -> u64 {
    if total_votes == 0 { 0 } else { (QUORUM_SLOTS as u128 * votes as u128 / total_votes as u128) as u64 }
}

/// Each signer's slots, in order: what the entrance counts toward the threshold.
pub fn slot_counts<S: Clone>(signers: &[(S, u64)], tokens_per_vote: u64) -> Vec<(S, u64)> {
    let total: u64 = signers.iter().map(|(_, power)| votes(*power, tokens_per_vote)).sum();
    signers.iter().map(|(signer, power)| (signer.clone(), slots_for(votes(*power, tokens_per_vote), total))).collect()
}

/// The blob's quorum from its seed and the signers' stakes (signer ids as bytes): one (0G's
/// quorum 0), or none when nobody has a slot.
pub fn quorums<S: AsRef<[u8]> + Clone>(seed: B256, signers: &[(S, u64)], tokens_per_vote: u64) -> Vec<Quorum<S>> {
    let mut ballots: Vec<(B256, usize)> = Vec::new();
    for (index, (signer, slots)) in slot_counts(signers, tokens_per_vote).iter().enumerate() {
        for slot in 0..*slots {
            let mut preimage = seed.to_vec();
            preimage.extend_from_slice(signer.as_ref());
            preimage.extend_from_slice(&slot.to_be_bytes());
            ballots.push((keccak256(&preimage), index));
        }
    }
    if ballots.is_empty() {
        return Vec::new();
    }
    ballots.sort();
    vec![Quorum { slots: ballots.into_iter().map(|(_, index)| signers[index].0.clone()).collect() }]
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
        // 300 and 100 votes: exactly three quarters and one quarter of the slots.
        let first = quorum.slots.iter().filter(|s| **s == signer(1)).count();
        assert_eq!(first, 2_304);
        assert_eq!(slot_counts(&signers, 10), vec![(signer(1), 2_304), (signer(2), 768)]);
        // Rounding down: three equal signers hold 1,024 each.
        let three: Vec<([u8; 20], u64)> = (1..=3).map(|i| (signer(i), 70)).collect();
        assert_eq!(quorums(B256::ZERO, &three, 10)[0].slots.len(), 3 * 1_024);
        assert_eq!(slots_for(1, 3), 1_024);
        assert_eq!(slots_for(5, 0), 0);
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
    fn many_votes_still_make_one_quorum_of_apportioned_slots_and_none_make_none() {
        let signers: Vec<([u8; 20], u64)> = (1..=7).map(|i| (signer(i), 10_240)).collect();
        let all = quorums(B256::ZERO, &signers, 10);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].slots.len(), 7 * (QUORUM_SLOTS / 7));
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
