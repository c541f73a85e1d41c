//! Settling verified results: the stored results go to `VerifiedInference.settle`, at most
//! `settle_batch` to a transaction and fewer when their proofs' verification gas would crowd a
//! block ([`batch_size`]); the contract pays the
//! ones whose proofs verify and refuses the rest with a reason, read back from the receipt's
//! events. Either way a mined result leaves the store: a refused one cannot become payable.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolEvent;

use super::VerifiableService;
use zg_systems::verifiable::circuit;
use crate::compute::client::MarketClient;
use alloy_signer_local::PrivateKeySigner;
use zg_systems::verifiable::contracts::{IVerifiedInference, VERIFIED_INFERENCE_ADDRESS};

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedRound {
    pub paid_results: usize,
    pub paid: U256,
    /// (user, nonce, reason) of each refused result (reasons as the contract's `Refused`).
    pub refused: Vec<(Address, U256, u8)>,
    pub transactions: usize,
}

fn logs(receipt: &serde_json::Value) -> Vec<(Vec<B256>, Vec<u8>)> {
    let Some(logs) = receipt["logs"].as_array() else { return Vec::new() };
    logs.iter()
        .filter(|log| log["address"].as_str().and_then(|a| a.parse::<Address>().ok()) == Some(VERIFIED_INFERENCE_ADDRESS))
        .filter_map(|log| {
            let topics = log["topics"].as_array()?.iter().map(|t| t.as_str()?.parse::<B256>().ok()).collect::<Option<Vec<_>>>()?;
            let data = alloy_primitives::hex::decode(log["data"].as_str()?).ok()?;
            Some((topics, data))
        })
        .collect()
}

/// Results one settlement may carry: the configured batch, cut to what fits well inside a block
/// (each proof costs its verification gas plus ~150k for its calldata and checks).
pub fn batch_size(service: &VerifiableService) -> usize {
    let per_result = zg_systems::verifiable::precompile::verify_gas(circuit::circuit_k(&service.model)) + 150_000;
    service.config.settle_batch.min((BATCH_GAS_BUDGET / per_result).max(1) as usize)
}

/// Gas a settlement transaction aims under (the dev chain's blocks hold 30 M).
const BATCH_GAS_BUDGET: u64 = 24_000_000;

pub async fn round(market: &MarketClient, key: &PrivateKeySigner, service: &VerifiableService) -> anyhow::Result<VerifiedRound> {
    let pending = service.store.pending()?;
    let mut outcome = VerifiedRound::default();
    for batch in pending.chunks(batch_size(service)) {
        let hash = market
            .send(key, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::settleCall { results: batch.to_vec() }, U256::ZERO)
            .await?;
        outcome.transactions += 1;
        let receipt = market.receipt(hash).await?;
        for (topics, data) in logs(&receipt) {
            let log = alloy_primitives::LogData::new_unchecked(topics, data.into());
            if let Ok(settled) = IVerifiedInference::Settled::decode_log_data(&log) {
                outcome.paid_results += 1;
                outcome.paid += settled.fee;
            } else if let Ok(refused) = IVerifiedInference::Refused::decode_log_data(&log) {
                outcome.refused.push((refused.user, refused.nonce, refused.reason));
            }
        }
        service.store.remove(batch)?;
    }
    if outcome.transactions > 0 {
        tracing::info!(paid_results = outcome.paid_results, paid = %outcome.paid, refused = outcome.refused.len(), transactions = outcome.transactions, "verified results settled");
        for (user, nonce, reason) in &outcome.refused {
            tracing::warn!(%user, %nonce, reason, "a verified result was refused on chain (1 signature, 2 stale nonce, 3 deposit, 4 proof, 5 provider/model, 6 fee)");
        }
        metrics::counter!("compute_verifiable_settled_total").increment(outcome.paid_results as u64);
        metrics::counter!("compute_verifiable_refused_total").increment(outcome.refused.len() as u64);
    }
    Ok(outcome)
}
