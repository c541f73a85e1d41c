//! What a DA node answers its peers: it keeps pieces that check out against their roots, signs
//! an attestation only once it holds every axis its slots answer for, and serves roots, axes
//! and proven shares of what it keeps.

use alloy_primitives::B256;
use rayon::prelude::*;
use std::time::{Duration, Instant};

use zg_components::consensus::PeerKey;
use zg_components::da::piece::{DaAnswer, DaRequest, PieceBatch, WireShareProof, attestation_message, axis_from_code};
use zg_components::da::{Axis, BlobStatus, SquareLayout, SHARE_SIZE};
use zg_systems::da::pieces::{PieceError, check_piece, check_roots, share_proof_from_axis};

use super::DaNode;
use super::crossings::Crossings;
use crate::net::DaService;
use crate::store::StoreError;

/// Why a batch of pieces was not kept. Only refusals that show the sender sent what no honest
/// disperser sends count against it (see [`PieceRefusal::is_offence`]).
#[derive(Debug, thiserror::Error)]
pub enum PieceRefusal {
    #[error("{0}")]
    BadPiece(#[from] PieceError),
    #[error("blob {data_root} is {status} on chain, not PROCESSING: no pieces are taken for it")]
    NotProcessing { data_root: B256, status: &'static str },
    #[error("blob {0} is not registered on chain")]
    NotRegistered(B256),
    #[error("this node has no slot in the blob's quorum")]
    NoSlot,
    #[error("an axis code that is neither a row nor a column")]
    BadAxisCode,
    #[error("{axis:?} {index} is not assigned to this node")]
    NotAssigned { axis: Axis, index: u32 },
    #[error("storing pieces: {0}")]
    Store(#[from] StoreError),
}

impl PieceRefusal {
    /// Whether the sender is at fault: pieces that do not prove against their roots, axes that
    /// are not its to send here. A blob this node does not see registered yet (it may be a block
    /// behind), a quorum that changed, or this node's own disk failing are not.
    pub fn is_offence(&self) -> bool {
        matches!(self, Self::BadPiece(_) | Self::BadAxisCode | Self::NotAssigned { .. })
    }
}

/// Why this node would not attest a blob.
#[derive(Debug, thiserror::Error)]
pub enum AttestRefusal {
    #[error("the disperser's signer set is not this node's (has the epoch changed?)")]
    OtherSigners,
    #[error("this node holds no pieces of that blob")]
    NoPieces,
    #[error("this node has no slot in the blob's quorum")]
    NoSlot,
    #[error("{missing} of the {assigned} rows and columns assigned to this node are not held")]
    Missing { missing: usize, assigned: usize },
    #[error("{axis:?} {index} vanished")]
    Vanished { axis: Axis, index: u32 },
    #[error("row {row} and column {column} disagree where they cross: the disperser's square is inconsistent; not signing")]
    Inconsistent { row: u32, column: u32 },
    #[error("reading pieces: {0}")]
    Store(#[from] StoreError),
}

/// Where the axes an attestation vouches for came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SquareSource {
    /// A disperser sent them: each was checked against its root, their crossings are not yet.
    Peer,
    /// This node extended the blob itself.
    OwnSquare,
}

/// How long a batch for a blob this node does not see registered yet waits for its block (the
/// disperser sends right after its registration's receipt; this node may be a block behind).
const REGISTRATION_WAIT: Duration = Duration::from_secs(5);
/// Refused batches after which a peer's further batches are refused unread (until restart).
pub(super) const MAX_REFUSED_BATCHES: u64 = 32;

impl DaNode {
    /// Checks and keeps a batch of pieces; how many axes of the blob are held afterwards. Only
    /// for a blob registered on chain and still PROCESSING, and only the rows and columns this
    /// node's slots answer for: no peer can fill the disk with pieces nobody pays for.
    pub(super) fn keep_batch(&self, batch: &PieceBatch) -> Result<u32, PieceRefusal> {
        let data_root = B256::from(batch.data_root);
        let roots = check_roots(&data_root, batch.k, &batch.axis_roots)?;
        let waited_until = Instant::now() + REGISTRATION_WAIT;
        loop {
            match self.chain_status(&data_root).map(|(status, _, _)| status) {
                Some(BlobStatus::Processing) => break,
                Some(other) => return Err(PieceRefusal::NotProcessing { data_root, status: other.name() }),
                // The disperser sends once its registration is in a block this node may commit
                // a moment later: looked for often (an in-memory read), not a block's time.
                None if Instant::now() < waited_until => std::thread::sleep(Duration::from_millis(10)),
                None => return Err(PieceRefusal::NotRegistered(data_root)),
            }
        }
        let keep = self.assignments.of(&data_root, &self.signers(), self.tokens_per_vote, roots.layout);
        let mine = keep.get(&self.own).ok_or(PieceRefusal::NoSlot)?;
        for piece in &batch.pieces {
            let axis = axis_from_code(piece.axis).ok_or(PieceRefusal::BadAxisCode)?;
            if !mine.contains(&(axis, piece.index as usize)) {
                return Err(PieceRefusal::NotAssigned { axis, index: piece.index });
            }
        }
        let checked = batch.pieces.par_iter().map(|piece| check_piece(&roots, piece).map(|c| (piece.index, c))).collect::<Result<Vec<_>, _>>()?;
        let mut axes = Vec::with_capacity(checked.len());
        let mut leaves = Vec::with_capacity(checked.len());
        for (index, piece) in checked {
            axes.push((piece.axis, index, piece.whole));
            leaves.push((piece.axis, index, piece.leaves));
        }
        let held = self.store.put_da_axes(&batch.data_root, batch.k, &batch.axis_roots, &axes)?;
        self.crossing_leaves.record(&batch.data_root, leaves);
        Ok(held)
    }

    /// Signs the attestation for `data_root` if this node holds every axis the signers' slots
    /// give it, and its held rows and columns agree where they cross.
    pub(super) fn attest(&self, data_root: &[u8; 32], epoch: u64, quorum: u64, signers: &[(PeerKey, u64)]) -> Result<[u8; 64], AttestRefusal> {
        self.attest_square(data_root, epoch, quorum, signers, SquareSource::Peer)
    }

    /// [`Self::attest`], where `source` says whether this node made the square itself (its rows
    /// and columns then agree by construction: no crossing check, which re-reads every axis).
    pub(super) fn attest_square(
        &self,
        data_root: &[u8; 32],
        epoch: u64,
        quorum: u64,
        signers: &[(PeerKey, u64)],
        source: SquareSource,
    ) -> Result<[u8; 64], AttestRefusal> {
        let mut mine = self.signers();
        let mut theirs = signers.to_vec();
        mine.sort();
        theirs.sort();
        if mine != theirs {
            return Err(AttestRefusal::OtherSigners);
        }
        let (k, _) = self.store.da_roots(data_root)?.ok_or(AttestRefusal::NoPieces)?;
        let layout = SquareLayout { k: k as usize };
        let keep = self.assignments.of(&B256::from(*data_root), &mine, self.tokens_per_vote, layout);
        let assigned = keep.get(&self.own).ok_or(AttestRefusal::NoSlot)?;
        let held = self.store.da_held(data_root)?;
        let missing = assigned.iter().filter(|(axis, index)| !held.contains(&(*axis, *index as u32))).count();
        if missing > 0 {
            return Err(AttestRefusal::Missing { missing, assigned: assigned.len() });
        }
        if source == SquareSource::Peer {
            self.check_crossings(data_root, &held)?;
            self.crossing_leaves.forget(data_root);
        }
        let message = attestation_message(self.chain_id, data_root, epoch, quorum);
        Ok(self.signer.sign(&message).to_bytes())
    }

    /// Every held row and held column agree where they cross: each is a codeword under its own
    /// root, but only a node holding both sees a disperser that committed rows and columns of
    /// two different squares. What an attester signs is then what it checked.
    fn check_crossings(&self, data_root: &[u8; 32], held: &std::collections::BTreeSet<(Axis, u32)>) -> Result<(), AttestRefusal> {
        match self.crossing_leaves.check(data_root, held) {
            Crossings::Agree => return Ok(()),
            Crossings::Disagree { row, column } => return Err(AttestRefusal::Inconsistent { row, column }),
            Crossings::Unknown => {}
        }
        let read = |axis: Axis, index: u32| -> Result<Vec<u8>, AttestRefusal> {
            self.store.da_axis(data_root, axis, index)?.ok_or(AttestRefusal::Vanished { axis, index })
        };
        let rows: Vec<(u32, Vec<u8>)> =
            held.iter().filter(|(a, _)| *a == Axis::Row).map(|(_, i)| Ok((*i, read(Axis::Row, *i)?))).collect::<Result<_, AttestRefusal>>()?;
        for (_, column) in held.iter().filter(|(a, _)| *a == Axis::Column) {
            let shares = read(Axis::Column, *column)?;
            for (row, whole) in &rows {
                let (r, c) = (*row as usize * SHARE_SIZE, *column as usize * SHARE_SIZE);
                if whole.get(c..c + SHARE_SIZE) != shares.get(r..r + SHARE_SIZE) {
                    return Err(AttestRefusal::Inconsistent { row: *row, column: *column });
                }
            }
        }
        Ok(())
    }

    /// Share (row, column) with its proof, from a kept row or column through it.
    pub(super) fn proven_share(&self, data_root: &[u8; 32], row: u32, column: u32) -> Option<(Vec<u8>, WireShareProof)> {
        let (k, wire_roots) = self.store.da_roots(data_root).ok()??;
        let roots = check_roots(&B256::from(*data_root), k, &wire_roots).ok()?;
        for (axis, index, position) in [(Axis::Row, row, column), (Axis::Column, column, row)] {
            let Ok(Some(whole)) = self.store.da_axis(data_root, axis, index) else { continue };
            let proof = share_proof_from_axis(&roots, axis, index as usize, &whole, position as usize)?;
            let share = whole.get(position as usize * SHARE_SIZE..(position as usize + 1) * SHARE_SIZE)?.to_vec();
            return Some((share, WireShareProof::from_proof(&proof)));
        }
        None
    }
}

impl DaService for DaNode {
    fn answer(&self, from: &PeerKey, request: DaRequest) -> DaAnswer {
        match request {
            DaRequest::Store(batch) => {
                let refused_before = self.refused_batches.lock().ok().and_then(|r| r.get(from).copied()).unwrap_or(0);
                if refused_before >= MAX_REFUSED_BATCHES {
                    return DaAnswer::Stored(Err(format!("{refused_before} batches from this peer were refused; no more are read")));
                }
                let result = self.keep_batch(&batch);
                if let Err(error) = &result {
                    tracing::warn!(peer = %hex::encode(&from[..6]), %error, offence = error.is_offence(), "refused DA pieces");
                    metrics::counter!("zgnode_da_refused_batches_total").increment(1);
                    // Only what the sender is to blame for counts towards cutting it off: a
                    // blob this node sees a block late must not get an honest disperser ignored.
                    if error.is_offence()
                        && let Ok(mut refused) = self.refused_batches.lock()
                    {
                        *refused.entry(*from).or_default() += 1;
                    }
                }
                // The wire carries the reason as text: a peer's account of itself is not trusted.
                DaAnswer::Stored(result.map_err(|error| error.to_string()))
            }
            DaRequest::Sign { data_root, epoch, quorum, signers } => {
                DaAnswer::Signature(self.attest(&data_root, epoch, quorum, &signers).map_err(|error| error.to_string()))
            }
            DaRequest::Roots { data_root } => DaAnswer::Roots(self.store.da_roots(&data_root).ok().flatten()),
            DaRequest::Axis { data_root, axis, index } => {
                let whole = axis_from_code(axis).and_then(|axis| self.store.da_axis(&data_root, axis, index).ok().flatten());
                DaAnswer::Axis(whole)
            }
            DaRequest::Share { data_root, row, column } => DaAnswer::Share(self.proven_share(&data_root, row, column)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_sender_is_to_blame_for_is_an_offence() {
        let offences = [
            PieceRefusal::BadPiece(PieceError::BadAxis(9)),
            PieceRefusal::BadAxisCode,
            PieceRefusal::NotAssigned { axis: Axis::Row, index: 3 },
        ];
        for refusal in offences {
            assert!(refusal.is_offence(), "{refusal}");
        }
        let honest = [
            PieceRefusal::NotRegistered(B256::ZERO),
            PieceRefusal::NotProcessing { data_root: B256::ZERO, status: "CONFIRMED" },
            PieceRefusal::NoSlot,
            PieceRefusal::Store(StoreError::Corrupt { what: "da axes", detail: "disk".into() }),
        ];
        for refusal in honest {
            assert!(!refusal.is_offence(), "{refusal}");
        }
    }
}
