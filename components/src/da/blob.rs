//! Blobs as the DA domain tracks them: one entity per data root the DA entrance registered, with
//! the status the chain's events and height give it, and the view the RPC and gRPC services read.

use alloy_primitives::B256;
use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// 0G's `BlobStatus` (disperser.proto), with its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlobStatus {
    Unknown = 0,
    /// Registered on chain (or accepted by this disperser), not yet attested.
    Processing = 1,
    /// Attested by at least 2/3 of the quorum's votes, on chain.
    Confirmed = 2,
    /// Proven badly encoded (or this disperser could not register it).
    Failed = 3,
    /// Confirmed and the fraud-proof window passed with no proof.
    Finalized = 4,
    /// Not attested within the attestation window.
    InsufficientSignatures = 5,
}

impl BlobStatus {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Unknown,
            1 => Self::Processing,
            2 => Self::Confirmed,
            3 => Self::Failed,
            4 => Self::Finalized,
            5 => Self::InsufficientSignatures,
            _ => return None,
        })
    }

    /// The name disperser.proto gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Processing => "PROCESSING",
            Self::Confirmed => "CONFIRMED",
            Self::Failed => "FAILED",
            Self::Finalized => "FINALIZED",
            Self::InsufficientSignatures => "INSUFFICIENT_SIGNATURES",
        }
    }

    /// No later event changes it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Failed | Self::Finalized | Self::InsufficientSignatures)
    }
}

/// A blob registered with the DA entrance.
#[derive(Component, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaBlob {
    pub data_root: B256,
    pub submitter: [u8; 20],
    pub epoch: u64,
    pub quorum: u64,
    /// The block that registered it.
    pub uploaded_at: u64,
    /// The block that confirmed it.
    pub confirmed_at: Option<u64>,
    pub status: BlobStatus,
}

/// Where this node's own dispersal of a blob stands, beside what the chain says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispersalPhase {
    /// Accepted before a restart and not yet resumed.
    Resuming,
    /// Registering the blob with the entrance (paying its fee).
    Registering,
    /// Sending pieces and collecting attestations.
    Dispersing,
    /// Attestations submitted; the chain's events take it from here.
    Submitted,
    /// Gave up: `detail` is the error of the step that failed.
    Failed { detail: String },
    /// Stopped short of 2/3 of the slots' attestations: `detail` says how short.
    Insufficient { detail: String },
}

impl DispersalPhase {
    /// Still under way here (a second submission of the blob joins it).
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Resuming | Self::Registering | Self::Dispersing | Self::Submitted)
    }
}

/// A blob's status as the DA API reports it (`da_getBlobStatus`, the disperser's
/// `GetBlobStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobReport {
    pub data_root: B256,
    pub status: BlobStatus,
    pub epoch: u64,
    pub quorum: u64,
    /// The block that registered it, once registered.
    pub uploaded_at: Option<u64>,
    /// The block that confirmed it, once confirmed.
    pub confirmed_at: Option<u64>,
    /// Why it failed or stalled, or the step it is at, when this node knows.
    pub detail: Option<String>,
}

/// The DA entrance's windows, from genesis: what turns a status by height alone.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaWindows {
    pub fraud_window_blocks: u64,
    pub attest_timeout_blocks: u64,
}

/// Data root -> its blob entity.
#[derive(Resource, Default, Debug)]
pub struct DaIndex(pub HashMap<B256, Entity>);

/// This node's own dispersal of a blob, on the blob's entity: there from the submission on
/// (before the chain has a record of the blob, the entity carries this alone), its phase set
/// by the dispersal as it goes ([`DispersalReports`]).
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct LocalDispersal {
    pub data_root: B256,
    pub phase: DispersalPhase,
}

/// Phase changes the dispersal (outside the world) reports to the DA systems.
#[derive(Resource)]
pub struct DispersalReports(pub crossbeam_channel::Receiver<(B256, DispersalPhase)>);

/// What the DA services read about blobs, written by the DA systems each tick they change: the
/// chain's record of each blob, and this node's dispersal phase of those it disperses.
#[derive(Resource, Clone, Default, Debug)]
pub struct DaView {
    pub blobs: Arc<RwLock<HashMap<B256, DaBlob>>>,
    pub phases: Arc<RwLock<HashMap<B256, DispersalPhase>>>,
}

impl DaView {
    pub fn get(&self, data_root: &B256) -> Option<DaBlob> {
        self.blobs.read().ok()?.get(data_root).cloned()
    }

    /// Where this node's own dispersal of the blob stands, if it disperses it.
    pub fn phase(&self, data_root: &B256) -> Option<DispersalPhase> {
        self.phases.read().ok()?.get(data_root).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_0g_numbers_and_names() {
        for code in 0..=5u64 {
            let status = BlobStatus::from_code(code).unwrap();
            assert_eq!(status.code() as u64, code);
        }
        assert_eq!(BlobStatus::from_code(6), None);
        assert_eq!(BlobStatus::InsufficientSignatures.name(), "INSUFFICIENT_SIGNATURES");
        assert!(BlobStatus::Finalized.is_final() && !BlobStatus::Confirmed.is_final());
    }
}
