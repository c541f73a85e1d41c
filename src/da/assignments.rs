//! Which axes each signer keeps, remembered for the last few blobs: drawing a quorum sorts 3,072
//! ballots by a keccak chain (about 5 ms for a 4-signer set), and a member asked it for every
//! batch of pieces it checks, then again to attest — a twelfth of a 32 MB dispersal's CPU.

use alloy_primitives::B256;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use zg_components::consensus::PeerKey;
use zg_components::da::{Axis, SquareLayout};
use zg_systems::da::pieces::assignment;

pub type Assignment = BTreeMap<PeerKey, BTreeSet<(Axis, usize)>>;

/// Blobs whose assignment is kept: more than the dispersals a node runs or serves at once.
const REMEMBERED: usize = 16;

struct Drawn {
    data_root: B256,
    layout: SquareLayout,
    tokens_per_vote: u64,
    signers: Vec<(PeerKey, u64)>,
    assignment: Arc<Assignment>,
}

/// The assignments drawn lately, newest last; an entry serves only the exact signer set, stakes
/// and square it was drawn for.
#[derive(Default)]
pub struct Assignments(Mutex<VecDeque<Drawn>>);

impl Assignments {
    pub fn of(&self, data_root: &B256, signers: &[(PeerKey, u64)], tokens_per_vote: u64, layout: SquareLayout) -> Arc<Assignment> {
        let same = |d: &Drawn| d.data_root == *data_root && d.layout == layout && d.tokens_per_vote == tokens_per_vote && d.signers == signers;
        if let Ok(drawn) = self.0.lock()
            && let Some(found) = drawn.iter().find(|d| same(d))
        {
            return found.assignment.clone();
        }
        let fresh = Arc::new(assignment(data_root, signers, tokens_per_vote, layout));
        if let Ok(mut drawn) = self.0.lock() {
            if drawn.len() >= REMEMBERED {
                drawn.pop_front();
            }
            drawn.push_back(Drawn { data_root: *data_root, layout, tokens_per_vote, signers: signers.to_vec(), assignment: fresh.clone() });
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_assignment_serves_only_the_same_signers_stakes_and_square() {
        let assignments = Assignments::default();
        let root = B256::repeat_byte(7);
        let layout = SquareLayout { k: 5 };
        let signers = vec![([1u8; 32], 100), ([2u8; 32], 100), ([3u8; 32], 100)];
        let first = assignments.of(&root, &signers, 1, layout);
        assert_eq!(*first, assignment(&root, &signers, 1, layout));
        assert!(Arc::ptr_eq(&first, &assignments.of(&root, &signers, 1, layout)), "drawn once");
        let restaked = vec![([1u8; 32], 100), ([2u8; 32], 100), ([3u8; 32], 300)];
        assert_eq!(*assignments.of(&root, &restaked, 1, layout), assignment(&root, &restaked, 1, layout));
        let fewer = &signers[..2];
        assert_eq!(*assignments.of(&root, fewer, 1, layout), assignment(&root, fewer, 1, layout));
        let other = SquareLayout { k: 6 };
        assert_eq!(*assignments.of(&root, &signers, 1, other), assignment(&root, &signers, 1, other));
        for i in 0..REMEMBERED as u8 + 2 {
            assignments.of(&B256::repeat_byte(i), &signers, 1, layout);
        }
        assert!(assignments.0.lock().unwrap().len() <= REMEMBERED, "bounded");
    }
}
