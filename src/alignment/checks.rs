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

use crate::compute::backend::llama::{LlamaBackend, tiny::{self, TINY_MODEL_NAME}};
use crate::compute::backend::{ChatMessage, Generation, InferenceBackend};
use crate::compute::client::MarketClient;
use crate::compute::verifiable::client as verifiable;

/// Neuron the auditor keeps deposited in the verifiable market to pay for the requests it audits
/// with (topped up when it falls under twice a provider's price).
pub const VERIFIED_DEPOSIT: u128 = 100_000_000_000_000_000;

/// A failed check: why, and the accusations (the manager calls' input) for what the targets signed.
#[derive(Debug)]
pub struct Failure {
    pub reason: String,
    pub accusations: Vec<Accusation>,
}

/// Evidence the alignment manager forwards to the market that judges it.
#[derive(Clone, Debug)]
pub struct Accusation {
    pub target: Address,
    pub input: Bytes,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Self { reason, accusations: Vec::new() }
    }
}

impl From<&str> for Failure {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// Storage nodes asked per audited segment, at most.
pub const MAX_HOLDERS: usize = 8;

/// The segment checked on every node that should hold the file: those the storage node's
/// indexer names (`indexer_getFileLocations`), or that node alone when it names none (or is no
/// indexer). Each failing node is named in the reason; each signed bad answer is an accusation.
pub async fn storage_segment_on_holders(
    market: &MarketClient,
    indexer: &HttpClient,
    operator: Address,
    target: (u64, B256, u64, u64),
) -> (u64, Result<(), Failure>) {
    let located: Result<Value, _> = indexer.request("indexer_getFileLocations", rpc_params![target.1.to_string()]).await;
    let holders: Vec<String> = located
        .ok()
        .and_then(|nodes| nodes.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|node| node["url"].as_str().filter(|url| url.starts_with("http://") || url.starts_with("https://")).map(str::to_string))
        .take(MAX_HOLDERS)
        .collect();
    if holders.is_empty() {
        return storage_segment(market, indexer, operator, target).await;
    }
    let (mut fetched, mut reasons, mut accusations) = (0, Vec::new(), Vec::new());
    for url in holders {
        let node = match jsonrpsee::http_client::HttpClientBuilder::default().request_timeout(std::time::Duration::from_secs(30)).build(&url) {
            Ok(node) => node,
            Err(error) => {
                reasons.push(format!("{url}: {error}"));
                continue;
            }
        };
        let (bytes, verdict) = storage_segment(market, &node, operator, target).await;
        fetched += bytes;
        if let Err(failure) = verdict {
            reasons.push(format!("{url}: {}", failure.reason));
            accusations.extend(failure.accusations);
        }
    }
    if reasons.is_empty() { (fetched, Ok(())) } else { (fetched, Err(Failure { reason: reasons.join("; "), accusations })) }
}

/// Segment `segment` of submission `tx_seq` (root `root`, `size` bytes), asked signed from the
/// storage node (unsigned from a node that stakes nothing) and checked against the root the chain
/// recorded, not the one the node names. Returns the bytes fetched beside the verdict.
pub async fn storage_segment(
    market: &MarketClient,
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
    if let Err(refused) = market.preview(operator, MINE_ADDRESS, &report).await {
        return (fetched, Err(format!("{reason}; not evidence against {signer}: {refused:#}").into()));
    }
    let call = IAlignmentManager::accuseBadSegmentCall { txSeq: report.txSeq, segment: report.segment, data: data.into(), siblings, signature };
    (fetched, Err(Failure { reason, accusations: vec![Accusation { target: signer, input: call.abi_encode().into() }] }))
}

/// The input of an audit request: `INPUT_LEN` small values drawn from the seed.
pub fn audit_input(input_seed: B256) -> Vec<i8> {
    (0..INPUT_LEN).map(|i| (keccak256([input_seed.as_slice(), &(i as u64).to_be_bytes()].concat())[0] % 16) as i8).collect()
}

/// The verifiable provider at `url` asked, as a paying user with `key`, for its result on an
/// input drawn from `input_seed`; its signature and proof checked through the chain's registry.
pub async fn verified_result(market: &MarketClient, key: &PrivateKeySigner, provider: Address, url: &str, input_seed: B256) -> Result<(), Failure> {
    let info = verifiable::service_info(url).await.map_err(|e| format!("the provider's description: {e:#}"))?;
    if info.provider != provider {
        return Err(format!("{url} answers for {}, not the registered provider {provider}", info.provider).into());
    }
    let user = key.address();
    let deposited = market.preview(user, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::balanceOfCall { user }).await.map_err(|e| format!("{e:#}"))?;
    if deposited < info.price * U256::from(2) {
        verifiable::deposit(market, key, U256::from(VERIFIED_DEPOSIT)).await.map_err(|e| format!("depositing for audit requests: {e:#}"))?;
    }
    // A fresh nonce above any the market settled: settlement only needs it to grow.
    let nonce = U256::from(crate::wall_clock::now_ms());
    let answer = verifiable::ask(market, key, url, &audit_input(input_seed), nonce, None).await.map_err(|e| format!("asking {url}: {e:#}"))?;
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
    if let Err(refused) = market.preview(user, VERIFIED_INFERENCE_ADDRESS, &judged).await {
        return Err(format!("{reason}; not evidence: {refused:#}").into());
    }
    let call = IAlignmentAccusations::accuseVerifiedResultCall { request: answer.request, evidence };
    Err(Failure { reason, accusations: vec![Accusation { target: provider, input: call.abi_encode().into() }] })
}

/// Models the auditor re-runs (the built-in ones: the same weights on every node).
pub fn can_rerun(model: &str) -> bool {
    model == TINY_MODEL_NAME
}

/// Neuron put into a chat provider's sub-account (and the ledger opened with) when the auditor
/// first asks it; topped up when under a tenth.
const CHAT_FUNDING: u128 = 1_000_000_000_000_000_000;
const LEDGER_OPENING: u128 = 3_000_000_000_000_000_000;
/// Tokens an audited completion may run to.
const CHAT_MAX_TOKENS: u32 = 16;

/// The prompt of a chat audit: a few words drawn from the seed.
pub fn audit_prompt(prompt_seed: B256) -> String {
    const WORDS: [&str; 16] =
        ["storage", "proof", "random", "access", "segment", "validator", "epoch", "token", "model", "sample", "blob", "reward", "stake", "node", "chain", "audit"];
    let words: Vec<&str> = prompt_seed.0[..6].iter().map(|b| WORDS[(*b % 16) as usize]).collect();
    format!("Say something about {}.", words.join(" "))
}

/// The chat provider asked, as a paying user with `key`, a greedy completion of a prompt drawn
/// from `prompt_seed` (checked as `zgnode compute ask` checks: its signed record from the
/// service's acknowledged signer), and the same request re-run here on `model`; the texts
/// compared by keccak. No contract can re-run a model, so a mismatch is reported (with the
/// signed record in the reason), not judged on chain.
pub async fn chat_record(market: &MarketClient, key: &PrivateKeySigner, provider: Address, model: &str, prompt_seed: B256) -> Result<(), Failure> {
    fund_chat(market, key, provider).await.map_err(|e| format!("funding the audit request: {e:#}"))?;
    let prompt = audit_prompt(prompt_seed);
    let answer = crate::compute::ask::ask(market, key, provider, &prompt, CHAT_MAX_TOKENS, |_| {}).await.map_err(|e| format!("asking {provider}: {e:#}"))?;
    let rerun = rerun(model, &prompt).await.map_err(|e| format!("re-running {model}: {e:#}"))?;
    if keccak256(answer.text.as_bytes()) == keccak256(rerun.as_bytes()) {
        return Ok(());
    }
    Err(format!("{provider} signed chat {} ({model}, greedy) answering {:?}; the re-run answers {rerun:?}", answer.chat_id, answer.text).into())
}

async fn fund_chat(market: &MarketClient, key: &PrivateKeySigner, provider: Address) -> anyhow::Result<()> {
    use zg_systems::compute::contracts::{IInferenceServing, ILedgerManager, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME, LEDGER_ADDRESS};
    let user = key.address();
    let mut account = market.account(user, provider).await?;
    if account.as_ref().is_none_or(|a| a.balance < U256::from(CHAT_FUNDING / 10)) {
        match market.ledger(user).await? {
            None => {
                market.send(key, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, U256::from(LEDGER_OPENING)).await?;
            }
            Some(ledger) if ledger.availableBalance < U256::from(CHAT_FUNDING) => {
                market.send(key, LEDGER_ADDRESS, &ILedgerManager::depositFundCall {}, U256::from(LEDGER_OPENING)).await?;
            }
            Some(_) => {}
        }
        let transfer = ILedgerManager::transferFundCall { provider, serviceName: INFERENCE_SERVICE_NAME.into(), amount: U256::from(CHAT_FUNDING) };
        market.send(key, LEDGER_ADDRESS, &transfer, U256::ZERO).await?;
        account = market.account(user, provider).await?;
    }
    if !account.is_some_and(|a| a.acknowledged) {
        market.send(key, INFERENCE_ADDRESS, &IInferenceServing::acknowledgeTEESignerCall { provider, acknowledged: true }, U256::ZERO).await?;
    }
    Ok(())
}

/// The built-in model, generated once into a private folder and kept loaded.
static RERUN_MODEL: tokio::sync::OnceCell<std::sync::Arc<LlamaBackend>> = tokio::sync::OnceCell::const_new();

/// `prompt` completed greedily on `model`, as a provider's built-in backend runs it.
async fn rerun(model: &str, prompt: &str) -> anyhow::Result<String> {
    anyhow::ensure!(can_rerun(model), "{model} is not a model this node can run");
    let backend = RERUN_MODEL
        .get_or_try_init(|| async {
            let dir = std::env::temp_dir().join(format!("zgnode-alignment-rerun-{}", std::process::id()));
            tiny::write(&dir)?;
            let backend = LlamaBackend::load(&dir, TINY_MODEL_NAME);
            let _ = std::fs::remove_dir_all(&dir);
            anyhow::Ok(std::sync::Arc::new(backend?))
        })
        .await?
        .clone();
    let generation = Generation {
        messages: vec![ChatMessage { role: "user".into(), content: prompt.to_string() }],
        max_tokens: CHAT_MAX_TOKENS,
        temperature: 0.0,
        seed: 0,
        body: json!({}),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let running = tokio::spawn(backend.generate(generation, tx));
    let mut text = String::new();
    while let Some(piece) = rx.recv().await {
        text.push_str(&piece);
    }
    running.await??;
    Ok(text)
}

/// Gas an accusation carrying `input` needs: the manager's judge budget (forwarded whole, with
/// the 1/64 the EVM keeps back), the calldata at its floor price, and a margin.
pub fn accusation_gas(input: &[u8]) -> u64 {
    use zg_systems::alignment::JUDGE_GAS;
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
        assert_ne!(audit_prompt(B256::repeat_byte(1)), audit_prompt(B256::repeat_byte(2)));
    }

    #[test]
    fn the_rerun_is_the_built_in_backends_answer_every_time() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let a = runtime.block_on(rerun(TINY_MODEL_NAME, "Say something about blobs.")).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, runtime.block_on(rerun(TINY_MODEL_NAME, "Say something about blobs.")).unwrap());
        assert!(runtime.block_on(rerun("llama-3-70b", "hi")).is_err(), "only built-in models are re-run");
    }

    #[test]
    fn a_full_segment_accusation_fits_a_dev_block() {
        assert!(accusation_gas(&[0u8; SEGMENT_SIZE + 1_000]) < 30_000_000);
    }
}
