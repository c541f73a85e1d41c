//! `zgnode_status`: what the status page (`crate::status`) shows beyond the Ethereum methods, in
//! one answer: each role's own section, read from the state that role's methods read (the DA
//! role's blob view, the storage role's store...), the validator network as this node sees it,
//! and the GPU. Nothing here is a second count of anything: a section is a view of the role's
//! state when asked. No keys, tokens or secrets: peers appear by public key and address.

use std::sync::{Arc, Mutex};

use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use serde_json::{Map, Value, json};

use super::RpcContext;
use super::error::RpcResult;

/// How a role's section reads its state now.
pub type SectionReader = Arc<dyn Fn() -> Value + Send + Sync>;

/// The roles' sections, added while the node is assembled (kept in the RPC's `RoleState`).
#[derive(Clone, Default)]
pub struct StatusSections(Arc<Mutex<Vec<(&'static str, SectionReader)>>>);

impl StatusSections {
    /// Adds (or replaces) the section `name`.
    pub fn add(&self, name: &'static str, read: impl Fn() -> Value + Send + Sync + 'static) {
        if let Ok(mut sections) = self.0.lock() {
            sections.retain(|(existing, _)| *existing != name);
            sections.push((name, Arc::new(read)));
        }
    }

    /// Every section, read now.
    pub fn read(&self) -> Map<String, Value> {
        let readers: Vec<(&'static str, SectionReader)> = self.0.lock().map(|s| s.clone()).unwrap_or_default();
        readers.into_iter().map(|(name, read)| (name.to_string(), read())).collect()
    }
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("zgnode_status", |_, ctx, _| -> RpcResult<Value> {
        let network = ctx.network.as_ref().map(|net| {
            let peers: Vec<Value> = net
                .peers()
                .iter()
                .map(|peer| {
                    json!({
                        "key": alloy_primitives::hex::encode_prefixed(peer.key),
                        "address": peer.address.map(|a| a.to_string()),
                        "connected": peer.address.is_some(),
                        "latencyMs": peer.latency_ms(),
                        "banned": peer.banned,
                    })
                })
                .collect();
            json!({
                "ownKey": alloy_primitives::hex::encode_prefixed(net.own_key()),
                "members": net.members().len(),
                "connected": net.connected().len(),
                "highestPeerHeight": net.highest_peer_height(),
                "peers": peers,
            })
        });
        let gpu = crate::gpu::accel::status().map(|status| json!({"present": status.gpu.is_some(), "line": status.line}));
        let roles = ctx.roles.get::<StatusSections>().map(StatusSections::read).unwrap_or_default();
        Ok(json!({"network": network, "gpu": gpu, "roles": roles}))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_read_when_asked_and_replaced_by_name() {
        let sections = StatusSections::default();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = counter.clone();
        sections.add("da", move || json!(seen.load(std::sync::atomic::Ordering::SeqCst)));
        assert_eq!(sections.read()["da"], json!(0));
        counter.store(5, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(sections.read()["da"], json!(5), "read now, not when added");
        sections.add("da", || json!("again"));
        assert_eq!(sections.read().len(), 1);
        assert_eq!(sections.read()["da"], json!("again"));
    }
}
