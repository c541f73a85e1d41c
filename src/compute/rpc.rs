//! `compute_bestProvider(model, maxPrice)` and `compute_providers(model?, maxPrice?)` on the
//! node's JSON-RPC: the inference services on chain, probed for latency and read for their
//! settled history, ranked by [`super::ranking`].

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use jsonrpsee::server::RpcModule;
use std::sync::Arc;

use super::ranking::{ProbeCache, RankedProvider, eligible, rank};
use crate::rpc::RpcContext;
use crate::rpc::call::view;
use crate::rpc::error::{RpcResult, invalid_params, server_error};
use zg_systems::compute::contracts::{IInferenceServing, INFERENCE_ADDRESS, InferenceService};

/// Services and accounts read per page (the contract's limit); the most services one call
/// considers.
const PAGE: u64 = 50;
const MAX_SERVICES: usize = 1_000;

fn call<C: SolCall>(context: &RpcContext, call: &C) -> RpcResult<C::Return> {
    let output = view(context, INFERENCE_ADDRESS, call.abi_encode().into())?;
    C::abi_decode_returns(&output).map_err(|e| server_error(format!("the inference contract answered off its ABI: {e}")))
}

fn services(context: &RpcContext) -> RpcResult<Vec<InferenceService>> {
    let mut all = Vec::new();
    loop {
        let page = call(context, &IInferenceServing::getAllServicesCall { offset: U256::from(all.len()), limit: U256::from(PAGE) })?;
        let count = page.services.len();
        all.extend(page.services);
        if count == 0 || U256::from(all.len()) >= page.total || all.len() >= MAX_SERVICES {
            return Ok(all);
        }
    }
}

/// (settlements, paying users) from the provider's sub-accounts.
fn history(context: &RpcContext, provider: Address) -> RpcResult<(u64, u64)> {
    let (mut settlements, mut users, mut offset) = (0u64, 0u64, 0u64);
    loop {
        let page = call(context, &IInferenceServing::getAccountsByProviderCall { provider, offset: U256::from(offset), limit: U256::from(PAGE) })?;
        for account in &page.accounts {
            let nonce: u64 = account.nonce.saturating_to();
            settlements = settlements.saturating_add(nonce);
            users += u64::from(nonce > 0);
        }
        offset += page.accounts.len() as u64;
        if page.accounts.is_empty() || U256::from(offset) >= page.total || offset >= 10 * PAGE {
            return Ok((settlements, users));
        }
    }
}

async fn ranked(context: Arc<RpcContext>, model: Option<String>, max_price: Option<U256>) -> RpcResult<Vec<RankedProvider>> {
    let reader = context.clone();
    let found = tokio::task::spawn_blocking(move || -> RpcResult<Vec<(InferenceService, (u64, u64))>> {
        let mut out = Vec::new();
        for service in services(&reader)? {
            if eligible(&service, model.as_deref(), max_price) {
                let history = history(&reader, service.provider)?;
                out.push((service, history));
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| server_error(e.to_string()))??;
    let cache = context.roles.get::<ProbeCache>().ok_or_else(|| server_error("this node does not run the compute role"))?;
    let probes = found.iter().map(|(service, _)| cache.latency_ms(&service.url));
    let latencies = futures::future::join_all(probes).await;
    let mut list: Vec<RankedProvider> = found
        .into_iter()
        .zip(latencies)
        .map(|((s, (settlements, paying_users)), latency_ms)| RankedProvider {
            provider: s.provider,
            url: s.url,
            model: s.model,
            verifiability: s.verifiability,
            input_price: s.inputPrice,
            output_price: s.outputPrice,
            signer_acknowledged: s.teeSignerAcknowledged,
            latency_ms,
            settlements,
            paying_users,
        })
        .collect();
    rank(&mut list);
    Ok(list)
}

fn price_param(value: Option<serde_json::Value>) -> RpcResult<Option<U256>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => {
            let parsed = if let Some(hex) = text.strip_prefix("0x") { U256::from_str_radix(hex, 16) } else { U256::from_str_radix(&text, 10) };
            parsed.map(Some).map_err(|_| invalid_params(format!("maxPrice {text:.40} is not a number of neuron per token")))
        }
        Some(serde_json::Value::Number(n)) => n.as_u64().map(|n| Some(U256::from(n))).ok_or_else(|| invalid_params("maxPrice must be a whole number of neuron per token")),
        Some(_) => Err(invalid_params("maxPrice must be a number, a decimal string or a 0x quantity")),
    }
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_async_method("compute_bestProvider", |params, context, _| async move {
        let mut values = params.sequence();
        let model: String = values.next()?;
        let max_price: Option<serde_json::Value> = values.optional_next()?;
        let list = ranked(context, Some(model), price_param(max_price)?).await?;
        // Only a provider that answered and whose signer the SDK accepts is offered.
        Ok::<_, jsonrpsee::types::ErrorObjectOwned>(list.into_iter().find(|p| p.signer_acknowledged && p.latency_ms.is_some()))
    })?;
    module.register_async_method("compute_providers", |params, context, _| async move {
        let mut values = params.sequence();
        let model: Option<String> = values.optional_next()?;
        let max_price: Option<serde_json::Value> = values.optional_next()?;
        ranked(context, model, price_param(max_price)?).await
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_in_every_json_form_or_are_refused() {
        assert_eq!(price_param(None).unwrap(), None);
        assert_eq!(price_param(Some(serde_json::json!(5))).unwrap(), Some(U256::from(5)));
        assert_eq!(price_param(Some(serde_json::json!("1000000000"))).unwrap(), Some(U256::from(1_000_000_000u64)));
        assert_eq!(price_param(Some(serde_json::json!("0x10"))).unwrap(), Some(U256::from(16)));
        for bad in [serde_json::json!(-1), serde_json::json!(1.5), serde_json::json!("ten"), serde_json::json!([1]), serde_json::json!("0xzz")] {
            assert!(price_param(Some(bad.clone())).is_err(), "{bad}");
        }
    }
}
