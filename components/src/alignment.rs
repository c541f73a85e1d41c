//! An alignment node's audits as entities of its own tick: each epoch the chain's seed draws
//! targets ([`AuditTarget`]) out of what the network holds ([`AuditUniverse`]); each becomes an
//! entity with an [`Audit`] and its [`AuditState`], is handed to the checker once
//! ([`AuditorOrder::Check`]), and comes back passed or failed ([`AuditorReport::Checked`]). When
//! every audit of a finished epoch is judged, the tick orders that epoch's report
//! ([`AuditorOrder::Report`]) once; the reporter sends it on chain.

use alloy_primitives::{Address, B256};
use bevy_ecs::prelude::*;
use std::collections::BTreeMap;

/// One thing to check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuditTarget {
    /// Segment `segment` of a published file (submission `tx_seq`), fetched with its proof,
    /// signed, from the storage node that should hold it and checked against the file's
    /// on-chain root; a signed answer that does not verify is sent to the PoRA mine as evidence.
    StorageSegment { tx_seq: u64, root: B256, size: u64, segment: u64 },
    /// A confirmed DA blob, light-sampled.
    DaBlob { data_root: B256 },
    /// A verifiable-inference provider asked (as a paying user) to run its model on an input
    /// drawn from `input_seed`; its signed answer's proof is re-verified by the chain's
    /// registry, and a signed answer that fails is sent to the market as evidence.
    VerifiedResult { provider: Address, url: String, input_seed: B256 },
    /// A chat provider asked (as a paying user) a greedy completion of a prompt drawn from
    /// `prompt_seed`; its signed record's text is compared, by hash, with the same request
    /// re-run here on the same model.
    ChatRecord { provider: Address, model: String, prompt_seed: B256 },
}

impl AuditTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StorageSegment { .. } => "storage",
            Self::DaBlob { .. } => "da",
            Self::VerifiedResult { .. } => "compute",
            Self::ChatRecord { .. } => "chat",
        }
    }
}

/// A file the flow published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedFile {
    pub tx_seq: u64,
    pub root: B256,
    pub size: u64,
}

/// A staked, unslashed verifiable-inference provider and the URL it registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServingProvider {
    pub provider: Address,
    pub url: String,
}

/// A chat service on offer whose model the auditor can re-run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatService {
    pub provider: Address,
    pub model: String,
}

/// What an epoch's targets are drawn from: published files, confirmed blobs and serving
/// providers, in chain order (so every auditor with the same chain draws the same targets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditUniverse {
    pub files: Vec<PublishedFile>,
    pub blobs: Vec<B256>,
    pub providers: Vec<ServingProvider>,
    pub chat_services: Vec<ChatService>,
}

/// How many targets of each kind an epoch draws.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditQuota {
    pub storage_segments: usize,
    pub da_blobs: usize,
    /// Distinct verifiable providers asked (all of them when fewer serve).
    pub verified_requests: usize,
    /// Distinct chat providers whose answer is re-run (all of them when fewer serve).
    pub chat_records: usize,
}

#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub epoch: u64,
    /// Its place in the epoch's draw.
    pub index: usize,
    pub target: AuditTarget,
}

#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub enum AuditState {
    Drawn,
    Checking,
    Passed,
    Failed(String),
}

/// What the auditor's I/O side tells the tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditorReport {
    /// The chain reached `epoch` and its seed is known.
    EpochOpened { epoch: u64, seed: B256, universe: AuditUniverse },
    Checked { epoch: u64, index: usize, passed: bool, detail: String },
    /// The epoch's report is on chain (or could not be sent: `sent` false).
    Reported { epoch: u64, sent: bool },
}

/// What the tick asks of the I/O side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditorOrder {
    Check { epoch: u64, index: usize, target: AuditTarget },
    Report { epoch: u64, checked: u64, failed: u64, digest: B256 },
}

#[derive(Resource)]
pub struct AuditorReports(pub crossbeam_channel::Receiver<AuditorReport>);

#[derive(Resource, Clone)]
pub struct AuditorOrders(pub crossbeam_channel::Sender<AuditorOrder>);

/// The tick's view: the epoch the chain is in, the reports ordered, totals.
#[derive(Resource, Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditBoard {
    pub current_epoch: u64,
    /// Epochs this auditor saw open (only those are reported: an epoch it did not watch was not
    /// audited).
    pub opened: std::collections::BTreeSet<u64>,
    /// Epoch -> whether its report was ordered and, once known, sent.
    pub reports: BTreeMap<u64, ReportProgress>,
    pub checked: u64,
    pub failed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportProgress {
    Ordered,
    Sent,
    NotSent,
}
