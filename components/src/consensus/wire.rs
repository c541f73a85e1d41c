//! What validators send each other, and its byte format.
//!
//! A frame is `length (u32 BE) ‖ version (u8) ‖ borsh(NetMessage)`, where `length` counts the
//! version byte and the body and may not exceed [`MAX_MESSAGE_BYTES`]. Decoding is strict: a
//! wrong version, trailing bytes or a malformed body is an error, never a panic, and no length
//! field makes the decoder allocate more than the frame holds.

use alloy_primitives::{Address, B256, keccak256};
use borsh::{BorshDeserialize, BorshSerialize};
use malachite_ed25519::Signature;
use malachite_types::{
    CommitCertificate, CommitSignature, NilOrVal, Round, SignedMessage, SignedProposal, SignedVote, VoteType,
};

use super::context::ZgContext;
use super::types::{BlockValue, Height, Proposal, ValidatorAddress, Vote};

/// 2: block bodies travel signed by their proposer ([`SignedBlock`]).
pub const WIRE_VERSION: u8 = 2;
/// The largest frame anyone may send: a full block of transactions fits with room to spare.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// A block as consensus orders it: the transactions and the context to run them in. Execution
/// happens after the decision; `parent_hash` is the hash of the executed block before it, so a
/// proposal also commits to the state every validator must have reached.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct OrderedBlock {
    pub height: u64,
    /// The round it was first proposed in.
    pub round: u32,
    pub timestamp_ms: u64,
    /// The proposing validator's consensus address.
    pub proposer: [u8; 20],
    pub parent_hash: [u8; 32],
    /// EIP-2718 encoded transactions, in execution order.
    pub transactions: Vec<Vec<u8>>,
    /// Double-sign proofs this block carries to the staking contract.
    pub evidence: Vec<DoubleSignEvidence>,
}

impl OrderedBlock {
    /// The value consensus votes on.
    pub fn hash(&self) -> B256 {
        keccak256(borsh::to_vec(self).unwrap_or_default())
    }

    pub fn proposer(&self) -> ValidatorAddress {
        ValidatorAddress(Address::from(self.proposer))
    }
}

/// Domain of a body signature, so it can never be taken for a vote or a proposal.
const BODY_DOMAIN: &[u8; 4] = b"ZGB1";

/// A block body signed by the validator that proposed it. The body's proposer field alone
/// proves nothing: anyone could claim it and crowd the real body out of the round.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct SignedBlock {
    pub block: OrderedBlock,
    pub signature: [u8; 64],
}

impl SignedBlock {
    /// `domain ‖ chain id ‖ block hash`: what the proposer signs.
    pub fn sign_bytes(chain_id: u64, hash: B256) -> [u8; 44] {
        let mut out = [0u8; 44];
        out[..4].copy_from_slice(BODY_DOMAIN);
        out[4..12].copy_from_slice(&chain_id.to_be_bytes());
        out[12..].copy_from_slice(hash.as_slice());
        out
    }

    /// Whether `key` signed this body for `chain_id`.
    pub fn verify(&self, chain_id: u64, key: &malachite_ed25519::PublicKey) -> bool {
        let bytes = Self::sign_bytes(chain_id, self.block.hash());
        key.verify(&bytes, &Signature::from_bytes(self.signature)).is_ok()
    }
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireVote {
    pub height: u64,
    /// Rounds on the wire are never nil.
    pub round: u32,
    pub precommit: bool,
    pub value: Option<[u8; 32]>,
    pub validator: [u8; 20],
    pub signature: [u8; 64],
}

/// Two votes by one validator for different values at the same height, round and type.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct DoubleSignEvidence {
    pub first: WireVote,
    pub second: WireVote,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireProposal {
    pub height: u64,
    pub round: u32,
    pub value: [u8; 32],
    /// `None` for a fresh proposal (nil POL round).
    pub pol_round: Option<u32>,
    pub proposer: [u8; 20],
    pub signature: [u8; 64],
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireCertificate {
    pub height: u64,
    pub round: u32,
    pub value: [u8; 32],
    pub signatures: Vec<([u8; 20], [u8; 64])>,
}

/// A decided block with the precommits that decided it.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct DecidedBlock {
    pub block: OrderedBlock,
    pub certificate: WireCertificate,
}

#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum NetMessage {
    /// Sent on connect and every heartbeat: the sender's genesis and last decided height.
    Status { genesis: [u8; 32], height: u64 },
    Transactions(Vec<Vec<u8>>),
    Proposal(WireProposal),
    Vote(WireVote),
    /// The block a proposal names by hash, signed by its proposer.
    Block(SignedBlock),
    /// Asks for decided blocks `from..=to`.
    SyncRequest { from: u64, to: u64 },
    SyncResponse(Vec<DecidedBlock>),
    /// An erasure-coded shard of a storage segment, placed on this node.
    StoreShard(Shard),
    /// Asks for a shard this node was given.
    ShardRequest { id: u64, tx_seq: u64, segment: u64, shard: u8 },
    /// The answer; `shard` is None when the node does not hold it.
    ShardReply { id: u64, shard: Option<Shard> },
    /// A DA node's request to another (pieces to keep, an attestation, shares to sample).
    DaRequest { id: u64, request: crate::da::piece::DaRequest },
    /// Its answer.
    DaReply { id: u64, answer: crate::da::piece::DaAnswer },
}

/// The storage role's shard travels in `StoreShard` / `ShardReply`; it is storage data, defined
/// with the storage components.
pub use crate::storage::shard::Shard;

impl NetMessage {
    /// A short name for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            NetMessage::Status { .. } => "status",
            NetMessage::Transactions(_) => "transactions",
            NetMessage::Proposal(_) => "proposal",
            NetMessage::Vote(_) => "vote",
            NetMessage::Block(_) => "block",
            NetMessage::SyncRequest { .. } => "sync_request",
            NetMessage::SyncResponse(_) => "sync_response",
            NetMessage::StoreShard(_) => "store_shard",
            NetMessage::ShardRequest { .. } => "shard_request",
            NetMessage::ShardReply { .. } => "shard_reply",
            NetMessage::DaRequest { .. } => "da_request",
            NetMessage::DaReply { .. } => "da_reply",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("empty frame")]
    Empty,
    #[error("unsupported wire version {0} (this node speaks {WIRE_VERSION})")]
    Version(u8),
    #[error("undecodable message: {0}")]
    Malformed(String),
    #[error("round {0} is out of range")]
    Round(i64),
}

/// The frame body (version byte and message), without the length prefix.
pub fn encode_body(message: &NetMessage) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION];
    // Writing into a Vec cannot fail.
    let _ = borsh::to_writer(&mut out, message);
    out
}

/// The whole frame: length prefix, version, message.
pub fn encode_frame(message: &NetMessage) -> Result<Vec<u8>, WireError> {
    let body = encode_body(message);
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(body.len()));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Checks a frame's announced length before anything is read or allocated.
pub fn check_frame_length(length: u32) -> Result<usize, WireError> {
    let length = length as usize;
    if length > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(length));
    }
    if length == 0 {
        return Err(WireError::Empty);
    }
    Ok(length)
}

/// Decodes a frame body (what follows the length prefix).
pub fn decode_body(body: &[u8]) -> Result<NetMessage, WireError> {
    check_frame_length(body.len().min(u32::MAX as usize) as u32)?;
    let (version, rest) = body.split_first().ok_or(WireError::Empty)?;
    if *version != WIRE_VERSION {
        return Err(WireError::Version(*version));
    }
    borsh::from_slice(rest).map_err(|e| WireError::Malformed(e.to_string()))
}

fn wire_round(round: Round) -> Result<u32, WireError> {
    round.as_u32().ok_or(WireError::Round(round.as_i64()))
}

fn wire_value(value: &NilOrVal<B256>) -> Option<[u8; 32]> {
    match value {
        NilOrVal::Nil => None,
        NilOrVal::Val(hash) => Some(hash.0),
    }
}

impl WireVote {
    pub fn from_signed(vote: &SignedVote<ZgContext>) -> Result<Self, WireError> {
        Ok(Self {
            height: vote.message.height.0,
            round: wire_round(vote.message.round)?,
            precommit: vote.message.vote_type == VoteType::Precommit,
            value: wire_value(&vote.message.value),
            validator: vote.message.validator.0.0 .0,
            signature: vote.signature.to_bytes(),
        })
    }

    pub fn to_signed(&self) -> SignedVote<ZgContext> {
        let vote = Vote {
            height: Height(self.height),
            round: Round::new(self.round),
            value: self.value.map(|v| NilOrVal::Val(B256::from(v))).unwrap_or(NilOrVal::Nil),
            vote_type: if self.precommit { VoteType::Precommit } else { VoteType::Prevote },
            validator: ValidatorAddress(Address::from(self.validator)),
        };
        SignedMessage::new(vote, Signature::from_bytes(self.signature))
    }
}

impl WireProposal {
    pub fn from_signed(proposal: &SignedProposal<ZgContext>) -> Result<Self, WireError> {
        Ok(Self {
            height: proposal.message.height.0,
            round: wire_round(proposal.message.round)?,
            value: proposal.message.value.0.0,
            pol_round: proposal.message.pol_round.as_u32(),
            proposer: proposal.message.proposer.0.0 .0,
            signature: proposal.signature.to_bytes(),
        })
    }

    pub fn to_signed(&self) -> SignedProposal<ZgContext> {
        let proposal = Proposal {
            height: Height(self.height),
            round: Round::new(self.round),
            value: BlockValue(B256::from(self.value)),
            pol_round: self.pol_round.map(Round::new).unwrap_or(Round::Nil),
            proposer: ValidatorAddress(Address::from(self.proposer)),
        };
        SignedMessage::new(proposal, Signature::from_bytes(self.signature))
    }
}

impl WireCertificate {
    pub fn from_certificate(certificate: &CommitCertificate<ZgContext>) -> Result<Self, WireError> {
        Ok(Self {
            height: certificate.height.0,
            round: wire_round(certificate.round)?,
            value: certificate.value_id.0,
            signatures: certificate
                .commit_signatures
                .iter()
                .map(|s| (s.address.0.0 .0, s.signature.to_bytes()))
                .collect(),
        })
    }

    pub fn to_certificate(&self) -> CommitCertificate<ZgContext> {
        CommitCertificate {
            height: Height(self.height),
            round: Round::new(self.round),
            value_id: B256::from(self.value),
            commit_signatures: self
                .signatures
                .iter()
                .map(|(address, signature)| {
                    CommitSignature::new(ValidatorAddress(Address::from(*address)), Signature::from_bytes(*signature))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block() -> OrderedBlock {
        OrderedBlock {
            height: 5,
            round: 1,
            timestamp_ms: 1_700_000_000_000,
            proposer: [7; 20],
            parent_hash: [9; 32],
            transactions: vec![vec![1, 2, 3], vec![]],
            evidence: vec![],
        }
    }

    #[test]
    fn frames_round_trip() {
        let vote = WireVote { height: 3, round: 0, precommit: true, value: Some([1; 32]), validator: [2; 20], signature: [3; 64] };
        for message in [
            NetMessage::Status { genesis: [1; 32], height: 9 },
            NetMessage::Vote(vote.clone()),
            NetMessage::Block(SignedBlock { block: block(), signature: [4; 64] }),
            NetMessage::SyncRequest { from: 1, to: 10 },
        ] {
            let frame = encode_frame(&message).unwrap();
            let length = u32::from_be_bytes(frame[..4].try_into().unwrap());
            assert_eq!(check_frame_length(length).unwrap(), frame.len() - 4);
            assert_eq!(decode_body(&frame[4..]).unwrap(), message);
        }
        assert_eq!(WireVote::from_signed(&vote.to_signed()).unwrap(), vote);
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(check_frame_length(MAX_MESSAGE_BYTES as u32 + 1), Err(WireError::TooLarge(MAX_MESSAGE_BYTES + 1)));
        assert_eq!(check_frame_length(0), Err(WireError::Empty));
        assert_eq!(decode_body(&[]), Err(WireError::Empty));
        assert_eq!(decode_body(&[9, 0]), Err(WireError::Version(9)));
        let mut body = encode_body(&NetMessage::SyncRequest { from: 1, to: 2 });
        body.push(0);
        assert!(matches!(decode_body(&body), Err(WireError::Malformed(_))), "trailing bytes");
        // A vector claiming four billion entries in a tiny frame.
        assert!(matches!(decode_body(&[WIRE_VERSION, 1, 0xff, 0xff, 0xff, 0xff]), Err(WireError::Malformed(_))));
    }

    #[test]
    fn the_block_hash_covers_every_field() {
        let base = block().hash();
        let mut other = block();
        other.transactions[1].push(0);
        assert_ne!(other.hash(), base);
        let mut other = block();
        other.timestamp_ms += 1;
        assert_ne!(other.hash(), base);
    }

    #[test]
    fn a_body_signature_binds_the_chain_and_every_field() {
        let key = malachite_ed25519::PrivateKey::from([3; 32]);
        let body = block();
        let signature = key.sign(&SignedBlock::sign_bytes(7, body.hash())).to_bytes();
        let signed = SignedBlock { block: body.clone(), signature };
        assert!(signed.verify(7, &key.public_key()));
        assert!(!signed.verify(8, &key.public_key()), "another chain");
        assert!(!signed.verify(7, &malachite_ed25519::PrivateKey::from([4; 32]).public_key()), "another key");
        let mut altered = signed.clone();
        altered.block.timestamp_ms += 1;
        assert!(!altered.verify(7, &key.public_key()), "another body");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_body(&bytes);
            let mut versioned = vec![WIRE_VERSION];
            versioned.extend_from_slice(&bytes);
            let _ = decode_body(&versioned);
        }
    }
}
