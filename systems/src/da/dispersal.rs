//! A dispersal's decisions, with no I/O: what a disperser does next with a blob it accepted,
//! given what happened (inputs in, effects out). The node (`src/da/disperse.rs`) carries out
//! the effects (a registration transaction, pieces over QUIC, timers, the attestations'
//! transaction) and feeds back what came of them; everything it decides is here and tested
//! without tokio.
//!
//! The order: register the blob on the entrance (unless the chain has it) -> deliver each
//! quorum member its rows and columns and collect its attestation -> once signers holding 2/3
//! of the slots have signed, give the others a short grace, then submit the signatures ->
//! done. A deadline or too many refusals stop it short ("insufficient"); a failed transaction
//! stops it ("failed").

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use zg_components::consensus::PeerKey;
use zg_components::da::{Axis, DispersalPhase, SquareLayout};

use super::pieces::assignment;
use super::quorum::{slot_counts, threshold_met};

/// Once 2/3 of the slots have signed, how long the other members still get.
pub const STRAGGLER_GRACE: Duration = Duration::from_secs(2);

/// What happened, as the node saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispersalInput {
    /// The blob is registered on the entrance (now, or it was already), in `epoch`.
    Registered { epoch: u64 },
    /// Registering (or reading the entrance for it) failed.
    RegistrationFailed(String),
    /// A member kept its pieces and attested.
    Attested { member: PeerKey, signature: [u8; 64] },
    /// A member did not keep its pieces or would not attest.
    Refused { member: PeerKey, why: String },
    /// The attestation deadline passed with members still out.
    DeadlineReached,
    /// The stragglers' grace is over.
    GraceOver,
    /// The attestations' transaction was included and succeeded.
    SignaturesLanded,
    /// The attestations' transaction failed.
    SignaturesFailed(String),
}

/// What the node is to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DispersalEffect {
    /// Send the registration transaction (with the blob's k and the entrance's price).
    Register,
    /// Send each member its axes and ask for its attestation for `epoch`; the attestation
    /// deadline starts now.
    Deliver { epoch: u64, members: BTreeMap<PeerKey, BTreeSet<(Axis, usize)>> },
    /// Give the members still out this long, then report [`DispersalInput::GraceOver`].
    StartGrace(Duration),
    /// Stop waiting for the members still out.
    StopDeliveries,
    /// Send the attestations' transaction (signatures in key order); its outcome comes back as
    /// [`DispersalInput::SignaturesLanded`] or [`DispersalInput::SignaturesFailed`].
    SubmitSignatures { keys: Vec<PeerKey>, signatures: Vec<[u8; 64]> },
    /// The blob's phase here changed (what `da_getBlobStatus` reports until the chain knows more).
    Phase(DispersalPhase),
}

/// How far the attestations got: what the node records of the dispersal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub signed_slots: u64,
    pub total_slots: u64,
    pub members: usize,
}

/// One blob's dispersal.
#[derive(Clone, Debug)]
pub struct Dispersal {
    data_root: [u8; 32],
    layout: SquareLayout,
    /// The quorum: each signer's stake weight.
    signers: Vec<(PeerKey, u64)>,
    tokens_per_vote: u64,
    phase: DispersalPhase,
    /// Slots per signer, as the entrance counts them (`slotsOf`).
    slots: BTreeMap<PeerKey, u64>,
    total_slots: u64,
    /// Members delivered to that have not answered.
    out: BTreeSet<PeerKey>,
    signatures: BTreeMap<PeerKey, [u8; 64]>,
    refusals: Vec<String>,
    graced: bool,
    /// The attestations' transaction is out.
    submitting: bool,
    members: usize,
}

impl Dispersal {
    pub fn new(data_root: [u8; 32], layout: SquareLayout, signers: Vec<(PeerKey, u64)>, tokens_per_vote: u64) -> Self {
        let slots: BTreeMap<PeerKey, u64> = slot_counts(&signers, tokens_per_vote).into_iter().collect();
        let total_slots = slots.values().sum();
        Self {
            data_root,
            layout,
            signers,
            tokens_per_vote,
            phase: DispersalPhase::Registering,
            slots,
            total_slots,
            out: BTreeSet::new(),
            signatures: BTreeMap::new(),
            refusals: Vec::new(),
            graced: false,
            submitting: false,
            members: 0,
        }
    }

    /// The first effects: register, unless the chain has the blob already.
    pub fn start(&mut self, registered_in: Option<u64>) -> Vec<DispersalEffect> {
        let mut effects = vec![DispersalEffect::Phase(DispersalPhase::Registering)];
        match registered_in {
            Some(epoch) => effects.extend(self.step(DispersalInput::Registered { epoch })),
            None => effects.push(DispersalEffect::Register),
        }
        effects
    }

    /// The quorum it disperses to: each signer's key and stake.
    pub fn signers(&self) -> &[(PeerKey, u64)] {
        &self.signers
    }

    pub fn phase(&self) -> &DispersalPhase {
        &self.phase
    }

    /// Whether it ended (submitted, failed or insufficient): no input changes it any more.
    pub fn is_over(&self) -> bool {
        matches!(self.phase, DispersalPhase::Submitted | DispersalPhase::Failed { .. } | DispersalPhase::Insufficient { .. })
    }

    pub fn tally(&self) -> Tally {
        Tally { signed_slots: self.signed_slots(), total_slots: self.total_slots, members: self.members }
    }

    fn signed_slots(&self) -> u64 {
        self.signatures.keys().map(|key| self.slots.get(key).copied().unwrap_or(0)).sum()
    }

    fn threshold_met(&self) -> bool {
        threshold_met(self.total_slots as usize, self.signed_slots() as usize)
    }

    fn end(&mut self, phase: DispersalPhase) -> Vec<DispersalEffect> {
        self.phase = phase.clone();
        vec![DispersalEffect::Phase(phase)]
    }

    /// What to do after `input`. Inputs that do not fit the phase (a late answer, a second
    /// deadline) change nothing.
    pub fn step(&mut self, input: DispersalInput) -> Vec<DispersalEffect> {
        match (&self.phase, input) {
            (DispersalPhase::Registering, DispersalInput::Registered { epoch }) => {
                let members = assignment(&alloy_primitives::B256::from(self.data_root), &self.signers, self.tokens_per_vote, self.layout);
                self.members = members.len();
                self.out = members.keys().copied().collect();
                self.phase = DispersalPhase::Dispersing;
                let mut effects = vec![DispersalEffect::Phase(DispersalPhase::Dispersing), DispersalEffect::Deliver { epoch, members }];
                if self.out.is_empty() {
                    effects.extend(self.collected());
                }
                effects
            }
            (DispersalPhase::Registering, DispersalInput::RegistrationFailed(why)) => self.end(DispersalPhase::Failed { detail: why }),
            (DispersalPhase::Dispersing, DispersalInput::Attested { member, signature }) if !self.submitting && self.out.remove(&member) => {
                self.signatures.insert(member, signature);
                self.answered()
            }
            (DispersalPhase::Dispersing, DispersalInput::Refused { member, why }) if !self.submitting && self.out.remove(&member) => {
                self.refusals.push(format!("{}: {why}", hex_prefix(&member)));
                self.answered()
            }
            (DispersalPhase::Dispersing, DispersalInput::DeadlineReached) if !self.submitting && !self.graced => {
                self.refusals.push(format!("{} members did not answer in time", self.out.len()));
                self.out.clear();
                let mut effects = vec![DispersalEffect::StopDeliveries];
                effects.extend(self.collected());
                effects
            }
            (DispersalPhase::Dispersing, DispersalInput::GraceOver | DispersalInput::DeadlineReached) if !self.submitting && self.graced => {
                self.out.clear();
                let mut effects = vec![DispersalEffect::StopDeliveries];
                effects.extend(self.collected());
                effects
            }
            (DispersalPhase::Dispersing, DispersalInput::SignaturesLanded) if self.submitting => {
                self.submitting = false;
                self.end(DispersalPhase::Submitted)
            }
            (DispersalPhase::Dispersing, DispersalInput::SignaturesFailed(why)) if self.submitting => {
                self.submitting = false;
                self.end(DispersalPhase::Failed { detail: format!("submitting the attestations: {why}") })
            }
            _ => Vec::new(),
        }
    }

    /// A member answered: everyone in -> decide; 2/3 in for the first time -> a short grace.
    fn answered(&mut self) -> Vec<DispersalEffect> {
        if self.out.is_empty() {
            return self.collected();
        }
        if !self.graced && self.threshold_met() {
            self.graced = true;
            return vec![DispersalEffect::StartGrace(STRAGGLER_GRACE)];
        }
        Vec::new()
    }

    /// No more answers are waited for: submit the signatures, or stop short.
    fn collected(&mut self) -> Vec<DispersalEffect> {
        if !self.threshold_met() {
            let detail = format!("{} of {} slots attested; {}", self.signed_slots(), self.total_slots, self.refusals.join("; "));
            return self.end(DispersalPhase::Insufficient { detail });
        }
        self.submitting = true;
        vec![
            DispersalEffect::SubmitSignatures {
                keys: self.signatures.keys().copied().collect(),
                signatures: self.signatures.values().copied().collect(),
            },
        ]
    }
}

fn hex_prefix(key: &PeerKey) -> String {
    key[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "dispersal_tests.rs"]
mod tests;
