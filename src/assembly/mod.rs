//! The node put together: [`NodeBuilder`] opens the chain (as a validator on a chain with
//! consensus) and joins the list of service roles to it (storage, DA, compute: each a
//! [`crate::node::role::Role`]); [`RunningNode`] keeps them running with the driver thread and
//! JSON-RPC; the bevy plugin lets a bevy app host the node.

#[cfg(feature = "bevy")]
pub mod bevy_plugin;
mod builder;
mod running;

#[cfg(feature = "bevy")]
pub use bevy_plugin::ZgNodePlugin;
pub use builder::NodeBuilder;
pub use running::RunningNode;
