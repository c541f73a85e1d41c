//! txpool_status and txpool_content, in geth's shapes: pending (executable now) and queued
//! (behind a nonce gap), by sender and nonce.

use alloy_consensus::Transaction;
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use serde_json::{Map, Value, json};

use zg_components::node::NodeRequest;

use super::RpcContext;
use super::error::RpcResult;
use super::types::{quantity, transaction_json};

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_async_method("txpool_status", |_, ctx, _| async move {
        let content = ctx.ask(|reply| NodeRequest::PoolContent { reply }).await?;
        RpcResult::Ok(json!({
            "pending": quantity(content.pending.len() as u64),
            "queued": quantity(content.queued.len() as u64),
        }))
    })?;
    module.register_async_method("txpool_content", |_, ctx, _| async move {
        let content = ctx.ask(|reply| NodeRequest::PoolContent { reply }).await?;
        RpcResult::Ok(json!({ "pending": by_sender(&content.pending), "queued": by_sender(&content.queued) }))
    })?;
    Ok(())
}

fn by_sender(list: &[(alloy_consensus::TxEnvelope, alloy_primitives::Address)]) -> Value {
    let mut senders: Map<String, Value> = Map::new();
    for (envelope, sender) in list {
        let entry = senders.entry(format!("{sender:#x}")).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(nonces) = entry {
            nonces.insert(envelope.nonce().to_string(), transaction_json(envelope, *sender, None));
        }
    }
    Value::Object(senders)
}
