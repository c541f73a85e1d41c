//! The leaf hashes of the axes a member checked lately, so its attestation's crossing check
//! (every held row and held column agree where they cross) compares 32-byte hashes it already
//! has instead of reading every kept axis back and re-extending it: for a 32 MB blob on four
//! validators that re-read was 768 Reed–Solomon codewords per member. Equal leaf hashes are
//! equal shares (SHA-256 is collision resistant). After a restart nothing is here and the
//! check reads the store, as before.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use alloy_primitives::B256;
use zg_components::da::Axis;

/// Blobs whose leaves are kept (a 32 MB blob's on a four-member quorum: about 17.5 MB).
const REMEMBERED_BLOBS: usize = 4;

#[derive(Default)]
struct BlobLeaves {
    rows: BTreeMap<u32, Vec<B256>>,
    columns: BTreeMap<u32, Vec<B256>>,
}

/// What the leaves say about a blob's held axes.
#[derive(Debug, PartialEq, Eq)]
pub enum Crossings {
    /// Every held row and held column agree.
    Agree,
    /// Row `row` and column `column` hold different shares where they cross.
    Disagree { row: u32, column: u32 },
    /// Some held axis's leaves are not here (checked before a restart): read the store.
    Unknown,
}

#[derive(Default)]
pub struct CrossingLeaves(Mutex<VecDeque<([u8; 32], BlobLeaves)>>);

impl CrossingLeaves {
    /// Remembers the leaves of axes just kept.
    pub fn record(&self, data_root: &[u8; 32], axes: impl IntoIterator<Item = (Axis, u32, Vec<B256>)>) {
        let Ok(mut blobs) = self.0.lock() else { return };
        if !blobs.iter().any(|(root, _)| root == data_root) {
            if blobs.len() >= REMEMBERED_BLOBS {
                blobs.pop_front();
            }
            blobs.push_back((*data_root, BlobLeaves::default()));
        }
        let Some((_, leaves)) = blobs.iter_mut().find(|(root, _)| root == data_root) else { return };
        for (axis, index, hashes) in axes {
            match axis {
                Axis::Row => leaves.rows.insert(index, hashes),
                Axis::Column => leaves.columns.insert(index, hashes),
            };
        }
    }

    /// Checks every crossing of the held rows and columns, when all their leaves are here.
    pub fn check(&self, data_root: &[u8; 32], held: &BTreeSet<(Axis, u32)>) -> Crossings {
        let Ok(blobs) = self.0.lock() else { return Crossings::Unknown };
        let Some((_, leaves)) = blobs.iter().find(|(root, _)| root == data_root) else { return Crossings::Unknown };
        let mut rows = Vec::new();
        let mut columns = Vec::new();
        for (axis, index) in held {
            let (kept, list) = match axis {
                Axis::Row => (leaves.rows.get(index), &mut rows),
                Axis::Column => (leaves.columns.get(index), &mut columns),
            };
            match kept {
                Some(hashes) => list.push((*index, hashes)),
                None => return Crossings::Unknown,
            }
        }
        for (column, column_leaves) in &columns {
            for (row, row_leaves) in &rows {
                if row_leaves.get(*column as usize) != column_leaves.get(*row as usize) {
                    return Crossings::Disagree { row: *row, column: *column };
                }
            }
        }
        Crossings::Agree
    }

    /// Drops a blob's leaves (it is attested, or given up).
    pub fn forget(&self, data_root: &[u8; 32]) {
        if let Ok(mut blobs) = self.0.lock() {
            blobs.retain(|(root, _)| root != data_root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(seed: u8, n: usize) -> Vec<B256> {
        (0..n).map(|i| B256::repeat_byte(seed.wrapping_add(i as u8))).collect()
    }

    #[test]
    fn agreeing_axes_pass_a_disagreement_is_named_and_a_missing_axis_sends_to_the_store() {
        let cache = CrossingLeaves::default();
        let root = [1u8; 32];
        // A 4-wide square whose share (r, c) hashes to byte 10 * r + c.
        let share = |r: usize, c: usize| B256::repeat_byte((10 * r + c) as u8);
        let row = |r: usize| (0..4).map(|c| share(r, c)).collect::<Vec<_>>();
        let column = |c: usize| (0..4).map(|r| share(r, c)).collect::<Vec<_>>();
        cache.record(&root, [(Axis::Row, 0, row(0)), (Axis::Row, 3, row(3)), (Axis::Column, 2, column(2))]);
        let held: BTreeSet<_> = [(Axis::Row, 0), (Axis::Row, 3), (Axis::Column, 2)].into();
        assert_eq!(cache.check(&root, &held), Crossings::Agree);
        let mut forged = column(1);
        forged[3] = B256::repeat_byte(0xee);
        cache.record(&root, [(Axis::Column, 1, forged)]);
        let held: BTreeSet<_> = [(Axis::Row, 0), (Axis::Row, 3), (Axis::Column, 1), (Axis::Column, 2)].into();
        assert_eq!(cache.check(&root, &held), Crossings::Disagree { row: 3, column: 1 });
        let held_more: BTreeSet<_> = [(Axis::Row, 0), (Axis::Row, 2)].into();
        assert_eq!(cache.check(&root, &held_more), Crossings::Unknown, "row 2 was checked before a restart");
        assert_eq!(cache.check(&[2u8; 32], &held), Crossings::Unknown, "another blob");
        cache.forget(&root);
        assert_eq!(cache.check(&root, &held), Crossings::Unknown);
    }

    #[test]
    fn only_the_latest_blobs_are_remembered() {
        let cache = CrossingLeaves::default();
        for blob in 0..REMEMBERED_BLOBS as u8 + 3 {
            cache.record(&[blob; 32], [(Axis::Row, 0, hashes(blob, 2))]);
        }
        let held: BTreeSet<_> = [(Axis::Row, 0)].into();
        assert_eq!(cache.check(&[0u8; 32], &held), Crossings::Unknown, "the oldest went");
        assert_eq!(cache.check(&[REMEMBERED_BLOBS as u8 + 2; 32], &held), Crossings::Agree);
        assert!(cache.0.lock().unwrap().len() <= REMEMBERED_BLOBS);
    }
}
