//! eth_getLogs: block-range scans with a cap, skipping blocks whose bloom rules them out.

use alloy_primitives::{Bloom, BloomInput};
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use serde_json::Value;

use super::RpcContext;
use super::error::{RpcResult, invalid_params, limit_exceeded};
use super::eth::block_number;
use super::types::{BlockRef, LogFilter, log_json};
use crate::store::StateSnapshot;

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_getLogs", |params, ctx, _| -> RpcResult<Vec<Value>> {
        let (filter,): (LogFilter,) = params.parse()?;
        filter.check_limits()?;
        let snapshot = ctx.reader.snapshot()?;
        let (from, to) = log_range(&snapshot, &filter, ctx.limits.get_logs_max_blocks)?;
        let head = snapshot.head_number().unwrap_or_default();
        collect_logs(&snapshot, &filter, from, to.min(head), ctx.limits.get_logs_max_results)
    })?;
    Ok(())
}

/// The blocks a log filter covers (`blockHash`, or `fromBlock`..`toBlock` with latest as the
/// default), refused past `max_blocks`.
pub fn log_range(snapshot: &StateSnapshot, filter: &LogFilter, max_blocks: u64) -> RpcResult<(u64, u64)> {
    let (from, to) = match filter.block_hash {
        Some(hash) => {
            if filter.from_block.is_some() || filter.to_block.is_some() {
                return Err(invalid_params("cannot specify both blockHash and fromBlock/toBlock"));
            }
            match snapshot.number_of(&hash)? {
                Some(number) => (number, number),
                None => return Err(super::error::server_error("unknown block")),
            }
        }
        None => {
            let head = snapshot.head_number().unwrap_or_default();
            let resolve = |block: Option<BlockRef>| -> RpcResult<u64> {
                match block.unwrap_or(BlockRef::Latest) {
                    BlockRef::Number(n) => Ok(n),
                    other => Ok(block_number(snapshot, other)?.unwrap_or(head)),
                }
            };
            (resolve(filter.from_block)?, resolve(filter.to_block)?)
        }
    };
    if from > to {
        return Err(invalid_params("invalid block range params"));
    }
    // The cap applies to the range asked for, so a hostile range fails fast.
    let span = (to - from).saturating_add(1);
    if span > max_blocks {
        return Err(limit_exceeded(format!("block range {span} exceeds the limit of {max_blocks} blocks")));
    }
    Ok((from, to))
}

/// Whether a block's bloom can contain logs matching the filter.
pub fn bloom_may_match(bloom: &Bloom, filter: &LogFilter) -> bool {
    let address_ok = filter.address.0.as_ref().is_none_or(|addresses| {
        addresses.iter().any(|a| bloom.contains_input(BloomInput::Raw(a.as_slice())))
    });
    address_ok
        && filter.topics.iter().all(|slot| {
            slot.0.as_ref().is_none_or(|topics| {
                topics.iter().any(|t| bloom.contains_input(BloomInput::Raw(t.as_slice())))
            })
        })
}

pub fn collect_logs(snapshot: &StateSnapshot, filter: &LogFilter, from: u64, to: u64, max: usize) -> RpcResult<Vec<Value>> {
    let mut logs = Vec::new();
    for number in from..=to {
        let Some((header, _)) = snapshot.header(number)? else { continue };
        if !bloom_may_match(&header.logs_bloom, filter) {
            continue;
        }
        let mut log_index = 0u64;
        for receipt in snapshot.block_receipts(number)? {
            for log in &receipt.logs {
                if filter.matches(log) {
                    if logs.len() == max {
                        return Err(limit_exceeded(format!("query returned more than {max} results")));
                    }
                    logs.push(log_json(&receipt, log, log_index));
                }
                log_index += 1;
            }
        }
    }
    Ok(logs)
}
