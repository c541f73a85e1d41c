//! What an alignment node's checker does with one audit target, and the evidence it keeps when a
//! check fails on something the target signed: a storage node's signed segment answer that does
//! not hash to the file's on-chain root, a verifiable provider's signed result whose proof the
//! chain's registry refuses. Evidence is tried with `eth_call` against the market that judges it
//! before the auditor risks its bond on it.

use alloy_primitives::{Address, B256, Bytes, I256, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use base64::Engine;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

use zg_components::storage::merkle::{self, SEGMENT_SIZE};
use zg_systems::alignment::{IAlignmentAccusations, IAlignmentManager};
use zg_systems::storage::pora::{IPoraMine, MINE_ADDRESS, inner_siblings};
use zg_systems::verifiable::circuit::INPUT_LEN;
use zg_systems::verifiable::contracts::{IVerifiedInference, VERIFIED_INFERENCE_ADDRESS, WrongResultEvidence};

use crate::compute::client::MarketClient;
use crate::compute::verifiable::client as verifiable;

/// Neuron the auditor keeps deposited in the verifiable market to pay for the requests it audits
/// with (topped up when it falls under twice a provider's price).
pub const VERIFIED_DEPOSIT: u128 = 100_000_000_000_000_000;

/// A failed check: why, and the accusation (the manager call's input) when the target signed it.
#[derive(Debug)]
pub struct Failure {
    pub reason: String,
    pub accusation: Option<Accusation>,
}

/// Evidence the alignment manager forwards to the market that judges it.
#[derive(Clone, Debug)]
pub struct Accusation {
    pub target: Address,
    pub input: Bytes,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Self { reason, accusation: None }
    }
}

impl From<&str> for Failure {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// Segment `segment` of submission `tx_seq` (root `root`, `size` bytes), asked signed from the
/// storage node (unsigned from a node that stakes nothing) and checked against the root the chain
/// recorded, not the one the node names. Returns the bytes fetched beside the verdict.
pub async fn storage_segment(
    eth: &HttpClient,
    storage: &HttpClient,
    operator: Address,
    (tx_seq, root, size, segment): (u64, B256, u64, u64),
) -> (u64, Result<(), Failure>) {
    let signed: Result<Option<Value>, _> = storage.request("zgs_downloadSegmentWithProofSigned", rpc_params![root, segment]).await;
    let (answer, signed) = match signed {
        Ok(answer) => (answer, true),
        Err(_) => match storage.request::<Option<Value>, _>("zgs_downloadSegmentWithProof", rpc_params![root, segment]).await {
            Ok(answer) => (answer, false),
            Err(error) => return (0, Err(format!("zgs_downloadSegmentWithProof: {error}").into())),
        },
    };
    let Some(answer) = answer else { return (0, Err("the storage node does not hold the file".into())) };
    let Some(data) = answer["data"].as_str().and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok()) else {
        return (0, Err("the answer's data is not base64".into()));
    };
    let fetched = data.len() as u64;
    let proof: merkle::Proof = match serde_json::from_value(answer["proof"].clone()) {
        Ok(proof) => proof,
        Err(error) => return (fetched, Err(format!("bad proof: {error}").into())),
    };
    let leaf = merkle::segment_root(size, segment, &merkle::chunk_hashes(&data));
    let Ok(position) = usize::try_from(segment) else { return (fetched, Err("segment index too large".into())) };
    let Err(error) = proof.validate(&root, &leaf, position, merkle::padded_segments(size) as usize) else { return (fetched, Ok(())) };
    let reason = format!("segment {segment} of {root} does not verify: {error}");
    if !signed || data.len() > SEGMENT_SIZE {
        return (fetched, Err(reason.into()));
    }
    let (Ok(signature), Ok(signer)) = (serde_json::from_value::<Bytes>(answer["signature"].clone()), serde_json::from_value::<Address>(answer["signer"].clone())) else {
        return (fetched, Err(format!("{reason}; the answer's signature is malformed").into()));
    };
    let siblings = inner_siblings(&proof);
    let report = IPoraMine::reportBadSegmentCall {
        txSeq: U256::from(tx_seq),
        segment: U256::from(segment),
        data: data.clone().into(),
        siblings: siblings.clone(),
        signature: signature.clone(),
    };
    // Judged by the mine as it will be when the manager hands it over (tried from the operator:
    // a call from a contract's address is refused): no accusation unless it holds.
    if let Err(refused) = eth_call(eth, operator, MINE_ADDRESS, report.abi_encode()).await {
        return (fetched, Err(format!("{reason}; not evidence against {signer}: {refused}").into()));
    }
    let call = IAlignmentManager::accuseBadSegmentCall { miner: signer, txSeq: report.txSeq, segment: report.segment, data: data.into(), siblings, signature };
    (fetched, Err(Failure { reason, accusation: Some(Accusation { target: signer, input: call.abi_encode().into() }) }))
}

/// The input of an audit request: `INPUT_LEN` small values drawn from the seed.
pub fn audit_input(input_seed: B256) -> Vec<i8> {
    (0..INPUT_LEN).map(|i| (keccak256([input_seed.as_slice(), &(i as u64).to_be_bytes()].concat())[0] % 16) as i8).collect()
}

/// The verifiable provider at `url` asked, as a paying user with `key`, for its result on an
/// input drawn from `input_seed`; its signature and proof checked through the chain's registry.
pub async fn verified_result(rpc_url: &str, key: &PrivateKeySigner, provider: Address, url: &str, input_seed: B256) -> Result<(), Failure> {
    let market = MarketClient::new(rpc_url).map_err(|e| format!("{e:#}"))?;
    let info = verifiable::service_info(url).await.map_err(|e| format!("the provider's description: {e:#}"))?;
    if info.provider != provider {
        return Err(format!("{url} answers for {}, not the registered provider {provider}", info.provider).into());
    }
    let user = key.address();
    let deposited = market.preview(user, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::balanceOfCall { user }).await.map_err(|e| format!("{e:#}"))?;
    if deposited < info.price * U256::from(2) {
        verifiable::deposit(&market, key, U256::from(VERIFIED_DEPOSIT)).await.map_err(|e| format!("depositing for audit requests: {e:#}"))?;
    }
    // A fresh nonce above any the market settled: settlement only needs it to grow.
    let nonce = U256::from(crate::wall_clock::now_ms());
    let answer = verifiable::ask(&market, key, url, &audit_input(input_seed), nonce, None).await.map_err(|e| format!("asking {url}: {e:#}"))?;
    if answer.signed_by_provider && answer.verified_on_chain {
        return Ok(());
    }
    if !answer.signed_by_provider {
        return Err(format!("{provider} answered a result it did not sign").into());
    }
    let reason = format!("{provider} signed logits {:?} that its proof does not support", answer.logits);
    let evidence = WrongResultEvidence {
        logits: answer.logits.iter().map(|v| I256::try_from(*v).unwrap_or_default()).collect(),
        proof: answer.proof.clone(),
        providerSignature: answer.provider_signature.clone(),
        honestLogits: Vec::new(),
        honestProof: Bytes::new(),
    };
    let judged = IVerifiedInference::reportWrongResultCall { request: answer.request.clone(), evidence: evidence.clone() };
    if let Err(refused) = eth_call_on(&market, user, VERIFIED_INFERENCE_ADDRESS, &judged).await {
        return Err(format!("{reason}; not evidence: {refused}").into());
    }
    let call = IAlignmentAccusations::accuseVerifiedResultCall { request: answer.request, evidence };
    Err(Failure { reason, accusation: Some(Accusation { target: provider, input: call.abi_encode().into() }) })
}

async fn eth_call(eth: &HttpClient, from: Address, to: Address, input: Vec<u8>) -> Result<Bytes, String> {
    eth.request("eth_call", rpc_params![json!({"from": from, "to": to, "data": Bytes::from(input)}), "latest"]).await.map_err(|e| e.to_string())
}

async fn eth_call_on<C: SolCall>(market: &MarketClient, from: Address, to: Address, call: &C) -> Result<(), String> {
    market.preview(from, to, call).await.map(|_| ()).map_err(|e| format!("{e:#}"))
}

/// Gas an accusation carrying `input` needs: the manager's judge budget (forwarded whole, with
/// the 1/64 the EVM keeps back), the calldata at its floor price, and a margin.
pub fn accusation_gas(input: &[u8]) -> u64 {
    const JUDGE_GAS: u64 = 15_000_000;
    JUDGE_GAS + JUDGE_GAS / 63 + 40 * input.len() as u64 + 600_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_input_is_the_seeds_alone_and_fits_the_model() {
        let a = audit_input(B256::repeat_byte(1));
        assert_eq!(a.len(), INPUT_LEN);
        assert_eq!(a, audit_input(B256::repeat_byte(1)));
        assert_ne!(a, audit_input(B256::repeat_byte(2)));
        assert!(zg_systems::verifiable::circuit::input_commitment(&a).is_some());
    }

    #[test]
    fn a_full_segment_accusation_fits_a_dev_block() {
        assert!(accusation_gas(&[0u8; SEGMENT_SIZE + 1_000]) < 30_000_000);
    }
}
