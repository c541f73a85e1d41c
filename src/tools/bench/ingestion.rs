//! eth_sendRawTransaction from HTTP clients on loopback into sealed blocks.

use super::*;

#[derive(Debug, Clone)]
pub struct RpcReport {
    pub transactions: usize,
    pub concurrency: usize,
    pub tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub blocks: usize,
}

/// Sustained eth_sendRawTransaction from HTTP clients on loopback into sealed blocks: throughput
/// from the first send to the last receipt, and send-to-receipt latency (a receipt exists once
/// its block is persisted, which is when the node announces it).
pub async fn rpc_ingestion(count: usize, senders: usize, concurrency: usize, block_time_ms: u64) -> anyhow::Result<RpcReport> {
    use jsonrpsee::core::client::ClientT;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use zg_components::node::NodeEvent;

    let fixture = fixture(Workload::EthTransfers, count, senders);
    let dir = tempfile::tempdir()?;
    let mut config = crate::NodeConfig::default();
    config.node.data_dir = dir.path().to_path_buf();
    config.node.tick_ms = 1;
    config.chain.block_time_ms = block_time_ms;
    config.rpc.addr = "127.0.0.1:0".parse()?;
    config.txpool.max_size = count + 1;
    config.txpool.max_nonce_gap = count as u64 + 1;
    let node = crate::RunningNode::start(&config, &fixture.genesis).await?;
    let url = node.rpc_url().ok_or_else(|| anyhow::anyhow!("JSON-RPC is off"))?;

    let committed: Arc<Mutex<HashMap<alloy_primitives::B256, Instant>>> = Arc::default();
    let blocks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut events = node.subscribe();
    let (watch_committed, watch_blocks) = (committed.clone(), blocks.clone());
    tokio::spawn(async move {
        while let Ok(NodeEvent::BlockCommitted(block)) = events.recv().await {
            let now = Instant::now();
            if !block.receipts.is_empty() {
                watch_blocks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let mut committed = watch_committed.lock().expect("not poisoned");
            for receipt in &block.receipts {
                committed.insert(receipt.tx_hash, now);
            }
        }
    });

    // Each client task owns whole senders, so every sender's nonces arrive in order.
    let concurrency = concurrency.clamp(1, senders.max(1));
    let mut lanes: Vec<Vec<(alloy_primitives::B256, String)>> = vec![Vec::new(); concurrency];
    let sender_count = senders.clamp(1, count.max(1));
    for (i, (tx, _)) in fixture.txs.iter().enumerate() {
        let raw = alloy_primitives::hex::encode_prefixed(alloy_eips::eip2718::Encodable2718::encoded_2718(tx));
        lanes[(i % sender_count) % concurrency].push((*tx.tx_hash(), raw));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in lanes {
        let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&url)?;
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::with_capacity(lane.len());
            for (hash, raw) in lane {
                let at = Instant::now();
                let _: alloy_primitives::B256 =
                    client.request("eth_sendRawTransaction", jsonrpsee::rpc_params![raw]).await?;
                sent.push((hash, at));
            }
            anyhow::Ok(sent)
        }));
    }
    let mut sent = Vec::with_capacity(count);
    for task in tasks {
        sent.extend(task.await??);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if committed.lock().expect("not poisoned").len() >= count {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "not every transaction was sealed within 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let committed = committed.lock().expect("not poisoned").clone();
    let mut latencies: Vec<Duration> = sent.iter().map(|(hash, at)| committed[hash].saturating_duration_since(*at)).collect();
    latencies.sort();
    let last = committed.values().max().copied().unwrap_or(started);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    let report = RpcReport {
        transactions: count,
        concurrency,
        tps: count as f64 / last.duration_since(started).as_secs_f64(),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        blocks: blocks.load(std::sync::atomic::Ordering::Relaxed),
    };
    node.stop().await?;
    Ok(report)
}
