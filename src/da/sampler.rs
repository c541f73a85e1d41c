//! On-chain sampling: every round of the DA entrance (seed: the hash of the block before it), a
//! DA node with an account (`da.sampler_key`, else `da.disperser_key`) draws shares of the
//! confirmed blobs it attested that are still in the sampling window, fetches them with their
//! proofs (from itself or the keepers), verifies them, and submits the ones whose quality beats
//! the entrance's target, signed with its DA key for its account; each valid response is paid
//! from the blob's fee, at most one per attester, blob and round. A share it cannot get is a
//! failed sample, counted.

use alloy_primitives::{B256, Bytes, U256, keccak256};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use zg_components::da::{Axis, BlobStatus};
use zg_systems::da::entrance::{DA_ENTRANCE_ADDRESS, IDAEntrance, SampleResponse, sample_quality, sampling_message};
use zg_systems::da::sampling;

use super::DaNode;
use crate::node::TxRequest;

/// Shares drawn per blob per round, and the most responses this node sends a round.
const DRAWS_PER_BLOB: usize = 16;
const RESPONSES_PER_ROUND: usize = 4;
/// Gas for one response: two Merkle climbs (about 20 keccaks), storage and a payment.
const RESPONSE_GAS: u64 = 300_000;

/// What the sampler did, for logs, metrics and tests.
#[derive(Debug, Default)]
pub struct SamplerStats {
    pub rounds: std::sync::atomic::AtomicU64,
    pub drawn: std::sync::atomic::AtomicU64,
    pub unavailable: std::sync::atomic::AtomicU64,
    pub submitted: std::sync::atomic::AtomicU64,
    pub accepted: std::sync::atomic::AtomicU64,
    /// Gas of the last accepted response.
    pub last_gas: std::sync::atomic::AtomicU64,
}

/// Each count moves its Prometheus counter with it (`zgnode_da_sampling_*`): one record.
impl SamplerStats {
    fn note_round(&self) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("zgnode_da_sampling_rounds_total").increment(1);
    }

    fn note_drawn(&self) {
        self.drawn.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("zgnode_da_sampling_drawn_total").increment(1);
    }

    fn note_unavailable(&self) {
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("zgnode_da_sampling_unavailable_total").increment(1);
    }

    fn note_submitted(&self) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("zgnode_da_sampling_submitted_total").increment(1);
    }

    fn note_accepted(&self, gas: u64) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("zgnode_da_sampling_accepted_total").increment(1);
        self.last_gas.store(gas, Ordering::Relaxed);
    }

    /// The counts as the status page shows them.
    pub fn section(&self) -> serde_json::Value {
        serde_json::json!({
            "rounds": self.rounds.load(Ordering::Relaxed),
            "sharesDrawn": self.drawn.load(Ordering::Relaxed),
            "sharesUnavailable": self.unavailable.load(Ordering::Relaxed),
            "responsesSubmitted": self.submitted.load(Ordering::Relaxed),
            "responsesAccepted": self.accepted.load(Ordering::Relaxed),
        })
    }
}

impl DaNode {
    /// Runs sampling rounds until the node goes away (only with an account to submit from).
    pub fn start_sampler(self: &Arc<Self>) {
        if self.sampler_account().is_none() {
            tracing::info!("DA sampling rewards off: no da.sampler_key or da.disperser_key to submit responses from");
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last_round = None;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let Some(node) = weak.upgrade() else { return };
                // Nothing to sample (no confirmed blob this node knows of): no chain call at all,
                // so a node of a network that carries no DA traffic spends nothing here.
                let anything = node.view.blobs.read().is_ok_and(|view| view.values().any(|b| matches!(b.status, BlobStatus::Confirmed | BlobStatus::Finalized)));
                if !anything {
                    continue;
                }
                let Ok(seed) = node.handle.call_sol(DA_ENTRANCE_ADDRESS, &IDAEntrance::sampleSeedCall {}) else { continue };
                if last_round == Some(seed.round) {
                    continue;
                }
                last_round = Some(seed.round);
                node.sampling.note_round();
                node.sample_round(u64::try_from(seed.round).unwrap_or(u64::MAX), seed.seed).await;
            }
        });
    }

    /// Counters of the on-chain sampler.
    pub fn sampler_stats(&self) -> &SamplerStats {
        &self.sampling
    }

    /// The account sampling responses are sent from (and rewards paid to).
    pub fn sampler_account(&self) -> Option<alloy_primitives::Address> {
        self.sampler.or(self.disperser)
    }

    async fn sample_round(self: &Arc<Self>, round: u64, seed: B256) {
        let Some(account) = self.sampler_account() else { return };
        let own = B256::from(self.own);
        let Ok(target) = self.handle.call_sol(DA_ENTRANCE_ADDRESS, &IDAEntrance::podasTargetCall {}) else { return };
        let Ok(window) = self.handle.call_sol(DA_ENTRANCE_ADDRESS, &IDAEntrance::sampleWindowBlocksCall {}) else { return };
        let Ok((head, _)) = self.handle.head() else { return };
        let window = u64::try_from(window).unwrap_or(u64::MAX);
        let blobs: Vec<B256> = self
            .view
            .blobs
            .read()
            .map(|view| {
                view.values()
                    .filter(|b| matches!(b.status, BlobStatus::Confirmed | BlobStatus::Finalized))
                    .filter(|b| b.confirmed_at.is_some_and(|at| head < at.saturating_add(window)))
                    .map(|b| b.data_root)
                    .collect::<Vec<B256>>()
            })
            .unwrap_or_default();
        let mut sent = 0;
        for data_root in blobs {
            // Only an attester of the blob is paid for sampling it.
            let attested = self.handle.call_sol(DA_ENTRANCE_ADDRESS, &IDAEntrance::attestersOfCall { dataRoot: data_root });
            if !attested.is_ok_and(|keys| keys.contains(&own)) {
                continue;
            }
            let Some(roots) = self.axis_roots(&data_root).await else { continue };
            let layout = roots.layout;
            let keepers = self.keepers(&data_root, layout);
            // The entrance pays a response only from a row or column this node's slots hold,
            // named by the slot's rank; one response per blob a round is paid.
            let mine = zg_systems::da::quorum::ranks_of(data_root, &self.signers(), self.tokens_per_vote, &self.own, layout);
            let draw_seed = keccak256([seed.as_slice(), data_root.as_slice(), &self.own].concat());
            let mut responded = false;
            for (row, column) in sampling::draw(draw_seed, layout, DRAWS_PER_BLOB) {
                if sent >= RESPONSES_PER_ROUND {
                    return;
                }
                self.sampling.note_drawn();
                let ask = super::retrieve::share_keepers(&keepers, row, column);
                let Some((share, proof)) = self.fetch_share(&data_root, layout, row, column, &ask).await else {
                    self.sampling.note_unavailable();
                    tracing::warn!(root = %data_root, row, column, "sampled share unavailable");
                    continue;
                };
                if sample_quality(&seed, &data_root, row as u32, column as u32, &share) > target {
                    continue;
                }
                let Some(rank) = mine.get(&(Axis::Row, row)).or_else(|| mine.get(&(Axis::Column, column))).copied() else { continue };
                if responded {
                    continue;
                }
                let siblings = |lemma: &[B256]| lemma.get(1..lemma.len().saturating_sub(1)).unwrap_or_default().to_vec();
                let response = SampleResponse {
                    dataRoot: data_root,
                    k: U256::from(layout.k),
                    row: U256::from(row),
                    column: U256::from(column),
                    throughRow: proof.axis == Axis::Row,
                    share: Bytes::from(share),
                    toAxis: siblings(&proof.to_axis.lemma),
                    toRoot: siblings(&proof.to_data_root.lemma),
                    signer: own,
                    signature: Bytes::copy_from_slice(
                        &self.signer.sign(&sampling_message(self.chain_id, round, &data_root, row as u32, column as u32, &account)).to_bytes(),
                    ),
                    slotRank: U256::from(rank),
                };
                let call = IDAEntrance::submitSamplingResponseCall { r: response };
                let Ok(submitted) = self.handle.send(account, TxRequest::sol(DA_ENTRANCE_ADDRESS, &call).with_gas(RESPONSE_GAS)) else { continue };
                sent += 1;
                self.sampling.note_submitted();
                let this = self.clone();
                tokio::spawn(async move {
                    let Ok(hash) = submitted.admitted().await else { return };
                    if let Ok(Ok(receipt)) = tokio::time::timeout(Duration::from_secs(60), this.handle.receipt_of(hash)).await
                        && receipt.success
                    {
                        this.sampling.note_accepted(receipt.gas_used);
                    }
                });
                // One paid response per attester, blob and round: the other draws only check.
                responded = true;
            }
        }
    }
}
