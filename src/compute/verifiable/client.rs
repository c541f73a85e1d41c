//! The user's side of a verifiable service: deposit, sign a request for a private input, get
//! the result with its proof, check the provider's signature and the proof (through the
//! chain's ModelRegistry, so the check is the one settlement makes), and report a wrong result.

use alloy_primitives::{Address, B256, Bytes, I256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail};

use crate::compute::backend::openai::OpenAiProxy;
use crate::compute::client::MarketClient;
use zg_systems::verifiable::circuit::{field_of, input_commitment};
use zg_systems::verifiable::contracts::{
    IModelRegistry, IVerifiedInference, MODEL_REGISTRY_ADDRESS, VERIFIED_INFERENCE_ADDRESS, VerifiedRequest, WrongResultEvidence, commitment_word,
    request_hash, result_hash,
};
use zg_systems::verifiable::precompile::field_to_word;

/// A verifiable service as `GET /v1/proxy/verifiable` describes it.
#[derive(Clone, Debug)]
pub struct ServiceInfo {
    pub model: String,
    pub model_id: B256,
    pub price: U256,
    pub provider: Address,
    pub chain_id: u64,
    pub ready: bool,
}

/// A result as the provider answered it, checked.
#[derive(Clone, Debug)]
pub struct VerifiedAnswer {
    pub request: VerifiedRequest,
    pub logits: Vec<i64>,
    pub class: usize,
    pub proof: Bytes,
    pub provider_signature: Bytes,
    /// The provider signed exactly this result.
    pub signed_by_provider: bool,
    /// `ModelRegistry.verifyInference` said yes (an `eth_call`).
    pub verified_on_chain: bool,
}

impl VerifiedAnswer {
    /// The answer as evidence JSON (what `zgnode compute report-wrong` reads).
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.request;
        serde_json::json!({
            "request": {"user": r.user, "provider": r.provider, "modelId": r.modelId, "nonce": r.nonce.to_string(), "inputCommitment": r.inputCommitment, "fee": r.fee.to_string()},
            "logits": self.logits, "class": self.class, "proof": self.proof, "providerSignature": self.provider_signature,
            "signedByProvider": self.signed_by_provider, "verifiedOnChain": self.verified_on_chain,
        })
    }

    pub fn from_json(value: &serde_json::Value) -> anyhow::Result<Self> {
        let field = |path: &[&str]| -> anyhow::Result<serde_json::Value> {
            let mut at = value;
            for key in path {
                at = at.get(key).with_context(|| format!("the answer has no {}", path.join(".")))?;
            }
            Ok(at.clone())
        };
        let parse = |path: &[&str]| -> anyhow::Result<String> { field(path)?.as_str().map(str::to_string).with_context(|| format!("{} is not a string", path.join("."))) };
        let request = VerifiedRequest {
            user: parse(&["request", "user"])?.parse()?,
            provider: parse(&["request", "provider"])?.parse()?,
            modelId: parse(&["request", "modelId"])?.parse()?,
            nonce: parse(&["request", "nonce"])?.parse()?,
            inputCommitment: parse(&["request", "inputCommitment"])?.parse()?,
            fee: parse(&["request", "fee"])?.parse()?,
        };
        let logits: Vec<i64> = serde_json::from_value(field(&["logits"])?).context("logits are not integers")?;
        let class = zg_systems::verifiable::inference::argmax(&logits);
        Ok(Self {
            request,
            class,
            logits,
            proof: parse(&["proof"])?.parse()?,
            provider_signature: parse(&["providerSignature"])?.parse()?,
            signed_by_provider: false,
            verified_on_chain: false,
        })
    }
}

fn http(url: &str) -> anyhow::Result<OpenAiProxy> {
    OpenAiProxy::new(url, "verifiable", "verifiable", None).map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn service_info(provider_url: &str) -> anyhow::Result<ServiceInfo> {
    let info = http(provider_url)?.get_json("/v1/proxy/verifiable").await.map_err(|e| anyhow::anyhow!("{provider_url}: {e}"))?;
    let text = |key: &str| info[key].as_str().map(str::to_string).with_context(|| format!("the provider's description has no {key}"));
    Ok(ServiceInfo {
        model: text("model")?,
        model_id: text("modelId")?.parse()?,
        price: text("price")?.parse()?,
        provider: text("provider")?.parse()?,
        chain_id: info["chainId"].as_u64().context("the provider's description has no chainId")?,
        ready: info["ready"].as_bool().unwrap_or(false),
    })
}

/// The public inputs a proof of `logits` for `commitment` carries (as the contract builds them).
pub fn public_words(commitment: B256, logits: &[i64]) -> Vec<B256> {
    std::iter::once(commitment).chain(logits.iter().map(|l| B256::from(field_to_word(&field_of(*l))))).collect()
}

/// Whether the chain's registry accepts `proof` for `logits` of `request`'s committed input.
pub async fn verify_on_chain(market: &MarketClient, model_id: B256, commitment: B256, logits: &[i64], proof: &Bytes) -> anyhow::Result<bool> {
    let call = IModelRegistry::verifyInferenceCall { modelId: model_id, publicInputs: public_words(commitment, logits), proof: proof.clone() };
    market.preview(Address::ZERO, MODEL_REGISTRY_ADDRESS, &call).await
}

/// Asks `provider_url` to run its model on `input` for `fee` (default: its price), signing
/// the request with `key`; checks the answer's signature and proof.
pub async fn ask(market: &MarketClient, key: &PrivateKeySigner, provider_url: &str, input: &[i8], nonce: U256, fee: Option<U256>) -> anyhow::Result<VerifiedAnswer> {
    let info = service_info(provider_url).await?;
    let commitment = commitment_word(&input_commitment(input).with_context(|| format!("the input must hold {} values", zg_systems::verifiable::circuit::INPUT_LEN))?);
    let request = VerifiedRequest { user: key.address(), provider: info.provider, modelId: info.model_id, nonce, inputCommitment: commitment, fee: fee.unwrap_or(info.price) };
    let signature = key.sign_message_sync(request_hash(VERIFIED_INFERENCE_ADDRESS, info.chain_id, &request).as_slice())?;
    let body = serde_json::json!({
        "input": input,
        "request": {"user": request.user, "nonce": request.nonce.to_string(), "inputCommitment": commitment, "fee": request.fee.to_string(), "signature": Bytes::from(signature.as_bytes().to_vec())},
    });
    let answer = http(provider_url)?
        .post_json(&format!("/v1/proxy/verifiable/{}", info.model), &body)
        .await
        .map_err(|e| anyhow::anyhow!("the provider refused: {e}"))?;
    let logits: Vec<i64> = serde_json::from_value(answer["logits"].clone()).context("the answer has no logits")?;
    let proof: Bytes = serde_json::from_value(answer["proof"].clone()).context("the answer has no proof")?;
    let provider_signature: Bytes = serde_json::from_value(answer["signature"].clone()).context("the answer has no signature")?;
    let hash = result_hash(VERIFIED_INFERENCE_ADDRESS, info.chain_id, &request, &logits, &proof);
    let signed_by_provider = alloy_primitives::Signature::try_from(provider_signature.as_ref())
        .ok()
        .and_then(|s| s.recover_address_from_msg(hash.as_slice()).ok())
        == Some(info.provider);
    if logits.is_empty() {
        bail!("the provider answered no logits");
    }
    let verified_on_chain = verify_on_chain(market, info.model_id, commitment, &logits, &proof).await?;
    let class = zg_systems::verifiable::inference::argmax(&logits);
    Ok(VerifiedAnswer { request, logits, class, proof, provider_signature, signed_by_provider, verified_on_chain })
}

/// Sends a signed wrong result as evidence (the contract checks it); the transaction hash.
pub async fn report_wrong(market: &MarketClient, key: &PrivateKeySigner, answer: &VerifiedAnswer, honest: Option<(&[i64], &Bytes)>) -> anyhow::Result<B256> {
    let to_i256 = |values: &[i64]| values.iter().map(|v| I256::try_from(*v).unwrap_or_default()).collect::<Vec<_>>();
    let evidence = WrongResultEvidence {
        logits: to_i256(&answer.logits),
        proof: answer.proof.clone(),
        providerSignature: answer.provider_signature.clone(),
        honestLogits: honest.map(|(l, _)| to_i256(l)).unwrap_or_default(),
        honestProof: honest.map(|(_, p)| p.clone()).unwrap_or_default(),
    };
    market
        .send(key, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::reportWrongResultCall { request: answer.request.clone(), evidence }, U256::ZERO)
        .await
        .context("reporting the wrong result (VerifiedInference.reportWrongResult)")
}

/// Deposits `amount` neuron for verifiable requests.
pub async fn deposit(market: &MarketClient, key: &PrivateKeySigner, amount: U256) -> anyhow::Result<B256> {
    market.send(key, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::depositCall {}, amount).await
}
