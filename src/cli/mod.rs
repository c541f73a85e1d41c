//! The command line: `zgnode dev | run | init | testnet | storage | bench | chaos | version`,
//! one module per command; `run` dispatches.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

use zg_components::chain::Genesis;

use crate::config::{CONFIG_TEMPLATE, NodeConfig};
use crate::dev::{DEV_CHAIN_ID, dev_accounts, dev_genesis};
use crate::local_files::{load_genesis, write_file};
use crate::assembly::RunningNode;

mod alignment;
mod args;
mod bench;
mod bench_args;
mod bench_proofs;
mod chaos;
mod compute;
mod compute_args;
mod da;
mod network;
mod serve;
mod storage;
mod verified;

pub use args::*;
pub use bench_args::*;
pub use compute_args::*;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("zgnode {}", env!("CARGO_PKG_VERSION"));
            println!("GPU: {}", crate::gpu::describe(0));
            Ok(())
        }
        Command::Init(args) => match args.validators {
            Some(validators) => network::init_network(&args, validators),
            None => network::init(&args),
        },
        Command::Testnet(args) => network::testnet(args).await,
        Command::Bench(command) => bench::bench(command).await,
        Command::Chaos(args) => chaos::chaos(args).await,
        Command::Storage(command) => storage::storage(command).await,
        Command::Da(command) => da::da(command).await,
        Command::Compute(command) => compute::compute(command).await,
        Command::Alignment(args) => alignment::alignment(args).await,
        Command::Dev(args) => {
            let mut config = NodeConfig::default();
            config.node.data_dir = PathBuf::from("zgnode-data/dev");
            // The dev chain is also a storage node, on 0G's default port, mining PoRA with the
            // last dev account.
            config.storage.enabled = true;
            config.storage.miner_key = Some(dev_accounts()[crate::dev::DEV_MINER_ACCOUNT].private_key.to_string());
            config.storage.fault_drill_corrupt_segments = args.fault_drill_corrupt_segments;
            // And a DA node that accepts blobs (fees paid by the next-to-last dev account) with
            // 0G's disperser gRPC on its default port.
            config.da.disperser_key = Some(dev_accounts()[crate::dev::DEV_DISPERSER_ACCOUNT].private_key.to_string());
            config.da.grpc_addr = Some(crate::da::grpc::DEFAULT_ADDR.parse().expect("valid literal"));
            config.rpc.dev_methods = true;
            args.overrides.apply(&mut config);
            // No consensus on the dev chain: any block time goes, including one above the
            // consensus round timeouts.
            config.validate_dev()?;
            let mut genesis = dev_genesis(args.chain_id);
            if let Some(gas_limit) = args.gas_limit {
                genesis.gas_limit = gas_limit;
                genesis.validate().map_err(|e| anyhow::anyhow!("--gas-limit: {e}"))?;
            }
            let compute_addr = (!args.no_compute_provider).then_some(args.compute_addr);
            serve::serve(config, genesis, true, compute_addr, !args.no_alignment).await
        }
        Command::Run(args) => {
            let mut config = NodeConfig::load(&args.config)?;
            args.overrides.apply(&mut config);
            config.validate()?;
            let genesis = match &config.chain.genesis {
                Some(path) => load_genesis(path)?,
                None => crate::dev::network_genesis(),
            };
            serve::serve(config, genesis, false, None, false).await
        }
    }
}
