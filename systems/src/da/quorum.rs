//! Who attests which part of a square: 0G's slot rule applied to our square's axes.
//!
//! Each signer gets votes in proportion to its stake (`power / tokens_per_vote`, capped at
//! 1,024, as 0G caps `maxVotesPerSigner`), and of the quorum's 3,072 slots exactly
//! `3,072 · votes / all votes` (rounded down: [`slots_for`]) — the count the DA entrance
//! recomputes from the same stakes, so the on-chain threshold counts the slots signers hold,
//! not a proxy for them. Where the slots sit is drawn, and checkable on chain in a few hashes:
//! signers in key order take consecutive ranks (signer `i` the ranks after the slots of every
//! smaller key), and rank `j` sits at slot `π(j)`, `π` a 4-round Feistel permutation of
//! `[0, total)` keyed by the blob's seed ([`slot_at`], the entrance's `slotOf`), so the places
//! are fixed for a blob and unknown before it, and a sampling response can prove that its
//! signer's slots hold the row or column it answers from.
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

/// Where rank `rank` of `total` sits among the slots of a blob whose seed is `seed`: a
/// 4-round Feistel permutation over the smallest even-bit domain that holds `total`, walked
/// until it lands inside (as the entrance's `slotOf`: round function the low bits of
/// `keccak(seed ‖ round (1 byte) ‖ half (8 bytes))`).
pub fn slot_at(seed: &B256, total: u64, rank: u64) -> u64 {
    let mut bits = 2u32;
    while (1u64 << bits) < total {
        bits += 1;
    }
    bits += bits % 2;
    let half = bits / 2;
    let mask = (1u64 << half) - 1;
    let mut x = rank;
    loop {
        let (mut left, mut right) = (x >> half, x & mask);
        for round in 0u8..4 {
            let mut preimage = [0u8; 41];
            preimage[..32].copy_from_slice(seed.as_slice());
            preimage[32] = round;
            preimage[33..].copy_from_slice(&right.to_be_bytes());
            let hash = keccak256(preimage);
            let f = u64::from_be_bytes(hash[24..].try_into().expect("8 bytes")) & mask;
            (left, right) = (right, left ^ f);
        }
        x = (left << half) | right;
        if x < total {
            return x;
        }
    }
}

/// Each signer's ranks: signers in key order, each taking its slots' worth of consecutive
/// ranks. `(signer, first rank, slots)`, and the total.
pub fn rank_ranges<S: Clone + Ord>(signers: &[(S, u64)], tokens_per_vote: u64) -> (Vec<(S, u64, u64)>, u64) {
    let mut counts = slot_counts(signers, tokens_per_vote);
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    let mut next = 0;
    let ranges = counts
        .into_iter()
        .map(|(signer, slots)| {
            let first = next;
            next += slots;
            (signer, first, slots)
        })
        .collect();
    (ranges, next)
}

/// The blob's quorum from its seed and the signers' stakes (signer ids as bytes): one (0G's
/// quorum 0), or none when nobody has a slot.
pub fn quorums<S: Clone + Ord>(seed: B256, signers: &[(S, u64)], tokens_per_vote: u64) -> Vec<Quorum<S>> {
    let (ranges, total) = rank_ranges(signers, tokens_per_vote);
    if total == 0 {
        return Vec::new();
    }
    let mut slots: Vec<Option<S>> = vec![None; total as usize];
    for (signer, first, count) in ranges {
        for rank in first..first + count {
            slots[slot_at(&seed, total, rank) as usize] = Some(signer.clone());
        }
    }
    vec![Quorum { slots: slots.into_iter().flatten().collect() }]
}

/// The ranks of `signer`'s slots that hold each axis it keeps (what a sampling response names
/// to prove the signer holds the row or column it answers from).
pub fn ranks_of<S: Clone + Ord>(seed: B256, signers: &[(S, u64)], tokens_per_vote: u64, signer: &S, layout: SquareLayout) -> std::collections::BTreeMap<(Axis, usize), u64> {
    let (ranges, total) = rank_ranges(signers, tokens_per_vote);
    let mut out = std::collections::BTreeMap::new();
    for (_, first, count) in ranges.iter().filter(|(s, _, _)| s == signer) {
        for rank in *first..first + count {
            out.entry(axis_of_slot(layout, slot_at(&seed, total, rank) as usize)).or_insert(rank);
        }
    }
    out
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
    fn slot_places_are_a_permutation_and_every_rank_finds_its_axis() {
        for total in [1u64, 2, 3, 5, 64, 1_000, 3_071, 3_072] {
            let seed = B256::repeat_byte(total as u8);
            let mut seen = vec![false; total as usize];
            for rank in 0..total {
                let slot = slot_at(&seed, total, rank) as usize;
                assert!(!seen[slot], "rank {rank} of {total} lands on a taken slot");
                seen[slot] = true;
            }
        }
        let signers: Vec<([u8; 20], u64)> = vec![(signer(3), 30), (signer(1), 20), (signer(2), 10)];
        let layout = SquareLayout { k: 7 };
        let quorum = &quorums(B256::repeat_byte(9), &signers, 1)[0];
        let (ranges, total) = rank_ranges(&signers, 1);
        assert_eq!(ranges.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(), vec![signer(1), signer(2), signer(3)], "key order");
        assert_eq!(total as usize, quorum.slots.len());
        for (who, _) in &signers {
            let ranks = ranks_of(B256::repeat_byte(9), &signers, 1, who, layout);
            assert_eq!(ranks.keys().copied().collect::<BTreeSet<_>>(), axes_of(quorum, who, layout));
            for (axis, rank) in ranks {
                assert_eq!(axis_of_slot(layout, slot_at(&B256::repeat_byte(9), total, rank) as usize), axis);
                assert_eq!(quorum.slots[slot_at(&B256::repeat_byte(9), total, rank) as usize], *who);
            }
        }
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
