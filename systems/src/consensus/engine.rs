//! Malachite's Tendermint engine as a resource, and the effect handler that carries out what it
//! asks for: sign, verify, log to the WAL, broadcast, time out, decide.
//!
//! The engine runs synchronously inside a tick: `process` feeds one input and answers every
//! effect on the spot. What the effects produce (messages, timers, a decision, a request for a
//! value) lands in [`Effects`] for the calling system to act on after the engine returns.

use alloy_primitives::B256;
use malachite_consensus::{
    Effect, Input, LivenessMsg, Params, ProposedValue, Resumable, Resume, SignedConsensusMsg, State,
    ThresholdParams, ValuePayload,
};
use malachite_ed25519::PrivateKey;
use malachite_types::{
    CommitCertificate, LinearTimeouts, Round, SignedMessage, Timeout, VoteExtensionPolicy,
};
use std::sync::Arc;

use zg_components::consensus::{
    DoubleSignEvidence, Height, NetMessage, PeerKey, ProposedValueRecord, ValidatorAddress, ValidatorSet,
    WalEntry, WireProposal, WireVote, ZgContext,
};

use super::verify;
use crate::chain::io::PersistError;

pub use crate::ports::{ConsensusWal, SignGuard, SignRefusal, SignStep};

/// A WAL that keeps nothing, for a node that does not vote.
pub struct NoWal;

impl ConsensusWal for NoWal {
    fn append(&self, _: u64, _: &[u8], _: bool) -> Result<(), PersistError> {
        Ok(())
    }

    fn entries(&self, _: u64) -> Result<Vec<Vec<u8>>, PersistError> {
        Ok(Vec::new())
    }
}


/// A guard that allows everything: for nodes and tests that keep no key state.
pub struct NoGuard;

impl SignGuard for NoGuard {
    fn permit(&self, _: u64, _: u32, _: SignStep, _: &[u8]) -> Result<(), SignRefusal> {
        Ok(())
    }
}

/// How long each step may take; see [`LinearTimeouts`].
pub fn default_timeouts() -> LinearTimeouts {
    use std::time::Duration;
    LinearTimeouts {
        propose: Duration::from_millis(1500),
        propose_delta: Duration::from_millis(500),
        prevote: Duration::from_millis(500),
        prevote_delta: Duration::from_millis(250),
        precommit: Duration::from_millis(500),
        precommit_delta: Duration::from_millis(250),
        rebroadcast: Duration::from_millis(2500),
        max_timeout: Duration::from_secs(30),
    }
}

/// What one `process` call asks the node to do.
#[derive(Default)]
pub struct Effects {
    pub messages: Vec<(Option<PeerKey>, NetMessage)>,
    pub schedule: Vec<Timeout>,
    pub cancel: Vec<Timeout>,
    pub cancel_all: bool,
    /// The engine wants a value to propose at this height and round.
    pub get_value: Option<(Height, Round)>,
    /// Bodies to send again (the engine re-proposes a locked value).
    pub restream: Vec<B256>,
    pub decided: Option<CommitCertificate<ZgContext>>,
    pub evidence: Vec<DoubleSignEvidence>,
    /// The WAL could not be written: nothing this call produced may leave the node.
    pub wal_failure: Option<PersistError>,
    pub rounds: Vec<(Height, Round, ValidatorAddress)>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("consensus: {0}")]
    Consensus(String),
    #[error("refused to sign: {0}")]
    SignRefused(#[from] SignRefusal),
}

/// The Tendermint state of this validator and what it needs to act.
pub struct Engine {
    pub state: State<ZgContext>,
    pub chain_id: u64,
    key: PrivateKey,
    address: ValidatorAddress,
    wal: Arc<dyn ConsensusWal>,
    guard: Arc<dyn SignGuard>,
    replaying: bool,
    started: bool,
}

impl Engine {
    pub fn new(chain_id: u64, key: PrivateKey, height: Height, set: ValidatorSet, wal: Arc<dyn ConsensusWal>) -> Self {
        let address = ValidatorAddress::from_public_key(&key.public_key());
        let params = Params {
            address,
            threshold_params: ThresholdParams::default(),
            value_payload: ValuePayload::ProposalAndParts,
            enabled: true,
        };
        let state = State::new(ZgContext { chain_id }, height, set, params, 1024, 256);
        Self { state, chain_id, key, address, wal, guard: Arc::new(NoGuard), replaying: false, started: false }
    }

    /// Checks every signature against `guard` first.
    pub fn with_sign_guard(mut self, guard: Arc<dyn SignGuard>) -> Self {
        self.guard = guard;
        self
    }

    pub fn address(&self) -> ValidatorAddress {
        self.address
    }

    pub fn height(&self) -> Height {
        self.state.height()
    }

    pub fn round(&self) -> Round {
        self.state.round()
    }

    /// Whether a height was started since this engine was created.
    pub fn started(&self) -> bool {
        self.started
    }

    pub fn wal(&self) -> &Arc<dyn ConsensusWal> {
        &self.wal
    }

    /// Signs a body this validator proposes, so peers can tell it from a forged one.
    pub fn sign_body(&self, block: zg_components::consensus::OrderedBlock) -> zg_components::consensus::SignedBlock {
        let bytes = zg_components::consensus::SignedBlock::sign_bytes(self.chain_id, block.hash());
        zg_components::consensus::SignedBlock { block, signature: self.key.sign(&bytes).to_bytes() }
    }

    /// Feeds one input; effects are answered inline and collected.
    pub fn process(&mut self, input: Input<ZgContext>, effects: &mut Effects) -> Result<(), EngineError> {
        let mut handler = Handler {
            chain_id: self.chain_id,
            key: &self.key,
            address: self.address,
            wal: self.wal.as_ref(),
            guard: self.guard.as_ref(),
            replaying: self.replaying,
            effects,
        };
        let metrics = ();
        malachite_consensus::process!(
            input: input,
            state: &mut self.state,
            metrics: &metrics,
            with: effect => handler.handle(effect)
        )
        .map_err(|e: malachite_consensus::Error<ZgContext>| EngineError::Consensus(e.to_string()))
    }

    /// Starts `height`, replaying what the WAL holds for it (a restart mid-height).
    pub fn start_height(&mut self, height: Height, set: ValidatorSet, effects: &mut Effects) -> Result<usize, EngineError> {
        let logged = self.wal.entries(height.0).map_err(|e| EngineError::Consensus(e.to_string()))?;
        let inputs: Vec<Input<ZgContext>> = logged.iter().filter_map(|bytes| decode_wal_input(bytes)).collect();
        let restart = !inputs.is_empty();
        self.started = true;
        self.process(Input::StartHeight(height, set, restart, None, VoteExtensionPolicy::Disabled), effects)?;
        if restart {
            self.state.index_wal_entries(inputs.iter());
            self.replaying = true;
            for input in inputs.iter().cloned() {
                if let Err(error) = self.process(input, effects) {
                    tracing::warn!(%error, "replaying a WAL entry failed");
                }
            }
            self.replaying = false;
            self.state.reset_entries_index();
        }
        Ok(inputs.len())
    }
}

/// Turns a logged entry back into the input it was.
pub fn decode_wal_input(bytes: &[u8]) -> Option<Input<ZgContext>> {
    match WalEntry::decode(bytes).ok()? {
        WalEntry::Vote(vote) => Some(Input::Vote(vote.to_signed())),
        WalEntry::Proposal(proposal) => Some(Input::Proposal(proposal.to_signed())),
        entry @ WalEntry::ProposedValue { .. } => {
            let record = entry.to_proposed_value()?;
            Some(Input::ProposedValue(
                ProposedValue {
                    height: record.height,
                    round: record.round,
                    valid_round: record.valid_round,
                    proposer: record.proposer,
                    value: record.value,
                    validity: record.validity,
                },
                record.origin,
            ))
        }
        WalEntry::Timeout { kind, round } => WalEntry::to_timeout(kind, round).map(Input::TimeoutElapsed),
    }
}

/// The entry an input is logged as, and whether it must be durable before anything is sent.
fn wal_entry(input: &Input<ZgContext>, own: ValidatorAddress) -> Option<(WalEntry, bool)> {
    match input {
        Input::Vote(vote) => Some((WalEntry::Vote(WireVote::from_signed(vote).ok()?), vote.message.validator == own)),
        Input::Proposal(proposal) => {
            Some((WalEntry::Proposal(WireProposal::from_signed(proposal).ok()?), proposal.message.proposer == own))
        }
        Input::ProposedValue(value, origin) => {
            let record = ProposedValueRecord {
                height: value.height,
                round: value.round,
                valid_round: value.valid_round,
                proposer: value.proposer,
                value: value.value,
                validity: value.validity,
                origin: *origin,
            };
            Some((WalEntry::proposed_value(&record)?, value.proposer == own))
        }
        Input::TimeoutElapsed(timeout) => Some((WalEntry::timeout(timeout)?, false)),
        _ => None,
    }
}

struct Handler<'a> {
    chain_id: u64,
    key: &'a PrivateKey,
    address: ValidatorAddress,
    wal: &'a dyn ConsensusWal,
    guard: &'a dyn SignGuard,
    replaying: bool,
    effects: &'a mut Effects,
}

impl Handler<'_> {
    /// Asks the guard before signing; a refusal aborts the input (nothing is signed or sent).
    fn guarded(&self, height: u64, round: Round, step: SignStep, bytes: &[u8]) -> Result<(), EngineError> {
        let round = round.as_u32().ok_or(EngineError::SignRefused(SignRefusal::NilRound))?;
        self.guard.permit(height, round, step, bytes).map_err(|reason| {
            tracing::warn!(height, round, ?step, %reason, "refusing to sign");
            EngineError::SignRefused(reason)
        })
    }

    fn publish(&mut self, message: NetMessage) {
        self.effects.messages.push((None, message));
    }

    fn publish_vote(&mut self, vote: &malachite_types::SignedVote<ZgContext>) {
        if let Ok(vote) = WireVote::from_signed(vote) {
            self.publish(NetMessage::Vote(vote));
        }
    }

    /// A round certificate travels as the votes it is made of; peers rebuild it.
    fn publish_round_certificate(&mut self, certificate: &malachite_types::RoundCertificate<ZgContext>) {
        for signature in &certificate.round_signatures {
            let vote = zg_components::consensus::Vote {
                height: certificate.height,
                round: certificate.round,
                value: signature.value_id,
                vote_type: signature.vote_type,
                validator: signature.address,
            };
            self.publish_vote(&SignedMessage::new(vote, signature.signature));
        }
    }

    fn handle(&mut self, effect: Effect<ZgContext>) -> Result<Resume<ZgContext>, EngineError> {
        Ok(match effect {
            Effect::CancelAllTimeouts(r) => {
                self.effects.cancel_all = true;
                self.effects.schedule.clear();
                r.resume_with(())
            }
            Effect::CancelTimeout(timeout, r) => {
                self.effects.schedule.retain(|t| *t != timeout);
                self.effects.cancel.push(timeout);
                r.resume_with(())
            }
            Effect::ScheduleTimeout(timeout, r) => {
                self.effects.schedule.push(timeout);
                r.resume_with(())
            }
            Effect::StartRound(height, round, proposer, _role, r) => {
                self.effects.rounds.push((height, round, proposer));
                r.resume_with(())
            }
            Effect::PublishConsensusMsg(message, r) => {
                match message {
                    SignedConsensusMsg::Vote(vote) => self.publish_vote(&vote),
                    SignedConsensusMsg::Proposal(proposal) => {
                        if let Ok(proposal) = WireProposal::from_signed(&proposal) {
                            self.publish(NetMessage::Proposal(proposal));
                        }
                    }
                }
                r.resume_with(())
            }
            Effect::PublishLivenessMsg(message, r) => {
                // Certificates travel as the votes they are made of; peers rebuild them.
                match message {
                    LivenessMsg::Vote(vote) => self.publish_vote(&vote),
                    LivenessMsg::PolkaCertificate(certificate) => {
                        for signature in &certificate.polka_signatures {
                            let vote = zg_components::consensus::Vote {
                                height: certificate.height,
                                round: certificate.round,
                                value: malachite_types::NilOrVal::Val(certificate.value_id),
                                vote_type: malachite_types::VoteType::Prevote,
                                validator: signature.address,
                            };
                            self.publish_vote(&SignedMessage::new(vote, signature.signature));
                        }
                    }
                    LivenessMsg::SkipRoundCertificate(certificate) => self.publish_round_certificate(&certificate),
                }
                r.resume_with(())
            }
            Effect::RepublishVote(vote, r) => {
                self.publish_vote(&vote);
                r.resume_with(())
            }
            Effect::RepublishRoundCertificate(certificate, r) => {
                self.publish_round_certificate(&certificate);
                r.resume_with(())
            }
            Effect::GetValue(height, round, _timeout, r) => {
                self.effects.get_value = Some((height, round));
                r.resume_with(())
            }
            Effect::RestreamProposal(_, _, _, _, value_id, r) => {
                self.effects.restream.push(value_id);
                r.resume_with(())
            }
            Effect::CertVerifiedSyncValue(_, _, r) | Effect::CertRejectedSyncValue(_, _, _, r) => r.resume_with(()),
            Effect::Decide(certificate, _, r) => {
                self.effects.decided = Some(certificate);
                r.resume_with(())
            }
            Effect::Finalize(certificate, _, evidence, r) => {
                if self.effects.decided.is_none() {
                    self.effects.decided = Some(certificate);
                }
                for (_, pairs) in evidence.votes.iter() {
                    for (first, second) in pairs {
                        if let (Ok(first), Ok(second)) = (WireVote::from_signed(first), WireVote::from_signed(second)) {
                            self.effects.evidence.push(DoubleSignEvidence { first, second });
                        }
                    }
                }
                r.resume_with(())
            }
            Effect::SignVote(vote, r) => {
                let bytes = vote.sign_bytes(self.chain_id);
                let step = if vote.vote_type == malachite_types::VoteType::Precommit { SignStep::Precommit } else { SignStep::Prevote };
                self.guarded(vote.height.0, vote.round, step, &bytes)?;
                let signature = self.key.sign(&bytes);
                r.resume_with(SignedMessage::new(vote, signature))
            }
            Effect::SignProposal(proposal, r) => {
                let bytes = proposal.sign_bytes(self.chain_id);
                self.guarded(proposal.height.0, proposal.round, SignStep::Proposal, &bytes)?;
                let signature = self.key.sign(&bytes);
                r.resume_with(SignedMessage::new(proposal, signature))
            }
            Effect::VerifySignature(message, public_key, r) => {
                let bytes = match &message.message {
                    malachite_consensus::ConsensusMsg::Vote(vote) => vote.sign_bytes(self.chain_id).to_vec(),
                    malachite_consensus::ConsensusMsg::Proposal(proposal) => proposal.sign_bytes(self.chain_id),
                };
                r.resume_with(public_key.verify(&bytes, &message.signature).is_ok())
            }
            Effect::VerifyCommitCertificate(certificate, set, thresholds, r) => {
                r.resume_with(verify::commit_certificate(self.chain_id, &certificate, &set, thresholds))
            }
            Effect::VerifyExtendedCommitCertificate(certificate, set, thresholds, _, r) => {
                let certificate = certificate.trim_vote_extensions();
                r.resume_with(verify::commit_certificate(self.chain_id, &certificate, &set, thresholds))
            }
            Effect::VerifyPolkaCertificate(certificate, set, thresholds, r) => {
                r.resume_with(verify::polka_certificate(self.chain_id, &certificate, &set, thresholds))
            }
            Effect::VerifyRoundCertificate(certificate, set, thresholds, r) => {
                r.resume_with(verify::round_certificate(self.chain_id, &certificate, &set, thresholds))
            }
            Effect::WalAppend(height, input, r) => {
                if !self.replaying
                    && self.effects.wal_failure.is_none()
                    && let Some((entry, durable)) = wal_entry(&input, self.address)
                    && let Err(error) = self.wal.append(height.0, &entry.encode(), durable)
                {
                    self.effects.wal_failure = Some(error);
                }
                r.resume_with(())
            }
            Effect::ExtendVote(_, _, _, _, r) => r.resume_with(None),
            Effect::VerifyVoteExtension(_, _, _, _, _, _, r) => r.resume_with(Ok(())),
        })
    }
}
