//! [`ZgNodePlugin`]: a zgnode dev chain inside a bevy `App` (feature `bevy`).
//!
//! # Two worlds, on purpose
//! The node keeps its own `World` and tick `Schedule`; the game's `App` never sees the node's
//! entities and the node never sees the game's. The plugin owns the node as a resource
//! ([`ChainNode`]) and one system, [`tick_chain`], runs the node's whole tick inside the game's
//! schedule (`PostUpdate` by default, after the game's own systems). Why not one world:
//! - the chain's state is consensus state: a game system with `Query<&mut Account>` could change
//!   a balance without a transaction, and the state root would no longer prove anything;
//! - the node's systems are ordered against each other (ingest → execute → persist → announce)
//!   and restored from disk at start; merged into the game's schedule, a game's system sets and
//!   entity ids would interleave with them and a restore would collide with the game's entities;
//! - the node can be moved to a [`super::RunningNode`] (its own thread) or another process later
//!   without touching the game's code: the game only talks to it through messages and the handle.
//!
//! What crosses between them, each frame:
//! - game → chain: [`ChainTx`] messages (a transaction from an unlocked dev account, tagged with
//!   the game entity it belongs to), or any call on the [`Chain`] handle;
//! - chain → game: [`ChainSubmitted`] (the pool's verdict on each `ChainTx`), [`ChainBlock`],
//!   [`ChainReceipt`] and [`ChainLog`] messages for what the node committed during the frame, and
//!   the [`ChainHeadInfo`] resource.
//!
//! The node ticks on [`NodeClock`]: the wall clock, or a fixed step per frame (deterministic:
//! the same frames give the same chain).

use bevy_app::{App, Plugin, PostUpdate};
use bevy_ecs::intern::Interned;
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::ScheduleLabel;
use std::sync::{Arc, Mutex};

use alloy_primitives::{Address, B256};
use zg_components::chain::TxReceipt;

use crate::node::events::{BlockEvent, LogEvent, LogFilter, Subscription};
use crate::node::handle::{HandleError, NodeHandle, Submitted, TxRequest};
use super::NodeBuilder;
use crate::node::{Node, NodeError};

/// The node, owned by the game's `App` (its world is not the game's: see the module docs).
#[derive(Resource)]
pub struct ChainNode(pub Node);

/// The typed handle, for game systems that call contracts or read state directly.
#[derive(Resource, Clone)]
pub struct Chain(pub NodeHandle);

/// The head as of the end of the last frame.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainHeadInfo {
    pub number: u64,
    pub hash: B256,
    pub timestamp: u64,
}

/// The time the node's tick sees, in milliseconds since the Unix epoch.
#[derive(Resource, Clone, Copy, Debug)]
pub struct NodeClock {
    pub now_ms: f64,
    /// Fixed: advance by this much per frame (deterministic); `None`: the wall clock.
    pub step_ms: Option<f64>,
}

/// A game's transaction: sent from the unlocked account `from` during this frame.
#[derive(Message, Clone, Debug)]
pub struct ChainTx {
    pub from: Address,
    pub request: TxRequest,
    /// The game entity it belongs to, echoed in [`ChainSubmitted`].
    pub tag: Option<Entity>,
}

/// The pool's verdict on a [`ChainTx`]: `Ok(hash)` admitted, or why it was refused.
#[derive(Message, Clone, Debug)]
pub struct ChainSubmitted {
    pub tag: Option<Entity>,
    pub result: Result<B256, String>,
}

#[derive(Message, Clone, Debug)]
pub struct ChainBlock(pub BlockEvent);

#[derive(Message, Clone, Debug)]
pub struct ChainReceipt(pub TxReceipt);

#[derive(Message, Clone, Debug)]
pub struct ChainLog(pub LogEvent);

/// What the node committed since the last frame, and verdicts still due.
#[derive(Resource)]
pub struct ChainFeeds {
    blocks: Subscription<BlockEvent>,
    receipts: Subscription<TxReceipt>,
    logs: Subscription<LogEvent>,
    awaiting: Vec<(Option<Entity>, Submitted)>,
}

/// The set [`tick_chain`] runs in, for game systems that order against the chain's tick.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ZgNodeSet;

/// Set when the node stopped (a block could not be persisted): the chain no longer ticks.
#[derive(Resource, Clone, Debug, Default)]
pub struct ChainFault(pub Option<Arc<NodeError>>);

/// Puts a node the game ticks into a bevy `App`. See the module docs.
pub struct ZgNodePlugin {
    node: Mutex<Option<(Node, NodeHandle)>>,
    schedule: Interned<dyn ScheduleLabel>,
    step_ms: Option<f64>,
}

impl ZgNodePlugin {
    /// Builds the node now (so a bad configuration is an error here, not a panic in `App::add_plugins`).
    pub fn new(builder: NodeBuilder) -> Result<Self, NodeError> {
        let built = builder.build()?;
        Ok(Self { node: Mutex::new(Some(built)), schedule: PostUpdate.intern(), step_ms: None })
    }

    /// A node the host already built (and perhaps prepared: contracts deployed, accounts
    /// funded) with [`NodeBuilder::build`].
    pub fn with_node(node: Node, handle: NodeHandle) -> Self {
        Self { node: Mutex::new(Some((node, handle))), schedule: PostUpdate.intern(), step_ms: None }
    }

    /// Tick the node in `schedule` instead of `PostUpdate`.
    pub fn in_schedule(mut self, schedule: impl ScheduleLabel) -> Self {
        self.schedule = schedule.intern();
        self
    }

    /// Advance the node's clock by `hz`'s frame time per frame instead of reading the wall clock:
    /// the same frames then give the same chain.
    pub fn fixed_rate(mut self, hz: f64) -> Self {
        self.step_ms = Some(1000.0 / hz);
        self
    }
}

impl Plugin for ZgNodePlugin {
    fn build(&self, app: &mut App) {
        let taken = self.node.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let Some((node, handle)) = taken else {
            tracing::error!("ZgNodePlugin added twice: the second copy does nothing");
            return;
        };
        let (header, hash) = node.head();
        let feeds = ChainFeeds {
            blocks: handle.blocks(),
            receipts: handle.receipts(),
            logs: handle.logs(LogFilter::any()),
            awaiting: Vec::new(),
        };
        app.insert_resource(ChainHeadInfo { number: header.number, hash, timestamp: header.timestamp })
            .insert_resource(NodeClock { now_ms: crate::node::now_ms() as f64, step_ms: self.step_ms })
            .insert_resource(ChainFault::default())
            .insert_resource(Chain(handle))
            .insert_resource(ChainNode(node))
            .insert_resource(feeds)
            .add_message::<ChainTx>()
            .add_message::<ChainSubmitted>()
            .add_message::<ChainBlock>()
            .add_message::<ChainReceipt>()
            .add_message::<ChainLog>()
            .add_systems(self.schedule, tick_chain.in_set(ZgNodeSet));
    }
}

/// One frame of the chain: hand over the frame's transactions, tick the node, and publish what
/// it committed and decided as messages.
#[allow(clippy::too_many_arguments)]
pub fn tick_chain(
    mut node: ResMut<ChainNode>,
    chain: Res<Chain>,
    mut clock: ResMut<NodeClock>,
    mut feeds: ResMut<ChainFeeds>,
    mut fault: ResMut<ChainFault>,
    mut head: ResMut<ChainHeadInfo>,
    mut transactions: MessageReader<ChainTx>,
    mut verdicts: MessageWriter<ChainSubmitted>,
    mut blocks: MessageWriter<ChainBlock>,
    mut receipts: MessageWriter<ChainReceipt>,
    mut logs: MessageWriter<ChainLog>,
) {
    if fault.0.is_some() {
        return;
    }
    for tx in transactions.read() {
        match chain.0.send(tx.from, tx.request.clone()) {
            Ok(submitted) => feeds.awaiting.push((tx.tag, submitted)),
            Err(error) => {
                verdicts.write(ChainSubmitted { tag: tx.tag, result: Err(error.to_string()) });
            }
        }
    }
    clock.now_ms = match clock.step_ms {
        Some(step) => clock.now_ms + step,
        None => crate::node::now_ms() as f64,
    };
    if let Err(error) = node.0.tick(clock.now_ms as u64) {
        tracing::error!(%error, "the chain stopped");
        fault.0 = Some(Arc::new(error));
    }
    let awaiting = std::mem::take(&mut feeds.awaiting);
    for (tag, submitted) in awaiting {
        match submitted.try_result() {
            Some(result) => {
                verdicts.write(ChainSubmitted { tag, result: result.map_err(|e: HandleError| e.to_string()) });
            }
            None => feeds.awaiting.push((tag, submitted)),
        }
    }
    for block in feeds.blocks.drain() {
        *head = ChainHeadInfo { number: block.number, hash: block.hash, timestamp: block.timestamp };
        blocks.write(ChainBlock(block));
    }
    receipts.write_batch(feeds.receipts.drain().into_iter().map(ChainReceipt));
    logs.write_batch(feeds.logs.drain().into_iter().map(ChainLog));
}
