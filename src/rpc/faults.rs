//! `zgnode_setNetFaults`, served only with `network.fault_injection = true` (test networks): the
//! fault campaign cuts and heals links and delays frames of nodes running as processes.

use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;

use super::RpcContext;
use super::error::{RpcResult, server_error};

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    // Params: [blocked peer keys (64 hex each), max delay in ms]. Replaces the previous faults.
    module.register_method("zgnode_setNetFaults", |params, ctx, _| -> RpcResult<bool> {
        let (blocked, max_delay_ms): (Vec<String>, u64) = params.parse()?;
        let network = ctx.network.as_ref().ok_or_else(|| server_error("this node has no validator network"))?;
        let mut keys = Vec::with_capacity(blocked.len());
        for key in &blocked {
            let bytes = alloy_primitives::hex::decode(key.trim_start_matches("0x"))
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| jsonrpsee::types::ErrorObjectOwned::owned(-32602, format!("bad peer key {key:?}: expected 64 hex characters"), None::<()>))?;
            keys.push(bytes);
        }
        network.set_blocked(keys);
        network.set_max_delay(max_delay_ms.min(10_000));
        Ok(true)
    })?;
    Ok(())
}
