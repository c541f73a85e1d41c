//! eth_subscribe over WebSocket: newHeads and logs, fed by the blocks the world announces.

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use zg_components::chain::CommittedBlock;
use zg_components::node::NodeEvent;

use super::RpcContext;
use super::error::invalid_params;
use super::types::{LogFilter, header_json, log_json};

enum Kind {
    NewHeads,
    Logs(LogFilter),
}

fn messages(kind: &Kind, block: &CommittedBlock) -> Vec<Value> {
    match kind {
        Kind::NewHeads => {
            let mut head = header_json(&block.header, block.hash, Value::Null);
            if let Some(fields) = head.as_object_mut() {
                fields.remove("transactions");
                fields.remove("uncles");
                fields.remove("totalDifficulty");
            }
            vec![head]
        }
        Kind::Logs(filter) => {
            let mut out = Vec::new();
            let mut log_index = 0u64;
            for receipt in &block.receipts {
                for log in &receipt.logs {
                    if filter.matches(log) {
                        out.push(log_json(receipt, log, log_index));
                    }
                    log_index += 1;
                }
            }
            out
        }
    }
}

async fn serve(pending: PendingSubscriptionSink, ctx: std::sync::Arc<RpcContext>, kind: Kind) {
    let mut events = ctx.events.subscribe();
    let Ok(sink) = pending.accept().await else { return };
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            event = events.recv() => match event {
                Ok(NodeEvent::BlockCommitted(block)) => {
                    for message in messages(&kind, &block) {
                        let Ok(raw) = serde_json::value::to_raw_value(&message) else { continue };
                        if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                            return;
                        }
                    }
                }
                // A slow subscriber misses blocks rather than stalling the node.
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "subscriber lagged; blocks skipped"),
                Err(RecvError::Closed) => return,
            },
        }
    }
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |params, pending, ctx, _| async move {
            let mut seq = params.sequence();
            let kind = match seq.next::<String>() {
                Ok(kind) => kind,
                Err(error) => {
                    pending.reject(error).await;
                    return Ok(());
                }
            };
            let kind = match kind.as_str() {
                "newHeads" => Kind::NewHeads,
                "logs" => match seq.optional_next::<LogFilter>().and_then(|filter| {
                    let filter = filter.unwrap_or_default();
                    filter.check_limits().map(|()| filter)
                }) {
                    Ok(filter) => Kind::Logs(filter),
                    Err(error) => {
                        pending.reject(error).await;
                        return Ok(());
                    }
                },
                other => {
                    pending.reject(invalid_params(format!("unsupported subscription type {other:?}: newHeads and logs are supported"))).await;
                    return Ok(());
                }
            };
            serve(pending, ctx, kind).await;
            Ok(())
        },
    )?;
    Ok(())
}
