//! `POST /v1/proxy/verifiable/{model}`: a vector input and the user's signed request in, the
//! logits, the class, the halo2 proof and the provider's signature out; `GET
//! /v1/proxy/verifiable` describes the service (model, id, price, contracts).
//!
//! Request: `{"input": [64 ints in -128..=127], "request": {"user", "nonce", "inputCommitment",
//! "fee", "signature"}}` — the signature is the user's `personal_sign` over
//! `VerifiedInference.requestHash` (provider and model id are this service's). Admission: the
//! commitment is Poseidon of the input, the signature is the user's, the fee is at least the
//! price, the nonce is above every nonce this provider settled or holds for the user, and the
//! user's deposit covers this fee plus everything unsettled. The result is stored (committed)
//! before the response leaves.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, I256, U256};
use alloy_signer::SignerSync;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::VerifiableService;
use crate::compute::api_error::ApiError;
use crate::compute::client::MarketClient;
use zg_systems::verifiable::circuit::{self, INPUT_LEN};
use zg_systems::verifiable::contracts::{
    IVerifiedInference, MODEL_REGISTRY_ADDRESS, VERIFIED_INFERENCE_ADDRESS, VerifiedRequest, VerifiedResult, commitment_word, request_hash, result_hash,
};

/// What the verifiable routes need of the provider they are served by.
pub struct VerifiableEndpoint {
    pub provider: Address,
    pub key: alloy_signer_local::PrivateKeySigner,
    pub market: MarketClient,
    /// `None` when the provider has no `[verifiable]` section: the routes answer 404.
    pub service: Option<Arc<VerifiableService>>,
}

/// `GET /v1/proxy/verifiable` and `POST /v1/proxy/verifiable/{model}`, bodies up to `limit`.
pub fn router(endpoint: Arc<VerifiableEndpoint>, limit: usize) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/proxy/verifiable", get(describe))
        .route("/v1/proxy/verifiable/{model}", post(prove))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            crate::compute::oversized::BodyLimit { max_bytes: limit, refusal: crate::compute::api_error::too_large },
            crate::compute::oversized::refuse_oversized,
        ))
        .with_state(endpoint)
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedRequest {
    pub user: Address,
    pub nonce: U256,
    pub input_commitment: B256,
    pub fee: U256,
    pub signature: Bytes,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProveBody {
    pub input: Vec<i64>,
    pub request: SignedRequest,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

fn service(state: &VerifiableEndpoint) -> Result<&Arc<VerifiableService>, ApiError> {
    state.service.as_ref().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "this provider serves no verifiable model"))
}

pub async fn describe(State(state): State<Arc<VerifiableEndpoint>>) -> Result<Json<serde_json::Value>, ApiError> {
    let service = service(&state)?;
    Ok(Json(serde_json::json!({
        "model": service.model.name, "modelId": service.model_id, "price": service.price.to_string(),
        "provider": state.provider, "inputLen": INPUT_LEN, "classes": service.model.classes(), "ready": service.ready(),
        "proofSystem": "halo2 (PLONK, IPA over Pasta), Poseidon input commitment",
        "modelRegistry": MODEL_REGISTRY_ADDRESS, "verifiedInference": VERIFIED_INFERENCE_ADDRESS, "chainId": service.chain_id, "activeAt": service.active_at,
    })))
}

/// The checks that need no chain: shape, commitment, signature, price.
fn check_request(service: &VerifiableService, provider: Address, body: &ProveBody) -> Result<(Vec<i8>, VerifiedRequest), ApiError> {
    let terms = Terms { model: &service.model, model_id: service.model_id, chain_id: service.chain_id, price: service.price, provider };
    check_body(&terms, body)
}

/// What a request is checked against: the service's model and price, this provider.
pub struct Terms<'a> {
    pub model: &'a zg_components::verifiable::QuantizedModel,
    pub model_id: B256,
    pub chain_id: u64,
    pub price: U256,
    pub provider: Address,
}

/// [`check_request`]'s checks on a decoded body (the fuzz target's entry: no service needed).
pub fn check_body(terms: &Terms<'_>, body: &ProveBody) -> Result<(Vec<i8>, VerifiedRequest), ApiError> {
    let (model, provider) = (terms.model, terms.provider);
    if body.input.len() != INPUT_LEN {
        return Err(invalid(format!("`input` must hold {INPUT_LEN} values, not {}", body.input.len())));
    }
    let input: Vec<i8> = body.input.iter().map(|v| i8::try_from(*v)).collect::<Result<_, _>>().map_err(|_| invalid("`input` values must be within -128..=127"))?;
    let public = circuit::public_inputs(model, &input).map_err(|e| invalid(e.to_string()))?;
    let request = VerifiedRequest {
        user: body.request.user,
        provider,
        modelId: terms.model_id,
        nonce: body.request.nonce,
        inputCommitment: body.request.input_commitment,
        fee: body.request.fee,
    };
    if commitment_word(&public[0]) != request.inputCommitment {
        return Err(invalid("`inputCommitment` is not the Poseidon commitment of `input`"));
    }
    let hash = request_hash(VERIFIED_INFERENCE_ADDRESS, terms.chain_id, &request);
    let signer = alloy_primitives::Signature::try_from(body.request.signature.as_ref())
        .ok()
        .and_then(|signature| signature.recover_address_from_msg(hash.as_slice()).ok());
    if signer != Some(request.user) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", "the signature is not the user's over this request"));
    }
    if request.fee < terms.price {
        return Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, "payment_error", format!("the fee {} is below the price {}", request.fee, terms.price)));
    }
    Ok((input, request))
}

/// Reserves the request against the user's deposit and nonce; released by [`release`].
async fn admit(state: &VerifiableEndpoint, service: &VerifiableService, request: &VerifiedRequest) -> Result<(), ApiError> {
    let unavailable = |e: anyhow::Error| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", format!("reading the chain: {e:#}"));
    let (nonce_call, balance_call) = (IVerifiedInference::lastNonceCall { user: request.user, provider: state.provider }, IVerifiedInference::balanceOfCall { user: request.user });
    let (settled_nonce, deposit) = tokio::try_join!(
        state.market.preview(Address::ZERO, VERIFIED_INFERENCE_ADDRESS, &nonce_call),
        state.market.preview(Address::ZERO, VERIFIED_INFERENCE_ADDRESS, &balance_call),
    )
    .map_err(unavailable)?;
    let (owed, stored_nonce) = service.store.owed_by(request.user).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?;
    let mut in_progress = service.in_progress.lock().unwrap_or_else(|e| e.into_inner());
    let (busy_nonce, reserved) = in_progress.get(&request.user).copied().unwrap_or_default();
    let floor = settled_nonce.max(stored_nonce.unwrap_or_default()).max(busy_nonce);
    if request.nonce <= floor {
        return Err(ApiError::new(StatusCode::CONFLICT, "invalid_request_error", format!("nonce {} is not above {floor}, the highest this provider has seen for you", request.nonce)));
    }
    let needed = owed + reserved + request.fee;
    if deposit < needed {
        return Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, "payment_error", format!("your deposit {deposit} does not cover {needed} (this fee plus what is unsettled)")));
    }
    in_progress.insert(request.user, (request.nonce, reserved + request.fee));
    Ok(())
}

fn release(service: &VerifiableService, request: &VerifiedRequest) {
    let mut in_progress = service.in_progress.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((nonce, reserved)) = in_progress.get_mut(&request.user) {
        *reserved = reserved.saturating_sub(request.fee);
        if reserved.is_zero() && *nonce <= request.nonce {
            in_progress.remove(&request.user);
        }
    }
}

pub async fn prove(State(state): State<Arc<VerifiableEndpoint>>, Path(model): Path<String>, body: axum::body::Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    let service = service(&state)?.clone();
    if model != service.model.name && model != service.model_id.to_string() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("this provider serves {} ({}), not {model}", service.model.name, service.model_id)));
    }
    let body: ProveBody = serde_json::from_slice(&body).map_err(|e| invalid(format!("the body is not a verifiable request: {e}")))?;
    let (input, request) = check_request(&service, state.provider, &body)?;
    if !service.ready() {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", "the proving keys are still being made or the model is not yet active on chain; retry in a few seconds"));
    }
    admit(&state, &service, &request).await?;
    let answer = serve(&state, &service, input, request.clone(), body.request.signature).await;
    release(&service, &request);
    answer.map(Json)
}

async fn serve(state: &VerifiableEndpoint, service: &Arc<VerifiableService>, input: Vec<i8>, request: VerifiedRequest, user_signature: Bytes) -> Result<serde_json::Value, ApiError> {
    let failed = |message: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message);
    let outcome = service.prover.submit(service.model_id.0, input);
    let proved = tokio::task::spawn_blocking(move || outcome.recv())
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|_| failed("the prover stopped".into()))?
        .map_err(|e| failed(e.to_string()))?;
    let mut logits = proved.logits.clone();
    if service.config.misbehave {
        // Fault drill: a wrong answer, signed, with the true proof (which cannot match it).
        logits[0] += 1;
    }
    let hash = result_hash(VERIFIED_INFERENCE_ADDRESS, service.chain_id, &request, &logits, &proved.proof);
    let signature = state.key.sign_message_sync(hash.as_slice()).map_err(|e| failed(e.to_string()))?;
    let result = VerifiedResult {
        request: request.clone(),
        userSignature: user_signature,
        logits: logits.iter().map(|l| I256::try_from(*l).unwrap_or_default()).collect(),
        proof: proved.proof.clone().into(),
    };
    let store_service = service.clone();
    tokio::task::spawn_blocking(move || store_service.store.keep(&result))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    metrics::counter!("compute_verifiable_results_total").increment(1);
    metrics::histogram!("compute_verifiable_prove_seconds").record(proved.prove_micros as f64 / 1e6);
    let class = zg_systems::verifiable::inference::argmax(&logits);
    Ok(serde_json::json!({
        "model": service.model.name, "modelId": service.model_id, "provider": state.provider,
        "nonce": request.nonce.to_string(), "fee": request.fee.to_string(),
        "logits": logits, "class": class,
        "inputCommitment": request.inputCommitment,
        "publicInputs": proved.public.iter().map(|w| B256::from(*w)).collect::<Vec<_>>(),
        "proof": Bytes::from(proved.proof),
        "resultHash": hash, "signature": Bytes::from(signature.as_bytes().to_vec()),
        "proveMs": proved.prove_micros / 1000,
    }))
}
