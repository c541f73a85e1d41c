//! `zgnode dev` and `zgnode run`: a node in the foreground until Ctrl-C, with its banner.

use super::*;

/// `compute_addr`: where `zgnode dev`'s built-in compute provider listens (none: no provider);
/// `auditor`: whether `zgnode dev`'s alignment auditor runs.
pub(super) async fn serve(config: NodeConfig, genesis: Genesis, dev: bool, compute_addr: Option<SocketAddr>, auditor: bool) -> anyhow::Result<()> {
    if config.metrics.enabled {
        crate::metrics::install_exporter(config.metrics.addr).map_err(anyhow::Error::msg)?;
    }
    let mut builder = crate::assembly::NodeBuilder::from_config(config.clone(), genesis.clone());
    if let Some(addr) = compute_addr {
        builder = builder.with_compute_provider(addr);
    }
    let mut node = builder.start().await?;
    if config.metrics.enabled {
        let mut blocks = node.handle().blocks();
        tokio::spawn(async move {
            loop {
                match blocks.next().await {
                    Ok(block) => crate::metrics::record_chain(block.number, block.gas_used, block.transactions.len()),
                    Err(crate::node::events::SubscriptionError::Closed) => break,
                    Err(_) => continue,
                }
            }
        });
    }
    print_banner(&config, &genesis, &node);
    if let Some(handle) = node.compute() {
        let state = &handle.state;
        println!(
            "Compute provider: http://{}  (built-in {} on the CPU, provider {}; `zgnode compute ask \"hi\" --provider {} --key …`)",
            handle.addr,
            state.backend.model(),
            state.provider,
            state.provider
        );
        if let Some(verifiable) = &state.verifiable {
            println!(
                "Verifiable compute: http://{}/v1/proxy/verifiable/{}  (halo2 proofs on chain, model id {}; `zgnode compute verified-ask --provider-url http://{} --digit 0 --key …`)",
                handle.addr, verifiable.model.name, verifiable.model_id, handle.addr
            );
        }
        if let Some(fine_tuning) = &state.fine_tuning {
            println!(
                "Fine-tuning:     http://{}/v1/model  (LoRA on {} at {} neuron a token per epoch; 0G's SDK: broker.fineTuning with provider {})",
                handle.addr, fine_tuning.model.name, fine_tuning.config.price_per_token, state.provider
            );
        }
    }
    if let Some(error) = node.compute_failure() {
        println!("Compute provider: not started ({error:#}); --compute-addr picks another address");
    }
    let auditor = match (auditor, node.rpc_url()) {
        (true, Some(rpc)) if genesis.accounts.contains_key(&crate::alignment::MANAGER_ADDRESS) => {
            let settings = crate::alignment::dev_auditor_settings(rpc, node.storage_addr.map(|addr| format!("http://{addr}")));
            println!("Alignment node:  licence {:?} operated by {} (audits each {}-block epoch)", settings.licences, settings.operator_key.address(), crate::alignment::dev_params().epoch_blocks);
            Some(crate::alignment::auditor::start(settings, tokio::runtime::Handle::current())?)
        }
        _ => None,
    };
    print_ready(&genesis, dev);
    let result = run_until_stopped(&mut node).await;
    if let Some(auditor) = auditor {
        tokio::task::spawn_blocking(move || auditor.stop()).await?;
    }
    match result {
        Ok(true) => {
            node.stop().await?;
            Ok(())
        }
        Ok(false) => bail!("the node stopped unexpectedly"),
        Err(error) => Err(error),
    }
}

/// Ok(true) on a shutdown signal, Ok(false) if the node stopped by itself.
async fn run_until_stopped(node: &mut RunningNode) -> anyhow::Result<bool> {
    tokio::select! {
        result = node.wait() => {
            result?;
            Ok(false)
        }
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            Ok(true)
        }
    }
}

pub(super) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn print_banner(config: &NodeConfig, genesis: &Genesis, node: &RunningNode) {
    println!("zgnode {} — chain id {}", env!("CARGO_PKG_VERSION"), node.chain_id);
    if let (Some(http), Some(ws)) = (node.rpc_url(), node.ws_url()) {
        println!("JSON-RPC (HTTP): {http}");
        println!("JSON-RPC (WS):   {ws}");
    }
    if config.metrics.enabled {
        println!("Metrics:         http://{}/metrics", config.metrics.addr);
    }
    if let Some(addr) = node.storage_addr {
        println!("Storage RPC:     http://{addr}  (Flow {}, market {}, PoRA {})", zg_systems::storage::flow::FLOW_ADDRESS, zg_systems::storage::flow::MARKET_ADDRESS, zg_systems::storage::pora::MINE_ADDRESS);
        if let Some(miner) = node.miner_address {
            println!("PoRA miner:      {miner}");
        }
    }
    if let Some(da) = node.da() {
        println!("DA:              da_* on JSON-RPC (entrance {}, signer key {})", zg_systems::da::entrance::DA_ENTRANCE_ADDRESS, hex::encode(da.key()));
        if let Some(addr) = node.da_grpc_addr {
            println!("DA disperser:    grpc://{addr}  (0G's disperser.Disperser)");
        }
    }
    if genesis.accounts.contains_key(&zg_systems::compute::contracts::LEDGER_ADDRESS) {
        use zg_systems::compute::contracts::{FINE_TUNING_ADDRESS, INFERENCE_ADDRESS, LEDGER_ADDRESS};
        println!("Compute market:  ledger {LEDGER_ADDRESS}, inference {INFERENCE_ADDRESS}, fine-tuning {FINE_TUNING_ADDRESS}  (0G serving SDK's chain-31337 addresses)");
    }
    if let Some(gpu) = crate::gpu::accel::status() {
        println!("GPU:             {}", gpu.line);
    }
    if config.node.ephemeral {
        println!("Data:            in memory (--ephemeral)");
    } else {
        println!("Data:            {}", config.node.data_dir.display());
    }
    println!("Block time:      {} ms; native token {} ({} decimals, max supply {})", config.chain.block_time_ms, genesis.token_symbol, genesis.token_decimals, genesis.max_supply);
}

/// The dev accounts (on `zgnode dev`), then the line scripts wait for.
fn print_ready(genesis: &Genesis, dev: bool) {
    if dev {
        println!();
        println!("Dev accounts ({} {} each), mnemonic \"{}\":", crate::dev::DEV_ACCOUNT_TOKENS, genesis.token_symbol, crate::dev::DEV_MNEMONIC);
        for (i, account) in dev_accounts().iter().enumerate() {
            println!("({i}) {}  key {}", account.address, account.private_key);
        }
    }
    println!();
    println!("ready");
}
