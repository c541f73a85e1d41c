//! zgnode's own `zgs_downloadSegmentWithProofSigned`: a segment with its proof, as
//! `zgs_downloadSegmentWithProof` answers, signed by the miner key this node stakes with in the
//! PoRA mine (`personal_sign` over `PoraMine.segmentAnswerHash`). An honest node's answer always
//! verifies against the file's on-chain root; a signed one that does not is evidence the mine
//! judges (`reportBadSegment`), so whoever audits a node (an alignment node) can have a node that
//! serves corrupted data penalized, and nobody can frame one that does not.

use alloy_primitives::{Address, B256, Bytes};
use alloy_signer::SignerSync;
use base64::Engine;
use jsonrpsee::server::RpcModule;
use serde::Serialize;

use zg_components::storage::Proof;
use zg_systems::storage::pora::{inner_siblings, segment_answer_hash};

use super::StorageContext;
use crate::rpc::error::{RpcResult, server_error};

/// The answer: 0G's segment-with-proof fields, the submission it belongs to, who signed, and the
/// 65-byte signature.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedSegment {
    pub root: B256,
    /// Standard base64, as `zgs_downloadSegmentWithProof`.
    pub data: String,
    pub index: u64,
    pub proof: Proof,
    pub file_size: u64,
    pub tx_seq: u64,
    pub signer: Address,
    pub signature: Bytes,
}

pub fn register(module: &mut RpcModule<StorageContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_blocking_method("zgs_downloadSegmentWithProofSigned", |params, ctx, _| -> RpcResult<Option<SignedSegment>> {
        let (root, index): (B256, u64) = params.parse()?;
        let Some(key) = &ctx.answer_key else {
            return Err(server_error("this node stakes nothing for what it serves (no storage.miner_key, or no PoRA mine on this chain): ask zgs_downloadSegmentWithProof"));
        };
        let Some(record) = ctx.file_by_root(&root)? else { return Ok(None) };
        let Some((data, proof)) = ctx.served_segment(&record, index)? else { return Ok(None) };
        let hash = segment_answer_hash(ctx.chain_id, root, index, &data, &inner_siblings(&proof));
        let signature = key.sign_message_sync(hash.as_slice()).map_err(|e| server_error(format!("signing the answer: {e}")))?;
        Ok(Some(SignedSegment {
            root,
            data: base64::engine::general_purpose::STANDARD.encode(&data),
            index,
            proof,
            file_size: record.size,
            tx_seq: record.tx_seq,
            signer: key.address(),
            signature: Bytes::from(signature.as_bytes().to_vec()),
        }))
    })?;
    Ok(())
}
