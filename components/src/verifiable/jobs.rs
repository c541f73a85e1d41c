//! Proof jobs as entities: a request to prove one inference arrives through [`ProofInbox`],
//! becomes an entity with a [`ProofJob`], is proved off the tick on the rayon pool while the
//! entity carries [`ProofRunning`], and ends as a [`ProofOutcome`] sent back to whoever asked.

use bevy_ecs::prelude::*;

/// Which registered proving keys a job uses (the registry's model id).
pub type ModelId = [u8; 32];

/// A finished proof: the bytes, its public inputs (canonical big-endian field elements: the
/// input commitment, then the logits) and the logits as integers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvedInference {
    pub proof: Vec<u8>,
    pub public: Vec<[u8; 32]>,
    pub logits: Vec<i64>,
    pub prove_micros: u64,
}

pub type ProofOutcome = Result<ProvedInference, ProofError>;

/// Why a proof job ended without a proof.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The model's proving keys are not made (yet): it is not registered, or still warming.
    #[error("no proving keys for this model (yet)")]
    NoKeys,
    /// The prover refused the input or the circuit failed (its own message).
    #[error("proving failed: {0}")]
    Prover(String),
    /// The proving task panicked (a bug; the node goes on).
    #[error("the prover panicked")]
    Panicked,
    /// The node's prover is gone (the node is stopping).
    #[error("the prover has stopped")]
    Stopped,
}

/// One request to prove: the model's id, the private input, where the outcome goes.
#[derive(Debug)]
pub struct ProofRequest {
    pub model: ModelId,
    pub input: Vec<i8>,
    pub reply: crossbeam_channel::Sender<ProofOutcome>,
}

#[derive(Component, Debug)]
pub struct ProofJob {
    pub model: ModelId,
    pub input: Vec<i8>,
    pub reply: crossbeam_channel::Sender<ProofOutcome>,
    /// The tick it arrived in (to see how many ticks went by while it was proved).
    pub arrived_tick: u64,
}

/// Handed to the rayon pool; the outcome comes back through [`ProofResults`].
#[derive(Component, Debug, Default)]
pub struct ProofRunning;

/// Where proof requests come in (the sending half is the prover's handle).
#[derive(Resource, Debug)]
pub struct ProofInbox(pub crossbeam_channel::Receiver<ProofRequest>);

/// Finished proofs on their way back from the pool to their job entities.
#[derive(Resource, Debug)]
pub struct ProofResults {
    pub sender: crossbeam_channel::Sender<(Entity, ProofOutcome)>,
    pub receiver: crossbeam_channel::Receiver<(Entity, ProofOutcome)>,
}

impl Default for ProofResults {
    fn default() -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Self { sender, receiver }
    }
}

/// Counters the metrics and tests read.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProofStats {
    pub admitted: u64,
    pub proved: u64,
    pub failed: u64,
    pub in_flight: u64,
    /// Ticks that ran while at least one proof was in flight.
    pub ticks_while_proving: u64,
}

/// [`ProofStats`] as of the last tick, for the I/O side (the status page): the proving
/// systems copy the resource here when it changed; nothing else writes it.
#[derive(Resource, Debug, Default, Clone)]
pub struct ProofStatsView(pub std::sync::Arc<std::sync::RwLock<ProofStats>>);

impl ProofStatsView {
    pub fn read(&self) -> ProofStats {
        *self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
