//! A validator's signing record, for its status page (`zgnode_status`, section "validator"): of
//! the last [`WINDOW`] decided blocks, how many carry this validator's precommit in their
//! commit certificate and how many it proposed. Read from the certificates the node keeps for
//! peers that sync (the `decided` table): the chain's own evidence, not a count kept beside it.
//! Each block is read once; a later read only decodes the blocks decided since.

use std::collections::BTreeMap;
use std::sync::Mutex;

use alloy_primitives::Address;
use serde_json::{Value, json};
use zg_components::consensus::wire::DecidedBlock;

use crate::store::{ChainStore, StoreError};

/// Decided blocks the record looks back over.
pub const WINDOW: u64 = 100;
/// Most bytes of decided blocks one read decodes (a busy chain's blocks are large); the rest
/// is read on the next.
const READ_BYTES: usize = 16 << 20;

/// What this validator did at one decided height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AtHeight {
    signed: bool,
    proposed: bool,
}

/// The record over the window, as the page shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningRecord {
    /// Decided blocks in the window this node has certificates for.
    pub decided: u64,
    pub signed: u64,
    pub proposed: u64,
    pub last_signed: Option<u64>,
    /// Decided blocks since the last one it signed (all of them if none).
    pub missed_since_last_signed: u64,
}

/// Reads `validator`'s record from `store`, remembering what it already read.
pub struct SigningRecordReader {
    store: ChainStore,
    validator: Address,
    seen: Mutex<BTreeMap<u64, AtHeight>>,
}

impl SigningRecordReader {
    pub fn new(store: ChainStore, validator: Address) -> Self {
        Self { store, validator, seen: Mutex::new(BTreeMap::new()) }
    }

    /// The record over the last [`WINDOW`] decided blocks, now.
    pub fn read(&self) -> Result<SigningRecord, StoreError> {
        let Some(head) = self.store.head_number()? else { return Ok(SigningRecord::default()) };
        let from = head.saturating_sub(WINDOW - 1).max(1);
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.retain(|height, _| (from..=head).contains(height));
        let next = seen.last_key_value().map_or(from, |(height, _)| height + 1).max(from);
        if next <= head {
            for decided in self.store.decided_blocks(next, head, READ_BYTES)? {
                seen.insert(decided.block.height, at_height(&decided, self.validator));
            }
        }
        Ok(record_of(&seen))
    }

    /// The section `zgnode_status` shows.
    pub fn section(&self) -> Value {
        match self.read() {
            Ok(record) => json!({
                "consensusAddress": self.validator,
                "signedLastBlocks": format!("{} of {}", record.signed, record.decided),
                "proposedLastBlocks": record.proposed,
                "lastSigned": record.last_signed,
                "missedSinceLastSigned": record.missed_since_last_signed,
            }),
            Err(error) => json!({"consensusAddress": self.validator, "error": error.to_string()}),
        }
    }
}

fn at_height(decided: &DecidedBlock, validator: Address) -> AtHeight {
    AtHeight {
        signed: decided.certificate.signatures.iter().any(|(signer, _)| *signer == validator.0.0),
        proposed: decided.block.proposer == validator.0.0,
    }
}

fn record_of(seen: &BTreeMap<u64, AtHeight>) -> SigningRecord {
    let last_signed = seen.iter().rev().find(|(_, at)| at.signed).map(|(height, _)| *height);
    SigningRecord {
        decided: seen.len() as u64,
        signed: seen.values().filter(|at| at.signed).count() as u64,
        proposed: seen.values().filter(|at| at.proposed).count() as u64,
        last_signed,
        missed_since_last_signed: match last_signed {
            Some(height) => seen.range(height + 1..).count() as u64,
            None => seen.len() as u64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heights(pattern: &[(u64, bool, bool)]) -> BTreeMap<u64, AtHeight> {
        pattern.iter().map(|&(height, signed, proposed)| (height, AtHeight { signed, proposed })).collect()
    }

    #[test]
    fn the_record_counts_signatures_proposals_and_the_run_of_misses() {
        let record = record_of(&heights(&[(5, true, false), (6, true, true), (7, false, false), (8, false, true)]));
        assert_eq!(record, SigningRecord { decided: 4, signed: 2, proposed: 2, last_signed: Some(6), missed_since_last_signed: 2 });
        let never = record_of(&heights(&[(1, false, false), (2, false, false)]));
        assert_eq!(never.last_signed, None);
        assert_eq!(never.missed_since_last_signed, 2, "a validator that never signed missed every block");
        assert_eq!(record_of(&BTreeMap::new()), SigningRecord::default());
    }

    #[test]
    fn a_signature_counts_only_for_its_own_signer() {
        use zg_components::consensus::wire::{OrderedBlock, WireCertificate};
        let me = Address::repeat_byte(7);
        let block = OrderedBlock { height: 3, round: 0, timestamp_ms: 0, proposer: [9; 20], parent_hash: [0; 32], transactions: vec![], evidence: vec![] };
        let certificate = WireCertificate { height: 3, round: 0, value: [0; 32], signatures: vec![([9; 20], [0; 64])] };
        let others = DecidedBlock { block: block.clone(), certificate: certificate.clone() };
        assert_eq!(at_height(&others, me), AtHeight { signed: false, proposed: false });
        let mine = DecidedBlock {
            block: OrderedBlock { proposer: [7; 20], ..block },
            certificate: WireCertificate { signatures: vec![([9; 20], [0; 64]), ([7; 20], [1; 64])], ..certificate },
        };
        assert_eq!(at_height(&mine, me), AtHeight { signed: true, proposed: true });
    }
}
