//! Polled filters (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
//! eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter): what ethers' `contract.on`
//! over HTTP and web3.py's `create_filter` use. As geth, a filter nobody polls for five minutes
//! is dropped.

use alloy_primitives::B256;
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::RpcContext;
use super::error::{RpcResult, invalid_params, limit_exceeded, server_error};
use super::logs::{collect_logs, log_range};
use super::types::{BlockRef, LogFilter};

/// geth's deadline for an idle filter.
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Most filters installed at once (each holds memory until polled or expired).
pub const MAX_FILTERS: usize = 10_000;
/// Most transaction hashes a pending filter keeps between polls; older ones are dropped.
pub const MAX_PENDING_PER_FILTER: usize = 10_000;

enum Kind {
    Blocks { next: u64 },
    Logs { filter: LogFilter, next: u64 },
    PendingTransactions { hashes: Vec<B256> },
}

struct Installed {
    kind: Kind,
    polled: Instant,
}

#[derive(Default)]
pub struct FilterTable {
    filters: Mutex<HashMap<String, Installed>>,
}

impl FilterTable {
    fn with<T>(&self, act: impl FnOnce(&mut HashMap<String, Installed>) -> RpcResult<T>) -> RpcResult<T> {
        let mut filters = self.filters.lock().map_err(|_| server_error("filter table unavailable"))?;
        let now = Instant::now();
        filters.retain(|_, f| now.duration_since(f.polled) < FILTER_TIMEOUT);
        act(&mut filters)
    }

    fn install(&self, kind: Kind) -> RpcResult<String> {
        self.with(|filters| {
            if filters.len() >= MAX_FILTERS {
                return Err(limit_exceeded(format!("too many filters installed (at most {MAX_FILTERS})")));
            }
            let id = format!("0x{}", alloy_primitives::hex::encode(&B256::random()[..16]));
            filters.insert(id.clone(), Installed { kind, polled: Instant::now() });
            Ok(id)
        })
    }

    /// A transaction this node admitted to its pool, for the pending-transaction filters.
    pub fn pending_arrived(&self, hash: B256) {
        let Ok(mut filters) = self.filters.lock() else { return };
        for filter in filters.values_mut() {
            if let Kind::PendingTransactions { hashes } = &mut filter.kind {
                if hashes.len() >= MAX_PENDING_PER_FILTER {
                    hashes.remove(0);
                }
                hashes.push(hash);
            }
        }
    }
}

fn not_found() -> jsonrpsee::types::ErrorObjectOwned {
    server_error("filter not found")
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_newFilter", |params, ctx, _| -> RpcResult<String> {
        let (filter,): (LogFilter,) = params.parse()?;
        filter.check_limits()?;
        if filter.block_hash.is_some() {
            return Err(invalid_params("eth_newFilter does not take blockHash: use eth_getLogs for one block"));
        }
        let snapshot = ctx.reader.snapshot()?;
        let head = snapshot.head_number().unwrap_or_default();
        // Changes are logs of blocks after the filter is installed, from fromBlock if later.
        let from = match filter.from_block {
            Some(BlockRef::Number(n)) => n.max(head + 1),
            _ => head + 1,
        };
        ctx.filters.install(Kind::Logs { filter, next: from })
    })?;
    module.register_blocking_method("eth_newBlockFilter", |_, ctx, _| -> RpcResult<String> {
        let head = ctx.reader.snapshot()?.head_number().unwrap_or_default();
        ctx.filters.install(Kind::Blocks { next: head + 1 })
    })?;
    module.register_method("eth_newPendingTransactionFilter", |_, ctx, _| -> RpcResult<String> {
        ctx.filters.install(Kind::PendingTransactions { hashes: Vec::new() })
    })?;
    module.register_method("eth_uninstallFilter", |params, ctx, _| -> RpcResult<bool> {
        let (id,): (String,) = params.parse()?;
        ctx.filters.with(|filters| Ok(filters.remove(&id).is_some()))
    })?;
    module.register_blocking_method("eth_getFilterChanges", |params, ctx, _| -> RpcResult<Value> {
        let (id,): (String,) = params.parse()?;
        let snapshot = ctx.reader.snapshot()?;
        let head = snapshot.head_number().unwrap_or_default();
        let max_results = ctx.limits.get_logs_max_results;
        let max_blocks = ctx.limits.get_logs_max_blocks;
        ctx.filters.with(|filters| {
            let filter = filters.get_mut(&id).ok_or_else(not_found)?;
            filter.polled = Instant::now();
            match &mut filter.kind {
                Kind::Blocks { next } => {
                    let mut hashes = Vec::new();
                    while *next <= head {
                        if let Some((_, hash)) = snapshot.header(*next)? {
                            hashes.push(hash);
                        }
                        *next += 1;
                    }
                    Ok(json!(hashes))
                }
                Kind::Logs { filter, next } => {
                    let to = match filter.to_block {
                        Some(BlockRef::Number(n)) => n.min(head),
                        _ => head,
                    };
                    if *next > to {
                        return Ok(json!([]));
                    }
                    // A long-unpolled filter catches up a bounded range at a time.
                    let until = to.min(*next + max_blocks - 1);
                    let logs = collect_logs(&snapshot, filter, *next, until, max_results)?;
                    *next = until + 1;
                    Ok(json!(logs))
                }
                Kind::PendingTransactions { hashes } => Ok(json!(std::mem::take(hashes))),
            }
        })
    })?;
    module.register_blocking_method("eth_getFilterLogs", |params, ctx, _| -> RpcResult<Value> {
        let (id,): (String,) = params.parse()?;
        let filter = ctx.filters.with(|filters| {
            let installed = filters.get_mut(&id).ok_or_else(not_found)?;
            installed.polled = Instant::now();
            match &installed.kind {
                Kind::Logs { filter, .. } => Ok(filter.clone()),
                _ => Err(invalid_params("eth_getFilterLogs takes a log filter (made by eth_newFilter)")),
            }
        })?;
        let snapshot = ctx.reader.snapshot()?;
        let (from, to) = log_range(&snapshot, &filter, ctx.limits.get_logs_max_blocks)?;
        let head = snapshot.head_number().unwrap_or_default();
        if from > head {
            return Ok(json!([]));
        }
        Ok(json!(collect_logs(&snapshot, &filter, from, to.min(head), ctx.limits.get_logs_max_results)?))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_filters_keep_a_bounded_backlog_and_idle_filters_expire() {
        let table = FilterTable::default();
        let id = table.install(Kind::PendingTransactions { hashes: Vec::new() }).unwrap();
        for n in 0..(MAX_PENDING_PER_FILTER as u64 + 5) {
            table.pending_arrived(B256::from(alloy_primitives::U256::from(n)));
        }
        table
            .with(|filters| {
                let Kind::PendingTransactions { hashes } = &filters[&id].kind else { panic!("kind") };
                assert_eq!(hashes.len(), MAX_PENDING_PER_FILTER);
                assert_eq!(hashes[0], B256::from(alloy_primitives::U256::from(5u64)), "the oldest are dropped");
                Ok(())
            })
            .unwrap();
        // Age the filter past the deadline: the next operation drops it.
        table.filters.lock().unwrap().get_mut(&id).unwrap().polled = Instant::now() - FILTER_TIMEOUT;
        assert!(table.with(|filters| Ok(filters.is_empty())).unwrap());
    }

    #[test]
    fn the_table_refuses_filters_past_its_cap() {
        let table = FilterTable::default();
        for _ in 0..MAX_FILTERS {
            table.install(Kind::Blocks { next: 0 }).unwrap();
        }
        let error = table.install(Kind::Blocks { next: 0 }).unwrap_err();
        assert!(error.message().contains("too many filters"), "{error:?}");
    }
}
