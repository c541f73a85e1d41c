//! The flow as 0G's node exposes it: `zgs_getFlowContext` (its Merkle root and length), and one
//! sector by its index in the flow (`zgs_getHashAtNodeIndex`, `zgs_getDataByNodeIndex` and its
//! older name `zgs_getChunkByIndex`, `zgs_getMetaDataByNodeIndex`: which file holds it). A sector
//! in the padding between files reads as zeros; past the flow's end, null.

use alloy_primitives::{B256, keccak256};
use jsonrpsee::server::RpcModule;
use serde_json::{Value, json};

use zg_components::storage::FileRecord;
use zg_components::storage::merkle::CHUNK_SIZE;

use super::StorageContext;
use crate::rpc::error::{RpcResult, internal};

/// Where a flow sector lies.
enum Sector {
    InFile { record: FileRecord, within: u64 },
    Padding,
    PastTheEnd,
}

impl StorageContext {
    fn sector(&self, index: u64) -> RpcResult<Sector> {
        let files = self.store.files().map_err(internal)?;
        let end = files.iter().map(|f| f.start_entry_index + f.sectors).max().unwrap_or(0);
        if index >= end {
            return Ok(Sector::PastTheEnd);
        }
        Ok(match files.into_iter().find(|f| (f.start_entry_index..f.start_entry_index + f.sectors).contains(&index)) {
            Some(record) => Sector::InFile { within: index - record.start_entry_index, record },
            None => Sector::Padding,
        })
    }

    /// The sector's 256 bytes, or None when it is past the flow's end or not readable here.
    fn sector_bytes(&self, index: u64) -> RpcResult<Option<Vec<u8>>> {
        match self.sector(index)? {
            Sector::PastTheEnd => Ok(None),
            Sector::Padding => Ok(Some(vec![0; CHUNK_SIZE])),
            Sector::InFile { record, within } => {
                let from = within * CHUNK_SIZE as u64;
                if from >= record.size {
                    return Ok(Some(vec![0; CHUNK_SIZE]));
                }
                let Some(readable) = self.readable(&record)? else { return Ok(None) };
                let Some(mut bytes) = self.file_bytes(&readable, from, (CHUNK_SIZE as u64).min(record.size - from))? else { return Ok(None) };
                bytes.resize(CHUNK_SIZE, 0);
                Ok(Some(bytes))
            }
        }
    }
}

pub fn register(module: &mut RpcModule<StorageContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_blocking_method("zgs_getFlowContext", |_, ctx, _| -> RpcResult<(B256, u64)> {
        let files = ctx.store.files().map_err(internal)?;
        Ok(zg_systems::storage::flow::flow_context(&files))
    })?;
    module.register_blocking_method("zgs_getHashAtNodeIndex", |params, ctx, _| -> RpcResult<Option<B256>> {
        let (index,): (u64,) = params.parse()?;
        Ok(ctx.sector_bytes(index)?.map(keccak256))
    })?;
    for method in ["zgs_getDataByNodeIndex", "zgs_getChunkByIndex"] {
        module.register_blocking_method(method, |params, ctx, _| -> RpcResult<Option<Vec<u8>>> {
            let (index,): (u64,) = params.parse()?;
            ctx.sector_bytes(index)
        })?;
    }
    module.register_blocking_method("zgs_getMetaDataByNodeIndex", |params, ctx, _| -> RpcResult<Value> {
        let (index,): (u64,) = params.parse()?;
        Ok(match ctx.sector(index)? {
            Sector::PastTheEnd => Value::Null,
            Sector::Padding => json!({ "flowIndex": index, "padding": true }),
            Sector::InFile { record, within } => json!({
                "flowIndex": index,
                "padding": within * CHUNK_SIZE as u64 >= record.size,
                "txSeq": record.tx_seq,
                "dataRoot": record.root(),
                "indexInFile": within,
                "fileSize": record.size,
                "finalized": ctx.is_finalized(&record)?,
            }),
        })
    })?;
    Ok(())
}
