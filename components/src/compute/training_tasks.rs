//! Fine-tuning tasks as entities of the provider's tick: a task the provider admitted (or found
//! in its store at start-up) arrives as a [`TaskReport`], becomes an entity with a
//! [`TrainingTask`] and its [`TaskPhase`], and is handed out one step at a time — training to
//! the trainer, delivery and settlement to the deliverer — through [`TaskOrders`]. While a
//! worker holds it the entity carries [`TaskWorking`]; the worker reports the phase it reached
//! and lets go, and a step that must wait (the chain, the user) comes back after
//! [`TaskPolling::wait_ms`].

use std::collections::HashMap;

use alloy_primitives::{Address, B256};
use bevy_ecs::prelude::*;

use super::fine_tuning::TaskProgress;

#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct TrainingTask {
    pub id: String,
    pub user: Address,
    /// Unix seconds: the queue's order (oldest first, then by id).
    pub created_at: u64,
}

#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskPhase(pub TaskProgress);

/// The deliverable's root on 0G storage, once recorded on chain.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDeliverable(pub B256);

/// A worker holds the task: nothing else is ordered for it until the worker lets go.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct TaskWorking;

/// Nothing is ordered for the task before this time (ms since the Unix epoch).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskWaitsUntil(pub u64);

/// What the provider's side tells the tick about a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskReport {
    /// Admitted, or restored from the store at start-up with the phase it had.
    Known { task: TrainingTask, phase: TaskProgress, deliverable: Option<B256> },
    /// Its record moved to `phase` (written before this report).
    Moved { id: String, phase: TaskProgress, deliverable: Option<B256> },
    /// The worker that held it is done with this turn; `wait` when the step has to be tried
    /// again later (a failure, or a user who has not acknowledged yet).
    Released { id: String, wait: bool },
}

/// A step of a task, ordered from the tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOrder {
    /// Set up and train (or resume training from the last checkpoint).
    Train(String),
    /// Encrypt, upload and record the deliverable on chain.
    Deliver(String),
    /// Settle once the user acknowledged, or once the lock time passed.
    Settle(String),
}

impl TaskOrder {
    pub fn task_id(&self) -> &str {
        match self {
            Self::Train(id) | Self::Deliver(id) | Self::Settle(id) => id,
        }
    }
}

/// Where reports come in.
#[derive(Resource)]
pub struct TaskReports(pub crossbeam_channel::Receiver<TaskReport>);

/// Where orders go: training to the trainer (one task at a time), the rest to the deliverer.
#[derive(Resource, Clone)]
pub struct TaskOrders {
    pub training: crossbeam_channel::Sender<TaskOrder>,
    pub delivery: crossbeam_channel::Sender<TaskOrder>,
}

/// Task ids to their entities.
#[derive(Resource, Default, Debug)]
pub struct TaskIndex(pub HashMap<String, Entity>);

/// How long a step that has to wait waits (the provider's `poll_secs`).
#[derive(Resource, Clone, Copy, Debug)]
pub struct TaskPolling {
    pub wait_ms: u64,
}

/// Tasks by phase, counted at the end of each tick (what metrics and status pages read).
#[derive(Resource, Default, Debug, Clone, PartialEq, Eq)]
pub struct TaskBoard {
    pub by_phase: Vec<(TaskProgress, usize)>,
    /// Tasks a worker holds now.
    pub working: usize,
    /// Orders sent since start.
    pub ordered: u64,
}
