//! Batched settlement: every interval (or when asked), settlements the chain has taken are
//! confirmed out of the store, new ones are planned from the unsettled requests, signed and
//! kept before they are sent, and sent at most `settle_batch` to a transaction. A settlement the
//! chain would refuse is handled by its status: a stale nonce or a signature by a replaced
//! signer is planned again; a user whose sub-account is gone is written off (logged), since no
//! one can pay it; one waiting on an acknowledgement waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer::SignerSync;
use tokio::sync::watch;

use super::ProviderState;
use crate::compute::unsettled::SignedSettlement;
use zg_systems::compute::contracts::{IInferenceServing, INFERENCE_ADDRESS};
use zg_systems::compute::settlement::{SettlementVerdict, plan, verdict};

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettleRound {
    /// Settlements confirmed on chain this round.
    pub confirmed: usize,
    /// Requests they paid for.
    pub requests_paid: usize,
    /// Fees they carried, in neuron.
    pub paid: U256,
    pub transactions: usize,
    pub written_off: usize,
}

pub async fn run(state: Arc<ProviderState>, interval: Duration, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = state.settle_now.notified() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        match settle_round(&state).await {
            Ok(round) if round.confirmed > 0 || round.written_off > 0 => {
                tracing::info!(settlements = round.confirmed, requests = round.requests_paid, paid = %round.paid, transactions = round.transactions, written_off = round.written_off, "compute fees settled");
                metrics::counter!("compute_requests_settled_total").increment(round.requests_paid as u64);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "compute settlement round failed; it retries next round"),
        }
        if let Some(verifiable) = &state.verifiable
            && let Err(error) = crate::compute::verifiable::settle::round(&state.market, &state.key, verifiable).await
        {
            tracing::warn!(error = %format!("{error:#}"), "verified-result settlement failed; it retries next round");
        }
    }
}

async fn settled_nonces(state: &ProviderState, users: impl Iterator<Item = Address>) -> anyhow::Result<HashMap<Address, Option<U256>>> {
    let mut nonces = HashMap::new();
    for user in users {
        if let std::collections::hash_map::Entry::Vacant(entry) = nonces.entry(user) {
            entry.insert(state.market.account(user, state.provider).await?.map(|a| a.nonce));
        }
    }
    Ok(nonces)
}

fn confirm_landed(state: &ProviderState, nonces: &HashMap<Address, Option<U256>>, round: &mut SettleRound) -> anyhow::Result<()> {
    for (user, nonce) in nonces {
        if let Some(nonce) = nonce
            && let Some(landed) = state.store.confirm(*user, *nonce)?
        {
            round.confirmed += 1;
            round.requests_paid += landed.plan.seqs.len();
            round.paid = round.paid.saturating_add(landed.plan.total_fee);
        }
    }
    Ok(())
}

/// One round: confirm, plan, sign, keep, send, confirm.
pub async fn settle_round(state: &ProviderState) -> anyhow::Result<SettleRound> {
    let mut round = SettleRound::default();
    let flying = state.store.in_flight()?;
    let nonces = settled_nonces(state, flying.iter().map(|s| s.plan.user)).await?;
    confirm_landed(state, &nonces, &mut round)?;

    let unsettled = state.store.unsettled()?;
    let nonces = settled_nonces(state, unsettled.iter().map(|r| r.user)).await?;
    for (user, nonce) in &nonces {
        if nonce.is_none() {
            round.written_off += state.store.write_off(*user)?;
            tracing::warn!(%user, "the user's sub-account is gone: its unsettled requests are written off");
        }
    }
    let payable: Vec<_> = unsettled.into_iter().filter(|r| nonces.get(&r.user).is_some_and(Option::is_some)).collect();
    let mut signed = Vec::new();
    for plan in plan(&payable, |user| nonces.get(&user).copied().flatten().unwrap_or_default()).into_iter().flatten() {
        let signature = state.signer.sign_message_sync(plan.digest(state.provider).as_slice())?;
        signed.push(SignedSettlement { plan, signature: Bytes::from(signature.as_bytes().to_vec()) });
    }
    state.store.record_in_flight(&signed)?;

    let flying = state.store.in_flight()?;
    for batch in flying.chunks(state.config.settle_batch) {
        let call = IInferenceServing::settleFeesWithTEECall { settlements: batch.iter().map(|s| s.plan.to_call_data(state.provider, s.signature.clone())).collect() };
        let statuses = state.market.preview(state.provider, INFERENCE_ADDRESS, &call).await?;
        let mut sendable = Vec::new();
        for (settlement, outcome) in batch.iter().zip(statuses) {
            match verdict(outcome) {
                SettlementVerdict::Send => sendable.push(settlement.plan.to_call_data(state.provider, settlement.signature.clone())),
                SettlementVerdict::Replan => {
                    tracing::warn!(user = %settlement.plan.user, outcome, "a settlement in flight is stale: planned again next round");
                    state.store.release(settlement.plan.user)?;
                }
                SettlementVerdict::WriteOff => round.written_off += state.store.write_off(settlement.plan.user)?,
                SettlementVerdict::Wait => tracing::debug!(user = %settlement.plan.user, outcome, "settlement waits (signer or user acknowledgement)"),
            }
        }
        if sendable.is_empty() {
            continue;
        }
        state.market.send(&state.key, INFERENCE_ADDRESS, &IInferenceServing::settleFeesWithTEECall { settlements: sendable }, U256::ZERO).await?;
        round.transactions += 1;
        let nonces = settled_nonces(state, batch.iter().map(|s| s.plan.user)).await?;
        confirm_landed(state, &nonces, &mut round)?;
    }
    Ok(round)
}
