//! # zgnode — the node
//!
//! The I/O shell around the pure core in `zg-components` (data) and `zg-systems` (behaviour):
//! the CLI, config, the node that owns the `World` and ticks it, redb persistence, the Ethereum
//! JSON-RPC server and metrics.
//!
//! ## Layout
//! - [`cli`]: the commands, one module each (`dev`/`run`, `init`/`testnet`, `storage`, `bench`,
//!   `chaos`); [`local_files`]: reading a genesis file, writing configs and keys durably.
//! - [`config`]: the TOML config, every option documented in [`config::CONFIG_TEMPLATE`].
//! - [`node`]: [`node::Node`] (world + schedule + database, ticked by hand) and
//!   [`node::RunningNode`] (driver thread + JSON-RPC).
//! - [`net`]: the validator network over QUIC: key-bound TLS identities, framing, dialing,
//!   block sync serving.
//! - [`store`]: redb tables, one write transaction per block, read snapshots, restore at start.
//! - [`rpc`]: Ethereum JSON-RPC (HTTP + WebSocket) with geth's error shapes.
//! - [`dev`]: the dev accounts and dev genesis.
//! - [`metrics`]: Prometheus exporter and tick metrics.
//! - [`zgs`]: the storage node role: 0G's storage JSON-RPC over published files and uploaded
//!   segments.
//! - [`testnet`]: local validator networks (`zgnode init --validators`, `zgnode testnet`).
//! - [`bench`]: the workloads behind `zgnode bench` and `cargo bench`, each against a baseline
//!   in the same run: block execution vs bare revm, ticks, RPC ingestion, history, anvil side by
//!   side ([`bench::anvil`]), validators under load ([`bench::consensus`]), storage throughput
//!   ([`bench::storage`]) and file tracking ([`bench::tracking`]).

pub mod bench;
pub mod chaos;
pub mod cli;
pub mod config;
pub mod dev;
pub mod fuzz;
pub mod local_files;
pub mod metrics;
pub mod net;
pub mod node;
pub mod peer_address;
pub mod rpc;
pub mod seeded;
pub mod signing;
pub mod sign_guard;
pub mod store;
pub mod testnet;
pub mod zgs;

pub use config::NodeConfig;
pub use node::{Node, NodeBuilder, NodeHandle, RunningNode, TxRequest};
#[cfg(feature = "bevy")]
pub use node::ZgNodePlugin;
