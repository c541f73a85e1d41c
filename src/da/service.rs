//! What a DA node answers its peers: it keeps pieces that check out against their roots, signs
//! an attestation only once it holds every axis its slots answer for, and serves roots, axes
//! and proven shares of what it keeps.

use alloy_primitives::B256;
use rayon::prelude::*;

use zg_components::consensus::PeerKey;
use zg_components::da::piece::{DaAnswer, DaRequest, PieceBatch, WireShareProof, attestation_message, axis_from_code};
use zg_components::da::{Axis, SquareLayout, SHARE_SIZE};
use zg_systems::da::pieces::{assignment, check_piece, check_roots, share_proof_from_axis};

use super::DaNode;
use crate::net::DaService;

impl DaNode {
    /// Checks and keeps a batch of pieces; how many axes of the blob are held afterwards.
    pub(super) fn keep_batch(&self, batch: &PieceBatch) -> Result<u32, String> {
        let data_root = B256::from(batch.data_root);
        let roots = check_roots(&data_root, batch.k, &batch.axis_roots).map_err(|e| e.to_string())?;
        let axes = batch
            .pieces
            .par_iter()
            .map(|piece| check_piece(&roots, piece).map(|(axis, whole)| (axis, piece.index, whole)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        self.store.put_da_axes(&batch.data_root, batch.k, &batch.axis_roots, &axes).map_err(|e| format!("storing pieces: {e}"))
    }

    /// Signs the attestation for `data_root` if this node holds every axis the signers' slots
    /// give it.
    pub(super) fn attest(&self, data_root: &[u8; 32], epoch: u64, quorum: u64, signers: &[(PeerKey, u64)]) -> Result<[u8; 64], String> {
        let mut mine = self.signers();
        let mut theirs = signers.to_vec();
        mine.sort();
        theirs.sort();
        if mine != theirs {
            return Err("the disperser's signer set is not this node's (has the epoch changed?)".into());
        }
        let (k, _) = self
            .store
            .da_roots(data_root)
            .map_err(|e| e.to_string())?
            .ok_or("this node holds no pieces of that blob")?;
        let layout = SquareLayout { k: k as usize };
        let keep = assignment(&B256::from(*data_root), &mine, self.tokens_per_vote, layout);
        let assigned = keep.get(&self.own).ok_or("this node has no slot in the blob's quorum")?;
        let held = self.store.da_held(data_root).map_err(|e| e.to_string())?;
        let missing = assigned.iter().filter(|(axis, index)| !held.contains(&(*axis, *index as u32))).count();
        if missing > 0 {
            return Err(format!("{missing} of the {} rows and columns assigned to this node are not held", assigned.len()));
        }
        let message = attestation_message(self.chain_id, data_root, epoch, quorum);
        Ok(self.signer.sign(&message).to_bytes())
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
                let result = self.keep_batch(&batch);
                if let Err(error) = &result {
                    tracing::warn!(peer = %hex::encode(&from[..6]), %error, "refused DA pieces");
                }
                DaAnswer::Stored(result)
            }
            DaRequest::Sign { data_root, epoch, quorum, signers } => DaAnswer::Signature(self.attest(&data_root, epoch, quorum, &signers)),
            DaRequest::Roots { data_root } => DaAnswer::Roots(self.store.da_roots(&data_root).ok().flatten()),
            DaRequest::Axis { data_root, axis, index } => {
                let whole = axis_from_code(axis).and_then(|axis| self.store.da_axis(&data_root, axis, index).ok().flatten());
                DaAnswer::Axis(whole)
            }
            DaRequest::Share { data_root, row, column } => DaAnswer::Share(self.proven_share(&data_root, row, column)),
        }
    }
}
