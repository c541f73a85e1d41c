//! # zgnode — the node, as a program and as a library
//!
//! zgnode is an EVM chain with BFT consensus, a 0G-compatible storage network, data
//! availability and a compute marketplace (with verifiable inference), built as a data-oriented
//! ECS node: the pure core lives in
//! `zg-components` (data) and `zg-systems` (behaviour); this crate is the I/O shell around it.
//! `zgnode dev` runs it all-in-one; this page is for hosts that embed it — a game, a test
//! harness, a service — in their own process.
//!
//! ## Embedding, in order
//! 1. **Build** a node with [`NodeBuilder`]: [`NodeBuilder::dev`] (the dev chain in memory,
//!    chain id 31337, ten funded accounts unlocked) or [`NodeBuilder::from_config`], then switch
//!    roles on: [`NodeBuilder::with_rpc`], [`NodeBuilder::with_storage`],
//!    [`NodeBuilder::with_validator`]; pick the block time ([`NodeBuilder::block_time`], down to
//!    one 60 Hz frame).
//! 2. **Run** it either way:
//!    - [`NodeBuilder::build`] gives a [`Node`] the host ticks itself with its own clock
//!      ([`Node::tick`]): deterministic, no socket, no thread unless asked for
//!      ([`NodeBuilder::commit_on_thread`], [`NodeBuilder::parallel_systems`]);
//!    - [`NodeBuilder::start`] gives a [`RunningNode`] with its own driver thread (and JSON-RPC,
//!      storage, consensus as configured), inside a tokio runtime.
//! 3. **Talk to it** through the typed [`NodeHandle`] both return: submit transactions
//!    ([`NodeHandle::send`] from an unlocked account, [`NodeHandle::submit_signed`],
//!    [`NodeHandle::submit_raw`]), call contracts with `alloy` `sol!` bindings
//!    ([`NodeHandle::call_sol`], [`NodeHandle::send_sol`]), read state, wait for receipts, and
//!    subscribe to committed blocks, receipts and logs as typed events ([`NodeHandle::blocks`],
//!    [`NodeHandle::receipts`], [`NodeHandle::logs`]). Every call has a sync and an async
//!    flavour; nothing on this path is JSON.
//! 4. **In a bevy game**, add `ZgNodePlugin` (feature `bevy`): the node ticks inside the
//!    game's schedule and its events arrive as bevy messages (see `assembly::bevy_plugin`).
//!
//! A transfer on a node the host ticks, mined in the tick that follows it:
//!
//! ```
//! use alloy_primitives::{U256, address};
//! use std::time::Duration;
//! use zgnode::{NodeBuilder, TxRequest, dev::dev_accounts};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Block time zero: a block as soon as a transaction waits (automine).
//! let (mut node, chain) = NodeBuilder::dev().block_time(Duration::ZERO).build()?;
//! let alice = dev_accounts()[0].address;
//! let bob = address!("0x000000000000000000000000000000000000b0b0");
//! let sent = chain.send(alice, TxRequest::transfer(bob, U256::from(1_000)))?;
//! let mut blocks = chain.blocks();
//!
//! node.tick(1_900_000_000_000)?; // the host's clock, in ms
//!
//! assert_eq!(sent.try_result().expect("decided in the tick")?, sent.hash());
//! let receipt = chain.receipt(sent.hash())?.expect("mined in the tick");
//! assert!(receipt.success);
//! assert_eq!(chain.balance(bob)?, U256::from(1_000));
//! let block = blocks.try_next().expect("announced")?;
//! assert_eq!(block.transactions, vec![sent.hash()]);
//! # Ok(())
//! # }
//! ```
//!
//! A contract through `sol!` bindings, and its events decoded from a log subscription:
//!
//! ```
//! use alloy_primitives::{Bytes, U256};
//! use alloy_sol_types::sol;
//! use std::time::Duration;
//! use zgnode::node::LogFilter;
//! use zgnode::{NodeBuilder, TxRequest, dev::dev_accounts};
//!
//! sol! {
//!     contract Crafting {
//!         event Gathered(address indexed player, uint8 resource, uint32 wood, uint32 stone);
//!         function gather(uint8 resource) external;
//!         function inventoryOf(address player) external view returns (uint32 wood, uint32 stone, uint32 tools, uint32 score);
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (mut node, chain) = NodeBuilder::dev().block_time(Duration::ZERO).build()?;
//! let player = dev_accounts()[1].address;
//! let artifact: serde_json::Value = serde_json::from_str(include_str!("../assets/contracts/Crafting.json"))?;
//! let code: Bytes = artifact["bytecode"].as_str().unwrap_or_default().parse()?;
//! let deploy = chain.send(player, TxRequest::deploy(code))?;
//! node.tick(1_900_000_000_000)?;
//! let crafting = chain.receipt(deploy.hash())?.and_then(|r| r.contract_address_opt()).expect("deployed");
//!
//! let mut gathered = chain.logs(LogFilter::any().address(crafting).event::<Crafting::Gathered>());
//! chain.send_sol(player, crafting, &Crafting::gatherCall { resource: 0 })?;
//! node.tick(1_900_000_000_016)?;
//!
//! let event: Crafting::Gathered = gathered.try_next().expect("one log")?.decode()?;
//! assert_eq!((event.player, event.wood), (player, 1));
//! let held = chain.call_sol(crafting, &Crafting::inventoryOfCall { player })?;
//! assert_eq!(held.wood, 1);
//! # let _ = U256::ZERO;
//! # Ok(())
//! # }
//! ```
//!
//! ## Layout
//! Each service role is a folder with its RPC methods, its tables, its services and a `role.rs`
//! implementing [`node::role::Role`]; [`assembly`] composes them. The pure core is in
//! `zg-components` and `zg-systems`.
//! - [`alignment`]: the AI alignment licence and manager genesis contracts (the auditing role
//!   is to come).
//! - [`node`]: the hand-ticked [`Node`] (the chain, and the validator role that opens it on a
//!   network), its handle and events, the driver thread, and the [`node::role::Role`] trait.
//! - [`assembly`]: [`NodeBuilder`] (the list of roles), [`RunningNode`], the bevy plugin.
//! - [`rpc`]: the Ethereum JSON-RPC surface with geth's error shapes (roles add theirs);
//!   [`status`]: the read-only status page for browsers on the same port, fed by that surface.
//! - [`net`]: the validator network over QUIC; [`peer_address`]: peer addresses;
//!   [`signing`] and [`sign_guard`]: the node key and the double-sign guard.
//! - [`store`]: the one redb database (blocks and state: one write per block, snapshots for RPC,
//!   rewind, restore); each role keeps its own tables in its folder (`storage/tables.rs`...).
//! - [`storage`]: the storage role, 0G's storage node (RPC, shards, PoRA miner, SDK-compatible client).
//! - [`da`]: data availability (dispersal, retrieval, sampling, the disperser gRPC).
//! - [`compute`]: the compute marketplace (providers, settlement, verifiable inference).
//! - [`governance`]: the Governor, timelock and `ChainParams` genesis contracts and the dev stake
//!   that votes.
//! - [`gpu`]: CUDA kernels when a card is present, checked against their CPU twins.
//! - [`cli`]: the commands (`dev`/`run`, `init`/`testnet`, `storage`, `da`, `compute`, `bench`,
//!   `chaos`); [`config`]: the TOML config, every option in [`config::CONFIG_TEMPLATE`];
//!   [`local_files`]: genesis files and durable writes; [`metrics`]: Prometheus;
//!   [`wall_clock`]: the host's clock; [`crash_drill`]: named points a test may die at.
//! - [`dev`]: dev accounts and the dev genesis every role adds its contracts to.
//! - [`tools`]: benchmarks, the chaos campaign, fuzz targets, the testnet launcher — beside the
//!   node, opened only by the CLI.

pub mod alignment;
pub mod assembly;
pub mod cli;
pub mod compute;
pub mod config;
pub mod crash_drill;
pub mod da;
pub mod dev;
pub mod governance;
// Probing for the CUDA libraries and launching kernels are unsafe in cudarc; only this module
// may, and each block says why it holds.
#[allow(unsafe_code)]
pub mod gpu;
pub mod local_files;
pub mod metrics;
pub mod net;
pub mod node;
pub mod peer_address;
pub mod rpc;
pub mod signing;
pub mod status;
pub mod sign_guard;
pub mod store;
pub mod tools;
pub mod wall_clock;
pub mod storage;

pub use config::NodeConfig;
pub use assembly::{NodeBuilder, RunningNode};
#[cfg(feature = "bevy")]
pub use assembly::ZgNodePlugin;
pub use node::{Node, NodeHandle, TxRequest};
