//! What DA nodes ask each other over the validator network, and the attestation they sign.
//!
//! A disperser sends each quorum member the rows and columns its slots answer for as their
//! systematic halves (the first `k` shares): the receiver extends each one itself and checks the
//! result against the axis root, so a piece costs half an axis on the wire and cannot be forged.
//! Every batch carries the blob's `4k` axis roots, which the receiver checks against the data
//! root before it trusts any of them.

use borsh::{BorshDeserialize, BorshSerialize};

use super::square::{Axis, ShareProof};
use crate::storage::merkle::Proof;
use alloy_primitives::B256;

/// Domain of an attestation signature: never a vote, a proposal or a block body.
pub const ATTESTATION_DOMAIN: &[u8; 4] = b"ZGDA";
/// `"ZGDA" ‖ chain id (8) ‖ data root (32) ‖ epoch (8) ‖ quorum (8)`, as the DA entrance builds it.
pub const ATTESTATION_BYTES: usize = 60;

/// The bytes a DA node signs to say it stores its pieces of `data_root`.
pub fn attestation_message(chain_id: u64, data_root: &[u8; 32], epoch: u64, quorum: u64) -> [u8; ATTESTATION_BYTES] {
    let mut message = [0u8; ATTESTATION_BYTES];
    message[..4].copy_from_slice(ATTESTATION_DOMAIN);
    message[4..12].copy_from_slice(&chain_id.to_be_bytes());
    message[12..44].copy_from_slice(data_root);
    message[44..52].copy_from_slice(&epoch.to_be_bytes());
    message[52..60].copy_from_slice(&quorum.to_be_bytes());
    message
}

/// An axis on the wire: 0 a row, 1 a column.
pub fn axis_code(axis: Axis) -> u8 {
    match axis {
        Axis::Row => 0,
        Axis::Column => 1,
    }
}

pub fn axis_from_code(code: u8) -> Option<Axis> {
    match code {
        0 => Some(Axis::Row),
        1 => Some(Axis::Column),
        _ => None,
    }
}

/// One row or column: its first `k` shares.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct AxisPiece {
    pub axis: u8,
    pub index: u32,
    pub half: Vec<u8>,
}

/// Pieces of one blob for one DA node, with the blob's axis roots (rows, then columns).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct PieceBatch {
    pub data_root: [u8; 32],
    pub k: u32,
    pub axis_roots: Vec<[u8; 32]>,
    pub pieces: Vec<AxisPiece>,
}

/// A share's proof on the wire (see [`ShareProof`]).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireShareProof {
    pub axis: u8,
    pub axis_index: u32,
    pub position: u32,
    pub axis_root: [u8; 32],
    pub to_axis: (Vec<[u8; 32]>, Vec<bool>),
    pub to_data_root: (Vec<[u8; 32]>, Vec<bool>),
}

impl WireShareProof {
    pub fn from_proof(proof: &ShareProof) -> Self {
        let wire = |p: &Proof| (p.lemma.iter().map(|h| h.0).collect(), p.path.clone());
        Self {
            axis: axis_code(proof.axis),
            axis_index: proof.axis_index,
            position: proof.position,
            axis_root: proof.axis_root.0,
            to_axis: wire(&proof.to_axis),
            to_data_root: wire(&proof.to_data_root),
        }
    }

    /// None when the axis code is not one.
    pub fn to_proof(&self) -> Option<ShareProof> {
        let proof = |(lemma, path): &(Vec<[u8; 32]>, Vec<bool>)| Proof { lemma: lemma.iter().map(|h| B256::from(*h)).collect(), path: path.clone() };
        Some(ShareProof {
            axis: axis_from_code(self.axis)?,
            axis_index: self.axis_index,
            position: self.position,
            axis_root: B256::from(self.axis_root),
            to_axis: proof(&self.to_axis),
            to_data_root: proof(&self.to_data_root),
        })
    }
}

/// A DA node's question to another.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum DaRequest {
    /// Keep these pieces (answered with [`DaAnswer::Stored`]).
    Store(PieceBatch),
    /// Sign the attestation for a blob whose pieces were sent, computing this node's assignment
    /// from the signers (key, power) the disperser used (answered with [`DaAnswer::Signature`]).
    Sign { data_root: [u8; 32], epoch: u64, quorum: u64, signers: Vec<([u8; 32], u64)> },
    /// A blob's axis roots ([`DaAnswer::Roots`]).
    Roots { data_root: [u8; 32] },
    /// A whole row or column ([`DaAnswer::Axis`]).
    Axis { data_root: [u8; 32], axis: u8, index: u32 },
    /// One share with its proof ([`DaAnswer::Share`]).
    Share { data_root: [u8; 32], row: u32, column: u32 },
}

/// The answer, or why not (a clear refusal the asker can log).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum DaAnswer {
    /// How many pieces of the batch are now held.
    Stored(Result<u32, String>),
    Signature(Result<[u8; 64], String>),
    Roots(Option<(u32, Vec<[u8; 32]>)>),
    Axis(Option<Vec<u8>>),
    Share(Option<(Vec<u8>, WireShareProof)>),
    /// The node does not serve DA.
    NotServed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attestation_is_the_contracts_60_bytes() {
        let message = attestation_message(31337, &[7u8; 32], 2, 0);
        assert_eq!(&message[..4], b"ZGDA");
        assert_eq!(u64::from_be_bytes(message[4..12].try_into().unwrap()), 31337);
        assert_eq!(&message[12..44], &[7u8; 32]);
        assert_eq!(u64::from_be_bytes(message[44..52].try_into().unwrap()), 2);
    }

    #[test]
    fn axis_codes_round_trip_and_others_are_refused() {
        assert_eq!(axis_from_code(axis_code(Axis::Row)), Some(Axis::Row));
        assert_eq!(axis_from_code(axis_code(Axis::Column)), Some(Axis::Column));
        assert_eq!(axis_from_code(2), None);
    }
}
