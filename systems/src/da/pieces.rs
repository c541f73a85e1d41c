//! Pieces of a blob between DA nodes: who keeps which rows and columns, the halves a disperser
//! sends, the checks a receiver makes before it keeps one, and share proofs cut from a kept axis.

use alloy_primitives::B256;
use std::collections::{BTreeMap, BTreeSet};

use zg_components::da::piece::{AxisPiece, axis_code, axis_from_code};
use zg_components::da::merkle::{DaTree, leaf_hash};
use zg_components::da::{Axis, AxisRoots, ExtendedSquare, ShareProof, SquareLayout, SHARE_SIZE};

use super::encoding::rebuild_axis;
use super::quorum::{axes_of, quorums};

/// Why a piece or a blob's roots were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PieceError {
    #[error("a square of k = {0} is not one a blob makes (1..=357)")]
    BadLayout(u32),
    #[error("{got} axis roots for a square of k = {k}; it has {expected}")]
    RootCount { k: u32, got: usize, expected: usize },
    #[error("the axis roots do not make data root {0}")]
    RootsMismatch(B256),
    #[error("axis code {0} is neither a row (0) nor a column (1)")]
    BadAxis(u8),
    #[error("{axis:?} {index} is outside a square of width {width}")]
    OutOfSquare { axis: Axis, index: u32, width: usize },
    #[error("{axis:?} {index}: {got} bytes; its first k shares are {expected}")]
    HalfSize { axis: Axis, index: u32, got: usize, expected: usize },
    #[error("{axis:?} {index} does not extend to its committed root")]
    WrongRoot { axis: Axis, index: u32 },
}

/// The largest `k` a blob of at most 32,505,852 bytes needs.
pub const MAX_K: u32 = 357;

/// Checks a blob's `4k` axis roots (rows, then columns) against its data root.
pub fn check_roots(data_root: &B256, k: u32, roots: &[[u8; 32]]) -> Result<AxisRoots, PieceError> {
    if k == 0 || k > MAX_K {
        return Err(PieceError::BadLayout(k));
    }
    let layout = SquareLayout { k: k as usize };
    if roots.len() != layout.axes() {
        return Err(PieceError::RootCount { k, got: roots.len(), expected: layout.axes() });
    }
    let width = layout.width();
    let roots = AxisRoots {
        layout,
        rows: roots[..width].iter().map(|r| B256::from(*r)).collect(),
        columns: roots[width..].iter().map(|r| B256::from(*r)).collect(),
    };
    if roots.data_root() != *data_root {
        return Err(PieceError::RootsMismatch(*data_root));
    }
    Ok(roots)
}

/// A piece that matched its root: the whole axis (`2k` shares) it extends to, and the leaf
/// hash of each share (what a crossing check compares, without the shares).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPiece {
    pub axis: Axis,
    pub whole: Vec<u8>,
    pub leaves: Vec<B256>,
}

/// Extends a piece to its whole axis and checks it against its root.
pub fn check_piece(roots: &AxisRoots, piece: &AxisPiece) -> Result<CheckedPiece, PieceError> {
    let layout = roots.layout;
    let axis = axis_from_code(piece.axis).ok_or(PieceError::BadAxis(piece.axis))?;
    let width = layout.width();
    let root = roots.root_of(axis, piece.index as usize).ok_or(PieceError::OutOfSquare { axis, index: piece.index, width })?;
    let expected = layout.k * SHARE_SIZE;
    if piece.half.len() != expected {
        return Err(PieceError::HalfSize { axis, index: piece.index, got: piece.half.len(), expected });
    }
    let mut shares: Vec<Option<&[u8]>> = piece.half.chunks(SHARE_SIZE).map(Some).collect();
    shares.resize(width, None);
    let whole = rebuild_axis(layout, axis, piece.index as usize, &shares).map_err(|_| PieceError::WrongRoot { axis, index: piece.index })?;
    let leaves: Vec<B256> = whole.chunks(SHARE_SIZE).map(leaf_hash).collect();
    if DaTree::build(leaves.clone()).root() != root {
        return Err(PieceError::WrongRoot { axis, index: piece.index });
    }
    Ok(CheckedPiece { axis, whole, leaves })
}

/// Which axes each signer keeps: quorum 0 of the slots the signers' stakes give (seeded by the
/// data root, so every node computes the same), slot `s` answering for axis `s mod 4k`.
pub fn assignment<S: AsRef<[u8]> + Clone + Ord>(
    data_root: &B256,
    signers: &[(S, u64)],
    tokens_per_vote: u64,
    layout: SquareLayout,
) -> BTreeMap<S, BTreeSet<(Axis, usize)>> {
    let Some(quorum) = quorums(*data_root, signers, tokens_per_vote).into_iter().next() else { return BTreeMap::new() };
    signers
        .iter()
        .map(|(signer, _)| (signer.clone(), axes_of(&quorum, signer, layout)))
        .filter(|(_, axes)| !axes.is_empty())
        .collect()
}

/// The pieces a disperser sends for `axes` of `square`: each axis's first `k` shares.
pub fn pieces_of(square: &ExtendedSquare, axes: &BTreeSet<(Axis, usize)>) -> Vec<AxisPiece> {
    let half = square.layout.k * SHARE_SIZE;
    axes.iter()
        .map(|(axis, index)| {
            // Only the half that travels is copied out of the square.
            let half = match axis {
                Axis::Row => square.row(*index)[..half].to_vec(),
                Axis::Column => {
                    let mut column = Vec::with_capacity(half);
                    for row in 0..square.layout.k {
                        column.extend_from_slice(square.share(row, *index).unwrap_or_default());
                    }
                    column
                }
            };
            AxisPiece { axis: axis_code(*axis), index: *index as u32, half }
        })
        .collect()
}

/// The proof of share `position` of a kept axis (its `2k` shares), under `roots`.
pub fn share_proof_from_axis(roots: &AxisRoots, axis: Axis, index: usize, whole: &[u8], position: usize) -> Option<ShareProof> {
    let width = roots.layout.width();
    if whole.len() != width * SHARE_SIZE || position >= width {
        return None;
    }
    let tree = DaTree::build(whole.chunks(SHARE_SIZE).map(leaf_hash).collect());
    Some(ShareProof {
        axis,
        axis_index: index as u32,
        position: position as u32,
        axis_root: roots.root_of(axis, index)?,
        to_axis: tree.proof(position)?,
        to_data_root: roots.axis_proof(axis, index)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::da::encoding::extend_blob;

    fn square() -> (ExtendedSquare, AxisRoots) {
        let blob: Vec<u8> = (0..9_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let square = extend_blob(&blob).unwrap();
        let roots = square.commit();
        (square, roots)
    }

    #[test]
    fn honest_pieces_extend_to_their_axes_and_prove_their_shares() {
        let (square, roots) = square();
        let data_root = roots.data_root();
        let checked = check_roots(&data_root, square.layout.k as u32, &roots.to_wire()).unwrap();
        let axes: BTreeSet<_> = (0..square.layout.width()).flat_map(|i| [(Axis::Row, i), (Axis::Column, i)]).collect();
        for piece in pieces_of(&square, &axes) {
            let CheckedPiece { axis, whole, leaves } = check_piece(&checked, &piece).unwrap();
            assert_eq!(leaves, whole.chunks(SHARE_SIZE).map(leaf_hash).collect::<Vec<_>>());
            let expected = if axis == Axis::Row { square.row(piece.index as usize).to_vec() } else { square.column(piece.index as usize) };
            assert_eq!(whole, expected);
            let position = 1;
            let proof = share_proof_from_axis(&checked, axis, piece.index as usize, &whole, position).unwrap();
            proof.verify(&data_root, square.layout, &whole[position * SHARE_SIZE..(position + 1) * SHARE_SIZE]).unwrap();
        }
    }

    #[test]
    fn forged_pieces_and_roots_are_refused() {
        let (square, roots) = square();
        let data_root = roots.data_root();
        let k = square.layout.k as u32;
        let mut wire = roots.to_wire();
        assert!(matches!(check_roots(&data_root, 0, &wire), Err(PieceError::BadLayout(0))));
        assert!(matches!(check_roots(&data_root, k, &wire[1..]), Err(PieceError::RootCount { .. })));
        wire[0][0] ^= 1;
        assert!(matches!(check_roots(&data_root, k, &wire), Err(PieceError::RootsMismatch(_))));
        let axes = BTreeSet::from([(Axis::Row, 2)]);
        let mut piece = pieces_of(&square, &axes).remove(0);
        piece.half[5] ^= 0x80;
        assert!(matches!(check_piece(&roots, &piece), Err(PieceError::WrongRoot { .. })));
        piece.half.pop();
        assert!(matches!(check_piece(&roots, &piece), Err(PieceError::HalfSize { .. })));
        piece.axis = 7;
        assert!(matches!(check_piece(&roots, &piece), Err(PieceError::BadAxis(7))));
        let far = AxisPiece { axis: 0, index: 10_000, half: vec![] };
        assert!(matches!(check_piece(&roots, &far), Err(PieceError::OutOfSquare { .. })));
    }

    #[test]
    fn every_axis_has_a_keeper_and_the_assignment_follows_stake() {
        let (square, roots) = square();
        let signers: Vec<([u8; 32], u64)> = (1..=4u8).map(|i| ([i; 32], 1_000)).collect();
        let keep = assignment(&roots.data_root(), &signers, 1, square.layout);
        let covered: BTreeSet<_> = keep.values().flatten().copied().collect();
        assert_eq!(covered.len(), square.layout.axes(), "every row and column is kept somewhere");
        assert_eq!(keep.len(), 4);
        assert_eq!(assignment(&roots.data_root(), &signers, 1, square.layout), keep, "every node computes the same");
    }
}
