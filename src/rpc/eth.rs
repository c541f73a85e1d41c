//! Chain, account, block and transaction methods.

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::Params;
use serde_json::{Value, json};

use zg_components::node::NodeRequest;
use zg_systems::chain::{mempool, producer};

use super::RpcContext;
use super::error::{RpcResult, invalid_params, server_error};
use super::types::{BlockRef, Inclusion, header_json, quantity, receipt_json, transaction_json};
use crate::store::StateSnapshot;

/// The tip `eth_maxPriorityFeePerGas` suggests: 1 gwei, as anvil does.
pub const SUGGESTED_TIP: u128 = 1_000_000_000;
/// Most blocks one eth_feeHistory covers (geth's cap).
pub const FEE_HISTORY_MAX_BLOCKS: u64 = 1024;
/// Most storage keys one eth_getProof may ask for.
pub const MAX_PROOF_SLOTS: usize = 1024;

pub const CLIENT_VERSION: &str = concat!("zgnode/v", env!("CARGO_PKG_VERSION"), "/rust");

/// Resolves a block reference to a stored block number; `None` if there is no such block.
pub fn block_number(snapshot: &StateSnapshot, block: BlockRef) -> RpcResult<Option<u64>> {
    let head = snapshot.head_number().unwrap_or_default();
    Ok(match block {
        BlockRef::Latest | BlockRef::Pending | BlockRef::Safe | BlockRef::Finalized => Some(head),
        BlockRef::Earliest => Some(0),
        BlockRef::Number(n) => (n <= head).then_some(n),
        BlockRef::Hash(hash) => snapshot.number_of(&hash)?,
    })
}

/// The snapshot reading state at `block` (latest when absent): the head's state, or an older
/// block's from the kept history; past the window, geth's "missing trie node" answer.
pub fn state_at(snapshot: StateSnapshot, block: Option<BlockRef>) -> RpcResult<StateSnapshot> {
    let number = block_number(&snapshot, block.unwrap_or(BlockRef::Latest))?
        .ok_or_else(|| server_error("header not found"))?;
    snapshot.at_block(number).map_err(|e| server_error(e.to_string()))
}

fn two_params<A: serde::de::DeserializeOwned, B: serde::de::DeserializeOwned>(
    params: &Params,
) -> RpcResult<(A, Option<B>)> {
    let mut seq = params.sequence();
    let a = seq.next()?;
    let b = seq.optional_next()?;
    no_more(seq)?;
    Ok((a, b))
}

fn no_more(mut seq: jsonrpsee::types::params::ParamsSequence) -> RpcResult<()> {
    match seq.optional_next::<Value>()? {
        Some(_) => Err(invalid_params("too many arguments")),
        None => Ok(()),
    }
}

fn block_json(snapshot: &StateSnapshot, number: u64, full: bool) -> RpcResult<Value> {
    let Some((header, hash)) = snapshot.header(number)? else { return Ok(Value::Null) };
    let base_fee = header.base_fee_per_gas.unwrap_or_default();
    let transactions = if full {
        let records = snapshot.block_transactions(number)?;
        let mut list = Vec::with_capacity(records.len());
        for record in records {
            let envelope = decode_stored(&record.raw)?;
            let inclusion = Inclusion { block_hash: hash, block_number: number, index: record.index, base_fee };
            list.push(transaction_json(&envelope, record.sender, Some(inclusion)));
        }
        json!(list)
    } else {
        json!(snapshot.body(number)?)
    };
    Ok(header_json(&header, hash, transactions))
}

/// The transaction at `index` of block `number`, with its inclusion; null past the end.
fn transaction_at(snapshot: &StateSnapshot, number: u64, index: u64) -> RpcResult<Value> {
    let Ok(index) = u32::try_from(index) else { return Ok(Value::Null) };
    match snapshot.block_transaction(number, index)? {
        Some(record) => mined_transaction_json(snapshot, &record),
        None => Ok(Value::Null),
    }
}

/// A mined transaction as eth_getTransactionBy* show it: with its block, index and the price it paid.
fn mined_transaction_json(snapshot: &StateSnapshot, record: &crate::store::TxRecord) -> RpcResult<Value> {
    let (header, _) = snapshot.header(record.block_number)?.ok_or_else(|| server_error("header not found"))?;
    let inclusion = Inclusion {
        block_hash: record.block_hash,
        block_number: record.block_number,
        index: record.index,
        base_fee: header.base_fee_per_gas.unwrap_or_default(),
    };
    Ok(transaction_json(&decode_stored(&record.raw)?, record.sender, Some(inclusion)))
}

pub fn decode_stored(raw: &Bytes) -> RpcResult<TxEnvelope> {
    TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(|e| server_error(format!("stored transaction is corrupt: {e}")))
}

fn receipts_json(receipts: &[zg_components::chain::TxReceipt]) -> Vec<Value> {
    let mut log_index = 0u64;
    receipts
        .iter()
        .map(|receipt| {
            let value = receipt_json(receipt, log_index);
            log_index += receipt.logs.len() as u64;
            value
        })
        .collect()
}

/// eth_syncing's answer: false when in step (one block behind is a decision in flight, as geth
/// counts it), else geth's object; `start` keeps the head at which this node fell behind.
fn syncing(head: u64, highest: u64, start: &mut Option<u64>) -> Value {
    if highest <= head + 1 {
        *start = None;
        return Value::Bool(false);
    }
    let starting = *start.get_or_insert(head);
    json!({
        "startingBlock": quantity(starting),
        "currentBlock": quantity(head),
        "highestBlock": quantity(highest),
    })
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("web3_clientVersion", |_, _, _| CLIENT_VERSION)?;
    module.register_method("web3_sha3", |params, _, _| -> RpcResult<B256> {
        let (data,): (Bytes,) = params.parse()?;
        Ok(alloy_primitives::keccak256(&data))
    })?;
    module.register_method("net_version", |_, ctx, _| ctx.chain_id.to_string())?;
    module.register_method("net_listening", |_, _, _| true)?;
    module.register_method("net_peerCount", |_, ctx, _| quantity(ctx.network.as_ref().map_or(0, |n| n.connected().len()) as u64))?;
    module.register_method("eth_chainId", |_, ctx, _| quantity(ctx.chain_id))?;
    module.register_blocking_method("eth_syncing", |_, ctx, _| -> RpcResult<serde_json::Value> {
        let head = ctx.reader.snapshot()?.head_number().unwrap_or_default();
        let highest = ctx.network.as_ref().and_then(|n| n.highest_peer_height()).unwrap_or(0);
        let mut start = ctx.sync_start.lock().map_err(|_| super::error::server_error("sync state unavailable"))?;
        Ok(syncing(head, highest, &mut start))
    })?;
    module.register_method("eth_mining", |_, _, _| false)?;
    module.register_blocking_method("eth_blockNumber", |_, ctx, _| -> RpcResult<String> {
        Ok(quantity(ctx.reader.snapshot()?.head_number().unwrap_or_default()))
    })?;
    module.register_blocking_method("eth_getBalance", |params, ctx, _| -> RpcResult<U256> {
        let (address, block): (Address, Option<BlockRef>) = two_params(&params)?;
        let snapshot = state_at(ctx.reader.snapshot()?, block)?;
        Ok(snapshot.account(&address)?.map(|a| a.balance).unwrap_or_default())
    })?;
    module.register_async_method("eth_getTransactionCount", |params, ctx, _| async move {
        let (address, block): (Address, Option<BlockRef>) = two_params(&params)?;
        if block == Some(BlockRef::Pending) {
            let nonce = ctx.ask(|reply| NodeRequest::PendingNonce { address, reply }).await?;
            return RpcResult::Ok(quantity(nonce));
        }
        let snapshot = state_at(ctx.reader.snapshot()?, block)?;
        Ok(quantity(snapshot.account(&address)?.map(|a| a.nonce).unwrap_or_default()))
    })?;
    module.register_blocking_method("eth_getCode", |params, ctx, _| -> RpcResult<Bytes> {
        let (address, block): (Address, Option<BlockRef>) = two_params(&params)?;
        let snapshot = state_at(ctx.reader.snapshot()?, block)?;
        let Some(account) = snapshot.account(&address)? else { return Ok(Bytes::new()) };
        if !account.has_code() {
            return Ok(Bytes::new());
        }
        Ok(snapshot.code(&account.code_hash)?.unwrap_or_default())
    })?;
    module.register_blocking_method("eth_getStorageAt", |params, ctx, _| -> RpcResult<B256> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let slot: U256 = seq.next()?;
        let block: Option<BlockRef> = seq.optional_next()?;
        no_more(seq)?;
        let snapshot = state_at(ctx.reader.snapshot()?, block)?;
        Ok(B256::from(snapshot.storage_at(&address, &slot)?))
    })?;
    module.register_blocking_method("eth_gasPrice", |_, ctx, _| -> RpcResult<String> {
        let snapshot = ctx.reader.snapshot()?;
        let head = snapshot.head_number().unwrap_or_default();
        let (header, _) = snapshot.header(head)?.ok_or_else(|| server_error("header not found"))?;
        Ok(quantity(producer::next_base_fee(&header) as u128 + SUGGESTED_TIP))
    })?;
    module.register_method("eth_maxPriorityFeePerGas", |_, _, _| quantity(SUGGESTED_TIP))?;
    module.register_blocking_method("eth_feeHistory", |params, ctx, _| fee_history(&params, &ctx))?;
    module.register_async_method("eth_sendRawTransaction", |params, ctx, _| async move {
        let (raw,): (Bytes,) = params.parse()?;
        let (envelope, sender) = mempool::decode_transaction(&raw, ctx.chain_id, ctx.max_tx_bytes)
            .map_err(|e| server_error(e.to_string()))?;
        ctx.submit(envelope, sender).await
    })?;
    module.register_async_method("eth_getTransactionByHash", |params, ctx, _| async move {
        let (hash,): (B256,) = params.parse()?;
        let mined = {
            let snapshot = ctx.reader.snapshot()?;
            match snapshot.transaction(&hash)? {
                Some(record) => Some(mined_transaction_json(&snapshot, &record)?),
                None => None,
            }
        };
        if let Some(mined) = mined {
            return RpcResult::Ok(mined);
        }
        let pooled = ctx.ask(|reply| NodeRequest::PooledTransaction { hash, reply }).await?;
        Ok(pooled.map(|(envelope, sender)| transaction_json(&envelope, sender, None)).unwrap_or(Value::Null))
    })?;
    module.register_blocking_method("eth_getTransactionReceipt", |params, ctx, _| -> RpcResult<Value> {
        let (hash,): (B256,) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        let Some(receipt) = snapshot.receipt(&hash)? else { return Ok(Value::Null) };
        let receipts = snapshot.block_receipts(receipt.block_number)?;
        let first_log_index: u64 =
            receipts.iter().take(receipt.tx_index as usize).map(|r| r.logs.len() as u64).sum();
        Ok(receipt_json(&receipt, first_log_index))
    })?;
    module.register_blocking_method("eth_getBlockByNumber", |params, ctx, _| -> RpcResult<Value> {
        let (block, full): (BlockRef, Option<bool>) = two_params(&params)?;
        if matches!(block, BlockRef::Hash(_)) {
            return Err(invalid_params("eth_getBlockByNumber takes a number or tag, not a hash"));
        }
        let snapshot = ctx.reader.snapshot()?;
        match block_number(&snapshot, block)? {
            Some(number) => block_json(&snapshot, number, full.unwrap_or(false)),
            None => Ok(Value::Null),
        }
    })?;
    module.register_blocking_method("eth_getBlockByHash", |params, ctx, _| -> RpcResult<Value> {
        let (hash, full): (B256, Option<bool>) = two_params(&params)?;
        let snapshot = ctx.reader.snapshot()?;
        match snapshot.number_of(&hash)? {
            Some(number) => block_json(&snapshot, number, full.unwrap_or(false)),
            None => Ok(Value::Null),
        }
    })?;
    module.register_blocking_method("eth_getBlockReceipts", |params, ctx, _| -> RpcResult<Value> {
        let (block,): (BlockRef,) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        match block_number(&snapshot, block)? {
            Some(number) => Ok(json!(receipts_json(&snapshot.block_receipts(number)?))),
            None => Ok(Value::Null),
        }
    })?;
    module.register_async_method("eth_getProof", |params, ctx, _| async move {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let slots: Vec<B256> = seq.next()?;
        let block: Option<BlockRef> = seq.optional_next()?;
        no_more(seq)?;
        if slots.len() > MAX_PROOF_SLOTS {
            return Err(invalid_params(format!("too many storage keys (at most {MAX_PROOF_SLOTS})")));
        }
        let wanted = match block {
            None | Some(BlockRef::Latest | BlockRef::Pending | BlockRef::Safe | BlockRef::Finalized) => None,
            Some(other) => Some(block_number(&ctx.reader.snapshot()?, other)?.ok_or_else(|| server_error("header not found"))?),
        };
        let slots: Vec<U256> = slots.iter().map(|s| U256::from_be_bytes(s.0)).collect();
        // The world answers once every block it sealed is committed, so the proof is against
        // the head readers see.
        let proof = ctx.ask(|reply| NodeRequest::Proof { address, slots, reply }).await?;
        if let Some(wanted) = wanted
            && wanted != proof.block
        {
            return Err(server_error(format!(
                "eth_getProof serves the latest block only (now {}); block {wanted} was asked for",
                proof.block
            )));
        }
        let hex = |nodes: &[Vec<u8>]| -> Vec<Bytes> { nodes.iter().map(|n| Bytes::copy_from_slice(n)).collect() };
        RpcResult::Ok(json!({
            "address": address,
            "accountProof": hex(&proof.account_proof),
            "balance": proof.info.balance,
            "codeHash": proof.info.code_hash,
            "nonce": quantity(proof.info.nonce),
            "storageHash": proof.storage_hash,
            "storageProof": proof.storage.iter().map(|(slot, value, nodes)| json!({
                "key": B256::from(*slot),
                "value": value,
                "proof": hex(nodes),
            })).collect::<Vec<_>>(),
        }))
    })?;
    module.register_blocking_method("eth_getBlockTransactionCountByHash", |params, ctx, _| -> RpcResult<Value> {
        let (hash,): (B256,) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        match snapshot.number_of(&hash)? {
            Some(number) => Ok(json!(quantity(snapshot.body(number)?.len() as u64))),
            None => Ok(Value::Null),
        }
    })?;
    module.register_blocking_method("eth_getTransactionByBlockNumberAndIndex", |params, ctx, _| -> RpcResult<Value> {
        let (block, index): (BlockRef, U64) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        match block_number(&snapshot, block)? {
            Some(number) => transaction_at(&snapshot, number, index.to()),
            None => Ok(Value::Null),
        }
    })?;
    module.register_blocking_method("eth_getTransactionByBlockHashAndIndex", |params, ctx, _| -> RpcResult<Value> {
        let (hash, index): (B256, U64) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        match snapshot.number_of(&hash)? {
            Some(number) => transaction_at(&snapshot, number, index.to()),
            None => Ok(Value::Null),
        }
    })?;
    // No uncles after the merge, and none on this chain ever: 0 for a block that exists.
    module.register_blocking_method("eth_getUncleCountByBlockNumber", |params, ctx, _| -> RpcResult<Value> {
        let (block,): (BlockRef,) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        Ok(block_number(&snapshot, block)?.map(|_| json!("0x0")).unwrap_or(Value::Null))
    })?;
    module.register_blocking_method("eth_getUncleCountByBlockHash", |params, ctx, _| -> RpcResult<Value> {
        let (hash,): (B256,) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        Ok(snapshot.number_of(&hash)?.map(|_| json!("0x0")).unwrap_or(Value::Null))
    })?;
    module.register_method("eth_getUncleByBlockNumberAndIndex", |_, _, _| Value::Null)?;
    module.register_method("eth_getUncleByBlockHashAndIndex", |_, _, _| Value::Null)?;
    module.register_blocking_method("eth_getBlockTransactionCountByNumber", |params, ctx, _| -> RpcResult<Value> {
        let (block,): (BlockRef,) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        match block_number(&snapshot, block)? {
            Some(number) => Ok(json!(quantity(snapshot.body(number)?.len() as u64))),
            None => Ok(Value::Null),
        }
    })?;
    Ok(())
}

fn fee_history(params: &Params, ctx: &RpcContext) -> RpcResult<Value> {
    let mut seq = params.sequence();
    let count: U64 = seq.next()?;
    let newest: BlockRef = seq.next()?;
    let percentiles: Option<Vec<f64>> = seq.optional_next()?;
    no_more(seq)?;
    let percentiles = percentiles.unwrap_or_default();
    if percentiles.len() > 100 {
        return Err(invalid_params("too many reward percentiles (at most 100)"));
    }
    if percentiles.iter().any(|p| !(0.0..=100.0).contains(p)) || percentiles.windows(2).any(|w| w[0] > w[1]) {
        return Err(invalid_params("reward percentiles must be ascending values between 0 and 100"));
    }
    let snapshot = ctx.reader.snapshot()?;
    let newest = block_number(&snapshot, newest)?.ok_or_else(|| server_error("header not found"))?;
    let count = count.to::<u64>().min(FEE_HISTORY_MAX_BLOCKS).min(newest + 1);
    if count == 0 {
        return Ok(json!({ "oldestBlock": quantity(newest), "baseFeePerGas": [], "gasUsedRatio": [] }));
    }
    let oldest = newest + 1 - count;
    let mut base_fees = Vec::with_capacity(count as usize + 1);
    let mut ratios = Vec::with_capacity(count as usize);
    let mut rewards = Vec::with_capacity(count as usize);
    let mut last_header = None;
    for number in oldest..=newest {
        let (header, _) = snapshot.header(number)?.ok_or_else(|| server_error("header not found"))?;
        let base_fee = header.base_fee_per_gas.unwrap_or_default();
        base_fees.push(quantity(base_fee));
        ratios.push(header.gas_used as f64 / header.gas_limit.max(1) as f64);
        if !percentiles.is_empty() {
            rewards.push(block_rewards(&snapshot, number, base_fee, header.gas_used, &percentiles)?);
        }
        last_header = Some(header);
    }
    let next = last_header.map(|h| producer::next_base_fee(&h)).unwrap_or_default();
    base_fees.push(quantity(next));
    let mut result = json!({ "oldestBlock": quantity(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios });
    if !percentiles.is_empty() {
        result["reward"] = json!(rewards);
    }
    Ok(result)
}

/// Tips at the given percentiles of a block's gas, as geth computes them.
fn block_rewards(snapshot: &StateSnapshot, number: u64, base_fee: u64, gas_used: u64, percentiles: &[f64]) -> RpcResult<Vec<String>> {
    let mut tips: Vec<(u128, u64)> = Vec::new();
    let receipts = snapshot.block_receipts(number)?;
    for (record, receipt) in snapshot.block_transactions(number)?.iter().zip(&receipts) {
        let tip = decode_stored(&record.raw)?.effective_tip_per_gas(base_fee).unwrap_or_default();
        tips.push((tip, receipt.gas_used));
    }
    if tips.is_empty() {
        return Ok(percentiles.iter().map(|_| quantity(0u64)).collect());
    }
    tips.sort_unstable();
    let mut index = 0;
    let mut sum = tips[0].1;
    Ok(percentiles
        .iter()
        .map(|p| {
            let threshold = (gas_used as f64 * p / 100.0) as u64;
            while sum < threshold && index < tips.len() - 1 {
                index += 1;
                sum += tips[index].1;
            }
            quantity(tips[index].0)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eth_syncing_reports_the_catch_up_until_it_is_done() {
        let mut start = None;
        assert_eq!(syncing(10, 0, &mut start), Value::Bool(false), "no peers");
        assert_eq!(syncing(10, 11, &mut start), Value::Bool(false), "a decision in flight");
        let behind = syncing(10, 50, &mut start);
        assert_eq!(behind, json!({"startingBlock": "0xa", "currentBlock": "0xa", "highestBlock": "0x32"}));
        let later = syncing(30, 52, &mut start);
        assert_eq!(later["startingBlock"], "0xa", "where the catch-up started");
        assert_eq!(later["currentBlock"], "0x1e");
        assert_eq!(syncing(52, 52, &mut start), Value::Bool(false));
        assert_eq!(start, None, "a later fall-behind starts afresh");
    }
}
