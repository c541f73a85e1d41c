//! A blob's 2D Reed–Solomon square with reed-solomon-simd: extending it, proving a share's
//! place, rebuilding the square from part of its shares, and the bad-encoding fraud proof.
//!
//! The code is linear, so the square is a product code: extending the original rows and then
//! every column gives rows that are codewords too. A node holding any `k` shares of an axis
//! rebuilds the whole axis; one that can rebuild rows and columns alternately recovers the
//! square from any pattern that is not stuck (at least `(k+1)^2` missing shares can make it
//! stuck).

use alloy_primitives::B256;
use rayon::prelude::*;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use crate::erasure::accel::Accelerator;
use zg_components::da::merkle::DaTree;
use zg_components::da::square::{axis_root_of_shares, blob_from_original, verify_axis_root};
use zg_components::da::{Axis, AxisRoots, BadEncodingProof, DaError, ExtendedSquare, SHARE_SIZE, ShareProof, SquareLayout};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodingError {
    #[error(transparent)]
    Da(#[from] DaError),
    #[error("erasure coding failed: {0}")]
    Codec(String),
    #[error("only {have} shares of {axis:?} {index} are known; {need} are needed")]
    TooFewShares { axis: Axis, index: usize, have: usize, need: usize },
    #[error("the square cannot be rebuilt from the shares held: {missing} still missing")]
    Unrecoverable { missing: usize },
}

fn codec(error: reed_solomon_simd::Error) -> CodingError {
    CodingError::Codec(error.to_string())
}

/// The thread's encoder, set for `k` data and `k` parity shards of `bytes` each (made on first
/// use, reset after: its buffers are reused).
fn ready_encoder(encoder: &mut Option<ReedSolomonEncoder>, k: usize, bytes: usize) -> Result<&mut ReedSolomonEncoder, CodingError> {
    match encoder {
        Some(encoder) => {
            encoder.reset(k, k, bytes).map_err(codec)?;
            Ok(encoder)
        }
        None => Ok(encoder.insert(ReedSolomonEncoder::new(k, k, bytes).map_err(codec)?)),
    }
}

/// Writes the `k` parity shares of `k` data shares into `out` (`k` shares long), reusing the
/// thread's encoder.
fn encode_into<'a>(
    encoder: &mut Option<ReedSolomonEncoder>,
    k: usize,
    data: impl Iterator<Item = &'a [u8]>,
    out: &mut [u8],
) -> Result<(), CodingError> {
    let encoder = ready_encoder(encoder, k, SHARE_SIZE)?;
    for share in data {
        encoder.add_original_shard(share).map_err(codec)?;
    }
    let result = encoder.encode().map_err(codec)?;
    for (slot, parity) in out.chunks_mut(SHARE_SIZE).zip(result.recovery_iter()) {
        slot.copy_from_slice(parity);
    }
    Ok(())
}

/// The `k` parity shares of `k` data shares (given back to back).
fn parity_of(encoder: &mut Option<ReedSolomonEncoder>, k: usize, data: &[u8]) -> Result<Vec<u8>, CodingError> {
    let mut out = vec![0u8; k * SHARE_SIZE];
    encode_into(encoder, k, data.chunks(SHARE_SIZE), &mut out)?;
    Ok(out)
}

/// Extends a blob to its square, laying the blob straight into the square's top-left quarter
/// (the same bytes `original_square` gives: the blob, zero padding, its length last), on the
/// CPU.
pub fn extend_blob(blob: &[u8]) -> Result<ExtendedSquare, CodingError> {
    extend_blob_on(&Accelerator::cpu(), blob)
}

/// [`extend_blob`], offering the rows and columns to `accelerator` (the node's GPU) first.
pub fn extend_blob_on(accelerator: &Accelerator, blob: &[u8]) -> Result<ExtendedSquare, CodingError> {
    let layout = SquareLayout::for_blob(blob.len())?;
    let row_data = layout.k * SHARE_SIZE;
    let length = (blob.len() as u32).to_le_bytes();
    extend_with(accelerator, layout, |r, row| {
        let from = (r * row_data).min(blob.len());
        let to = ((r + 1) * row_data).min(blob.len());
        row[..to - from].copy_from_slice(&blob[from..to]);
        if r + 1 == layout.k {
            row[row_data - length.len()..].copy_from_slice(&length);
        }
    })
}

/// Extends an original `k × k` square (row-major bytes).
pub fn extend_original(layout: SquareLayout, original: &[u8]) -> Result<ExtendedSquare, CodingError> {
    if original.len() != layout.original_bytes() {
        return Err(DaError::SquareSize { k: layout.k, got: original.len(), expected: layout.original_bytes() }.into());
    }
    let row_data = layout.k * SHARE_SIZE;
    extend_with(&Accelerator::cpu(), layout, |r, row| row.copy_from_slice(&original[r * row_data..(r + 1) * row_data]))
}

/// Builds the square: `fill(r, row)` writes original row `r` into a zeroed slice, then the `k`
/// original rows are extended and then all `2k` columns, each on rayon's pool, every parity
/// share written once, straight into its place.
fn extend_with(accelerator: &Accelerator, layout: SquareLayout, fill: impl Fn(usize, &mut [u8]) + Sync) -> Result<ExtendedSquare, CodingError> {
    let (k, width) = (layout.k, layout.width());
    let row_bytes = width * SHARE_SIZE;
    let mut data = vec![0u8; layout.extended_bytes()];
    let (top, bottom) = data.split_at_mut(k * row_bytes);
    // A GPU, when the node has one and the square is big enough, codes all rows in one batch
    // and all columns as one codeword (see below): the same shares as reed-solomon-simd.
    let rows_elsewhere = accelerator.wants(k * k * SHARE_SIZE);
    top.par_chunks_mut(row_bytes).enumerate().try_for_each_init(
        || None,
        |encoder, (r, row)| {
            fill(r, &mut row[..k * SHARE_SIZE]);
            if rows_elsewhere { Ok(()) } else { encode_row(encoder, k, row) }
        },
    )?;
    if rows_elsewhere && !rows_on_accelerator(accelerator, k, row_bytes, top) {
        top.par_chunks_mut(row_bytes).try_for_each_init(|| None, |encoder, row| encode_row(encoder, k, row))?;
    }
    let top: &[u8] = top;
    if accelerator.wants(top.len())
        && let Some(parity) = accelerator.encode_batch(k, k, row_bytes, top)
    {
        bottom.copy_from_slice(&parity);
        return Ok(ExtendedSquare { layout, data });
    }
    // The bottom rows are cut into stripes of columns, one stripe per task; each column of a
    // stripe is its own codeword, coded by the thread's encoder and written into the stripe's
    // pieces. (Coding a whole stripe as one codeword of wide shards gives the same parity —
    // reed-solomon-simd codes each 64-byte piece on its own — but measured slower: the wide
    // shards fall out of cache. `zgnode bench da` times both against bare reed-solomon-simd.)
    let stripe_shares = width.div_ceil(rayon::current_num_threads() * 4).max(1);
    let stripe_bytes = stripe_shares * SHARE_SIZE;
    let mut stripes: Vec<Vec<&mut [u8]>> = (0..width.div_ceil(stripe_shares)).map(|_| Vec::with_capacity(k)).collect();
    for row in bottom.chunks_mut(row_bytes) {
        for (stripe, piece) in stripes.iter_mut().zip(row.chunks_mut(stripe_bytes)) {
            stripe.push(piece);
        }
    }
    stripes.into_par_iter().enumerate().try_for_each_init(
        || None,
        |encoder: &mut Option<ReedSolomonEncoder>, (s, mut pieces)| {
            let first = s * stripe_bytes;
            let columns = pieces.first().map_or(0, |piece| piece.len() / SHARE_SIZE);
            for column in 0..columns {
                let offset = column * SHARE_SIZE;
                let encoder = ready_encoder(encoder, k, SHARE_SIZE)?;
                for r in 0..k {
                    let at = r * row_bytes + first + offset;
                    encoder.add_original_shard(&top[at..at + SHARE_SIZE]).map_err(codec)?;
                }
                let result = encoder.encode().map_err(codec)?;
                for (piece, parity) in pieces.iter_mut().zip(result.recovery_iter()) {
                    piece[offset..offset + SHARE_SIZE].copy_from_slice(parity);
                }
            }
            Ok::<_, CodingError>(())
        },
    )?;
    Ok(ExtendedSquare { layout, data })
}

/// Codes an extended row's parity half from its data half.
fn encode_row(encoder: &mut Option<ReedSolomonEncoder>, k: usize, row: &mut [u8]) -> Result<(), CodingError> {
    let (data, parity) = row.split_at_mut(k * SHARE_SIZE);
    encode_into(encoder, k, data.chunks(SHARE_SIZE), parity)
}

/// Every row's parity in one accelerator batch (its `k` codewords are the rows' data halves);
/// false when the accelerator declined or failed.
fn rows_on_accelerator(accelerator: &Accelerator, k: usize, row_bytes: usize, top: &mut [u8]) -> bool {
    let half = k * SHARE_SIZE;
    let originals: Vec<u8> = top.chunks(row_bytes).flat_map(|row| &row[..half]).copied().collect();
    let Some(parity) = accelerator.encode_batch(k, k, SHARE_SIZE, &originals) else { return false };
    for (row, parity) in top.chunks_mut(row_bytes).zip(parity.chunks(half)) {
        row[half..].copy_from_slice(parity);
    }
    true
}

/// The blob a square holds.
pub fn blob_of(square: &ExtendedSquare) -> Result<Vec<u8>, CodingError> {
    Ok(blob_from_original(square.layout, &square.original())?)
}

/// A share's proof through `axis` (its row or its column), given the square's commitments, its
/// leaf hashes and the tree over its axis roots (`AxisRoots::tree`, built once for any number
/// of proofs).
pub fn share_proof(
    square: &ExtendedSquare,
    roots: &AxisRoots,
    data_tree: &DaTree,
    leaves: &[B256],
    row: usize,
    column: usize,
    axis: Axis,
) -> Result<ShareProof, CodingError> {
    let width = square.layout.width();
    if row >= width || column >= width {
        return Err(DaError::OutOfSquare { row, column, width }.into());
    }
    let (axis_index, position) = match axis {
        Axis::Row => (row, column),
        Axis::Column => (column, row),
    };
    let axis_leaves: Vec<B256> = (0..width)
        .map(|i| match axis {
            Axis::Row => leaves[row * width + i],
            Axis::Column => leaves[i * width + column],
        })
        .collect();
    let tree = DaTree::build(axis_leaves);
    let at = square.layout.axis_position(axis, axis_index);
    let missing = DaError::Malformed("the square's commitments do not match its shape");
    Ok(ShareProof {
        axis,
        axis_index: axis_index as u32,
        position: position as u32,
        axis_root: roots.root_of(axis, axis_index).ok_or(missing.clone())?,
        to_axis: tree.proof(position).ok_or(missing.clone())?,
        to_data_root: data_tree.proof(at).ok_or(missing)?,
    })
}

/// An axis's `2k` shares back from at least `k` of them (`None` for a missing one).
pub fn rebuild_axis(layout: SquareLayout, axis: Axis, index: usize, shares: &[Option<&[u8]>]) -> Result<Vec<u8>, CodingError> {
    let k = layout.k;
    let have = shares.iter().flatten().count();
    if shares.len() != layout.width() || have < k {
        return Err(CodingError::TooFewShares { axis, index, have, need: k });
    }
    if let Some(bad) = shares.iter().flatten().find(|s| s.len() != SHARE_SIZE) {
        return Err(DaError::ShareSize { got: bad.len() }.into());
    }
    let (data, parity) = shares.split_at(k);
    let mut original: Vec<u8> = Vec::with_capacity(k * SHARE_SIZE);
    if data.iter().all(Option::is_some) {
        data.iter().flatten().for_each(|s| original.extend_from_slice(s));
    } else {
        let mut decoder = ReedSolomonDecoder::new(k, k, SHARE_SIZE).map_err(codec)?;
        for (i, share) in data.iter().enumerate() {
            if let Some(share) = share {
                decoder.add_original_shard(i, share).map_err(codec)?;
            }
        }
        for (i, share) in parity.iter().enumerate() {
            if let Some(share) = share {
                decoder.add_recovery_shard(i, share).map_err(codec)?;
            }
        }
        let restored = decoder.decode().map_err(codec)?;
        for (i, share) in data.iter().enumerate() {
            match share {
                Some(share) => original.extend_from_slice(share),
                None => original.extend_from_slice(
                    restored.restored_original(i).ok_or(CodingError::Codec(format!("share {i} not restored")))?,
                ),
            }
        }
    }
    let parity = parity_of(&mut None, k, &original)?;
    original.extend_from_slice(&parity);
    Ok(original)
}

/// The whole square back from the shares held (row-major, `None` for a missing one), by
/// rebuilding rows and columns in turn until nothing is missing or nothing more can be rebuilt;
/// on the CPU.
pub fn rebuild_square(layout: SquareLayout, held: &[Option<Vec<u8>>]) -> Result<ExtendedSquare, CodingError> {
    rebuild_square_on(&Accelerator::cpu(), layout, held)
}

/// [`rebuild_square`], offering batches of lines to `accelerator` (the node's GPU) first.
pub fn rebuild_square_on(accelerator: &Accelerator, layout: SquareLayout, held: &[Option<Vec<u8>>]) -> Result<ExtendedSquare, CodingError> {
    let width = layout.width();
    if held.len() != width * width {
        return Err(DaError::Malformed("the shares held do not fill the square's shape").into());
    }
    let mut shares: Vec<Option<Vec<u8>>> = held.to_vec();
    loop {
        let missing = shares.iter().filter(|s| s.is_none()).count();
        if missing == 0 {
            break;
        }
        let mut progress = false;
        for axis in [Axis::Row, Axis::Column] {
            let at = |index: usize, i: usize| match axis {
                Axis::Row => index * width + i,
                Axis::Column => i * width + index,
            };
            // Lines of one axis are disjoint, so they can be rebuilt together: those missing the
            // same positions form one batch (for the GPU, when the node has one).
            let mut by_pattern: std::collections::BTreeMap<Vec<bool>, Vec<usize>> = Default::default();
            for index in 0..width {
                let pattern: Vec<bool> = (0..width).map(|i| shares[at(index, i)].is_some()).collect();
                let have = pattern.iter().filter(|p| **p).count();
                if have < width && have >= layout.k {
                    by_pattern.entry(pattern).or_default().push(index);
                }
            }
            for (pattern, members) in by_pattern {
                let lines: Vec<Vec<Option<&[u8]>>> = members.iter().map(|index| (0..width).map(|i| shares[at(*index, i)].as_deref()).collect()).collect();
                let rebuilt = match batch::rebuild_lines(accelerator, layout, &pattern, &lines) {
                    Some(rebuilt) => rebuilt,
                    None => members.iter().zip(&lines).map(|(index, line)| rebuild_axis(layout, axis, *index, line)).collect::<Result<Vec<_>, _>>()?,
                };
                for (index, line) in members.iter().zip(rebuilt) {
                    for (i, share) in line.chunks(SHARE_SIZE).enumerate() {
                        shares[at(*index, i)].get_or_insert_with(|| share.to_vec());
                    }
                }
                progress = true;
            }
        }
        if !progress {
            return Err(CodingError::Unrecoverable { missing });
        }
    }
    let data = shares.into_iter().flatten().flatten().collect();
    Ok(ExtendedSquare { layout, data })
}

/// The fraud proof against axis `index` of a square whose shares are known (the whole square as
/// the disperser sent it, its roots as committed), when that axis is not the codeword of its
/// shares: `k` of its shares proven through the other axis. `None` when the axis is sound.
pub fn prove_bad_encoding(
    square: &ExtendedSquare,
    roots: &AxisRoots,
    axis: Axis,
    index: usize,
) -> Result<Option<BadEncodingProof>, CodingError> {
    let layout = square.layout;
    let width = layout.width();
    let share_at = |i: usize| -> (usize, usize) {
        match axis {
            Axis::Row => (index, i),
            Axis::Column => (i, index),
        }
    };
    let first_k: Vec<Option<&[u8]>> = (0..width).map(|i| if i < layout.k { let (r, c) = share_at(i); square.share(r, c) } else { None }).collect();
    let rebuilt = rebuild_axis(layout, axis, index, &first_k)?;
    let accused_root = roots.root_of(axis, index).ok_or(DaError::OutOfSquare { row: index, column: index, width })?;
    if axis_root_of_shares(&rebuilt) == accused_root {
        return Ok(None);
    }
    // Only a bad axis needs the square's leaves and the data root's tree, each built once.
    let (leaves, data_tree) = (square.leaf_hashes(), roots.tree());
    let shares = (0..layout.k)
        .map(|i| {
            let (r, c) = share_at(i);
            let proof = share_proof(square, roots, &data_tree, &leaves, r, c, axis.other())?;
            Ok((square.share(r, c).map(<[u8]>::to_vec).unwrap_or_default(), proof))
        })
        .collect::<Result<Vec<_>, CodingError>>()?;
    Ok(Some(BadEncodingProof {
        data_root: roots.data_root_with(&data_tree),
        layout,
        axis,
        index: index as u32,
        accused_root,
        accused_proof: data_tree.proof(layout.axis_position(axis, index)).ok_or(DaError::Malformed("no proof for the accused axis"))?,
        shares,
    }))
}

/// Why a fraud proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FraudProofError {
    #[error("the accused {0:?} root is not in the data root: {1}")]
    AccusedRoot(Axis, DaError),
    #[error("share {0}: {1}")]
    Share(usize, DaError),
    #[error("share {0} is not on the accused axis or is given twice")]
    Misplaced(usize),
    #[error("{got} shares given; the axis is rebuilt from exactly {need}")]
    ShareCount { got: usize, need: usize },
    #[error("the square is larger than any blob's")]
    Layout,
    #[error("the accused axis is encoded correctly")]
    SoundAxis,
    #[error(transparent)]
    Coding(#[from] CodingError),
}

/// Checks a bad-encoding fraud proof: the accused root and every share are proven in the data
/// root (the shares through the other axis), the shares are `k` distinct positions of the
/// accused axis, and the axis rebuilt from them has another root. Ok means the blob is bad.
pub fn check_bad_encoding(proof: &BadEncodingProof) -> Result<(), FraudProofError> {
    let layout = proof.layout;
    if layout.k == 0 || layout.k > SquareLayout::for_blob(zg_components::da::MAX_BLOB_SIZE).map_err(|_| FraudProofError::Layout)?.k {
        return Err(FraudProofError::Layout);
    }
    let (width, index) = (layout.width(), proof.index as usize);
    if index >= width {
        return Err(FraudProofError::Layout);
    }
    verify_axis_root(&proof.data_root, layout, proof.axis, index, &proof.accused_root, &proof.accused_proof)
        .map_err(|e| FraudProofError::AccusedRoot(proof.axis, e))?;
    if proof.shares.len() != layout.k {
        return Err(FraudProofError::ShareCount { got: proof.shares.len(), need: layout.k });
    }
    let mut line: Vec<Option<&[u8]>> = vec![None; width];
    for (i, (share, share_proof)) in proof.shares.iter().enumerate() {
        if share_proof.axis != proof.axis.other() || share_proof.position as usize != index {
            return Err(FraudProofError::Misplaced(i));
        }
        share_proof.verify(&proof.data_root, layout, share).map_err(|e| FraudProofError::Share(i, e))?;
        let slot = line.get_mut(share_proof.axis_index as usize).ok_or(FraudProofError::Misplaced(i))?;
        if slot.replace(share.as_slice()).is_some() {
            return Err(FraudProofError::Misplaced(i));
        }
    }
    let rebuilt = rebuild_axis(layout, proof.axis, index, &line)?;
    if axis_root_of_shares(&rebuilt) == proof.accused_root {
        return Err(FraudProofError::SoundAxis);
    }
    Ok(())
}

mod batch;
#[cfg(test)]
#[path = "encoding/forgery.rs"]
pub(crate) mod forgery_for_tests;
#[cfg(test)]
mod tests;
