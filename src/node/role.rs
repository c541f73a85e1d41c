//! [`Role`]: what a service role (storage, DA, compute, and the ones to come) does to join a
//! node. The chain and the validator role make the [`Node`] itself (its world, schedule and
//! network); every other role is a value implementing this trait, handed to the assembly
//! (`NodeBuilder`) in a list, and joins in two steps:
//! 1. [`Role::assemble`], before the tick thread takes the node: resources into the world,
//!    services that answer peers, and the role's JSON-RPC methods and their state;
//! 2. [`Role::serve`], once JSON-RPC serves and the node ticks: the role's own clients of the
//!    node (the PoRA miner, the built-in compute provider).
//!
//! A running node keeps its roles and stops them, last first, before it stops ticking.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use zg_components::chain::Genesis;

use super::{Node, NodeError};
use crate::config::NodeConfig;
use crate::rpc::RoleMethods;
use crate::rpc::role_state::RoleState;
use crate::store::ChainStore;

/// A step of a role that may wait (on sockets being bound, on the network).
pub type RoleFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NodeError>> + Send + 'a>>;

/// What a role may use and add to while the node is assembled.
pub struct Assembly<'a> {
    pub config: &'a NodeConfig,
    pub genesis: &'a Genesis,
    pub chain_id: u64,
    /// The node, before its tick thread starts: the role's resources go into its world.
    pub node: &'a mut Node,
    /// The validator network, on a chain with consensus.
    pub network: Option<&'a crate::net::NetHandle>,
    /// The node's network key, on a chain with consensus.
    pub node_key: Option<&'a malachite_ed25519::PrivateKey>,
    /// The node's erasure accelerator (its GPU, or the CPU), for roles that code.
    pub accelerator: &'a zg_systems::erasure::accel::Accelerator,
    /// The role's methods on the node's JSON-RPC port, beside the Ethereum ones.
    pub rpc_methods: &'a mut Vec<RoleMethods>,
    /// What those methods read from the shared context.
    pub rpc_state: &'a mut RoleState,
}

/// What a role's clients of the node get once it ticks and serves JSON-RPC.
pub struct Serving<'a> {
    pub config: &'a NodeConfig,
    pub genesis: &'a Genesis,
    pub chain_id: u64,
    /// The node's JSON-RPC address, when it serves JSON-RPC.
    pub rpc_addr: Option<SocketAddr>,
    pub store: &'a ChainStore,
    pub node_key: Option<&'a malachite_ed25519::PrivateKey>,
    /// Proof jobs run by the node's tick, when the chain has the verifiable-compute contracts.
    pub prover: Option<zg_systems::verifiable::jobs::ProverHandle>,
    /// Set when the node stops: a role's background loops end on it.
    pub stop: &'a Arc<AtomicBool>,
}

pub trait Role: Any + Send + Sync {
    /// The role's name in logs and errors.
    fn name(&self) -> &'static str;

    /// Joins the node before it ticks. An error stops the node's start.
    fn assemble<'a>(&'a mut self, assembly: Assembly<'a>) -> RoleFuture<'a>;

    /// Starts the role's clients of the running node. An error stops the node's start.
    fn serve<'a>(&'a mut self, _serving: Serving<'a>) -> RoleFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// Stops what the role serves; the node stops ticking after every role stopped.
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }

    /// For the running node's typed accessors (`RunningNode::da`...).
    fn as_any(&self) -> &dyn Any;
}

/// The first role of type `R` in `roles`.
pub fn find_role<R: Role>(roles: &[Box<dyn Role>]) -> Option<&R> {
    roles.iter().find_map(|role| role.as_any().downcast_ref::<R>())
}
