//! Choosing a provider: services that serve the model within the caller's price, reachable
//! ones first, then cheapest, then fastest to answer, then with the longest settled history.
//! `compute_bestProvider` / `compute_providers` (JSON-RPC) and `zgnode compute providers` use it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};

use zg_systems::compute::contracts::InferenceService;

/// A service with what was measured of it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RankedProvider {
    pub provider: Address,
    pub url: String,
    pub model: String,
    pub verifiability: String,
    pub input_price: U256,
    pub output_price: U256,
    pub signer_acknowledged: bool,
    /// Round trip of `GET {url}/v1/proxy/models`; `None`: no answer within the probe timeout.
    pub latency_ms: Option<u64>,
    /// Settlements the contract took from this provider (the sum of its sub-accounts' nonces).
    pub settlements: u64,
    /// Users who have paid it at least once.
    pub paying_users: u64,
}

/// Whether `service` is a candidate for `model` at `max_price` (neuron per token, input and
/// output each).
pub fn eligible(service: &InferenceService, model: Option<&str>, max_price: Option<U256>) -> bool {
    model.is_none_or(|m| service.model == m)
        && max_price.is_none_or(|max| service.inputPrice <= max && service.outputPrice <= max)
}

/// Best first: acknowledged, reachable, cheaper, faster, longer history.
pub fn rank(providers: &mut [RankedProvider]) {
    providers.sort_by_key(|p| {
        (
            !p.signer_acknowledged,
            p.latency_ms.is_none(),
            p.input_price.saturating_add(p.output_price),
            p.latency_ms.unwrap_or(u64::MAX),
            std::cmp::Reverse(p.settlements),
        )
    });
}

/// Probe results kept a while, so repeated calls do not flood providers.
#[derive(Default)]
pub struct ProbeCache {
    entries: Mutex<HashMap<String, (Instant, Option<u64>)>>,
}

pub const PROBE_TTL: Duration = Duration::from_secs(30);
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl ProbeCache {
    /// The round trip to `url` (cached for [`PROBE_TTL`]). Only `GET {url}/v1/proxy/models` is
    /// sent, over plain HTTP; the answer's body is not read.
    pub async fn latency_ms(&self, url: &str) -> Option<u64> {
        if let Ok(entries) = self.entries.lock()
            && let Some((at, latency)) = entries.get(url)
            && at.elapsed() < PROBE_TTL
        {
            return *latency;
        }
        let latency = probe(url).await;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(url.to_string(), (Instant::now(), latency));
        }
        latency
    }
}

async fn probe(url: &str) -> Option<u64> {
    let target = format!("{}/v1/proxy/models", url.trim_end_matches('/'));
    let uri: hyper::Uri = target.parse().ok().filter(|u: &hyper::Uri| u.scheme_str() == Some("http"))?;
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_connect_timeout(Some(PROBE_TIMEOUT));
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let started = Instant::now();
    let response = tokio::time::timeout(PROBE_TIMEOUT, client.get(uri)).await.ok()?.ok()?;
    drop(response);
    Some(started.elapsed().as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(byte: u8, price: u64, latency: Option<u64>, settlements: u64, acknowledged: bool) -> RankedProvider {
        RankedProvider {
            provider: Address::repeat_byte(byte),
            url: String::new(),
            model: "m".into(),
            verifiability: String::new(),
            input_price: U256::from(price),
            output_price: U256::from(price),
            signer_acknowledged: acknowledged,
            latency_ms: latency,
            settlements,
            paying_users: 0,
        }
    }

    #[test]
    fn reachable_and_acknowledged_beat_cheap_then_price_latency_history() {
        let mut list = vec![
            entry(1, 1, None, 9, true),
            entry(2, 5, Some(50), 0, true),
            entry(3, 5, Some(10), 0, true),
            entry(4, 5, Some(10), 7, true),
            entry(5, 1, Some(1), 100, false),
            entry(6, 3, Some(900), 0, true),
        ];
        rank(&mut list);
        let order: Vec<u8> = list.iter().map(|p| p.provider.0[0]).collect();
        assert_eq!(order, vec![6, 4, 3, 2, 1, 5]);
    }

    #[tokio::test]
    async fn unreachable_and_non_http_urls_have_no_latency() {
        let cache = ProbeCache::default();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert_eq!(cache.latency_ms(&format!("http://{closed}")).await, None);
        assert_eq!(cache.latency_ms("https://127.0.0.1:1").await, None);
        assert_eq!(cache.latency_ms("not a url").await, None);
    }
}
