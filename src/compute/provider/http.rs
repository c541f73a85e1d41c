//! 0G's provider HTTP API: `POST /v1/proxy/chat/completions` (OpenAI's, streaming or not, the
//! chat id in `ZG-Res-Key`), `GET /v1/proxy/signature/{chatID}`, `GET
//! /v1/proxy/attestation/report`, `GET /v1/quote`, `GET /v1/user/{addr}/unsettledfee`, and
//! `GET /v1/proxy/models`. Errors are OpenAI-shaped: `{"error": {"message", "type", "code"}}`.

use std::convert::Infallible;
use std::sync::Arc;

use alloy_primitives::{Address, U256};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::admission::{self, Refusal};
use super::ProviderState;
use crate::compute::api_error::too_large;
use crate::compute::oversized::{BodyLimit, refuse_oversized};
use crate::compute::backend::{BackendError, ChatMessage, Generation, Usage};
use crate::compute::receipt::ResponseRecord;
use zg_systems::compute::settlement::tiered_fee;

pub use crate::compute::api_error::ApiError;
pub use crate::compute::receipt::RES_KEY_HEADER;

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let status = match &refusal {
            Refusal::Token(_) => StatusCode::UNAUTHORIZED,
            Refusal::NoAccount { .. } | Refusal::NotAcknowledged => StatusCode::FORBIDDEN,
            Refusal::Balance { .. } => StatusCode::PAYMENT_REQUIRED,
            Refusal::Chain(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, "authentication_error", refusal.to_string())
    }
}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::PromptTooLong { .. } => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", error.to_string()),
            _ => ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", error.to_string()),
        }
    }
}

pub fn router(state: Arc<ProviderState>) -> Router {
    let limit = state.config.max_request_bytes;
    Router::new()
        .route("/v1/proxy/chat/completions", post(chat_completions))
        .route("/v1/proxy/signature/{chat_id}", get(signature))
        .route("/v1/proxy/attestation/report", get(attestation_report))
        .route("/v1/quote", get(quote))
        .route("/v1/user/{user}/unsettledfee", get(unsettled_fee))
        .route("/v1/proxy/models", get(models))
        .route("/v1/models", get(models))
        .route("/v1/quote/verify/gpu", post(verify_gpu))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(BodyLimit { max_bytes: limit, refusal: too_large }, refuse_oversized))
        .with_state(state.clone())
        .merge(super::lora::router(state.clone()))
        .merge(crate::compute::verifiable::http::router(
            Arc::new(crate::compute::verifiable::http::VerifiableEndpoint {
                provider: state.provider,
                key: state.key.clone(),
                market: state.market.clone(),
                service: state.verifiable.clone(),
            }),
            limit,
        ))
}

/// The parts of an OpenAI chat request the provider reads; the rest travels on to a proxy.
pub(crate) struct ChatRequest {
    pub(crate) messages: Vec<ChatMessage>,
    pub(crate) stream: bool,
    pub(crate) max_tokens: u32,
    pub(crate) temperature: f32,
    seed: u64,
    body: serde_json::Value,
}

pub(crate) fn parse_chat(body: &[u8], default_max_tokens: u32) -> Result<ChatRequest, ApiError> {
    let invalid = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    let messages = value["messages"].as_array().filter(|m| !m.is_empty()).ok_or_else(|| invalid("`messages` must be a non-empty array".into()))?;
    let mut parsed = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().ok_or_else(|| invalid(format!("messages[{i}].role must be a string")))?;
        let content = match &message["content"] {
            serde_json::Value::String(text) => text.clone(),
            // Content parts: the text ones, in order.
            serde_json::Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(""),
            serde_json::Value::Null => String::new(),
            _ => return Err(invalid(format!("messages[{i}].content must be a string or content parts"))),
        };
        parsed.push(ChatMessage { role: role.to_string(), content });
    }
    let requested = value["max_completion_tokens"].as_u64().or_else(|| value["max_tokens"].as_u64());
    let max_tokens = match requested {
        Some(0) => return Err(invalid("max_tokens must be at least 1".into())),
        Some(n) if n > u64::from(default_max_tokens) => {
            return Err(invalid(format!("max_tokens {n} is over this provider's limit of {default_max_tokens}")));
        }
        Some(n) => n as u32,
        None => default_max_tokens,
    };
    let temperature = value["temperature"].as_f64().unwrap_or(0.0) as f32;
    if !(0.0..=2.0).contains(&temperature) {
        return Err(invalid("temperature must be within 0-2".into()));
    }
    Ok(ChatRequest {
        messages: parsed,
        stream: value["stream"].as_bool().unwrap_or(false),
        max_tokens,
        temperature,
        seed: value["seed"].as_u64().unwrap_or_else(rand::random),
        body: value,
    })
}

fn new_chat_id() -> String {
    format!("chatcmpl-{}", alloy_primitives::hex::encode(rand::random::<[u8; 12]>()))
}

/// What a finished completion costs and leaves behind: stored unsettled (committed) and signed
/// for `/v1/proxy/signature` before the user sees its end.
#[allow(clippy::too_many_arguments)]
async fn book(state: &Arc<ProviderState>, chat_id: &str, model: &str, user: Address, request: &[u8], text: &str, usage: Usage, cap: U256) -> Result<U256, ApiError> {
    let fee = tiered_fee(usage.prompt_tokens, usage.completion_tokens, state.input_price, state.output_price, &state.tiers).unwrap_or(U256::MAX).min(cap);
    let record = ResponseRecord::for_bodies(chat_id, model, user, request, text.as_bytes(), (usage.prompt_tokens, usage.completion_tokens), fee);
    let signed = record.sign(&state.signer).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?;
    let (store_state, id) = (state.clone(), chat_id.to_string());
    tokio::task::spawn_blocking(move || store_state.store.record_served_signed(user, &id, fee, &signed))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?;
    metrics::counter!("compute_requests_served_total").increment(1);
    metrics::counter!("compute_tokens_total", "kind" => "prompt").increment(usage.prompt_tokens);
    metrics::counter!("compute_tokens_total", "kind" => "completion").increment(usage.completion_tokens);
    Ok(fee)
}

fn usage_json(usage: Usage) -> serde_json::Value {
    serde_json::json!({"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "total_tokens": usage.prompt_tokens + usage.completion_tokens})
}

async fn chat_completions(State(state): State<Arc<ProviderState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let request = parse_chat(&body, state.config.max_tokens)?;
    let prompt_bytes: usize = request.messages.iter().map(|m| m.content.len() + m.role.len()).sum();
    let cost = admission::cost_bound(&state, prompt_bytes, request.messages.len(), request.max_tokens);
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let admitted = admission::admit(&state, authorization, cost).await?;
    let user = admitted.user.user;
    let permit = state.running.clone().acquire_owned().await.map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", e.to_string()))?;
    let chat_id = new_chat_id();
    // A deployed LoRA adapter answers under its own name; anything else is the base model.
    let requested = request.body["model"].as_str().unwrap_or_default();
    let backend = match state.adapters.backend(requested) {
        Some(adapted) => adapted,
        None if state.adapters.names_an_adapter(requested) => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "model_not_found", format!("adapter {requested:.80} is not deployed: POST /v1/lora/adapters/deploy first")));
        }
        None => state.backend.clone(),
    };
    let model = backend.model().to_string();
    let generation = Generation { messages: request.messages, max_tokens: request.max_tokens, temperature: request.temperature, seed: request.seed, body: request.body };
    let (pieces_tx, mut pieces) = mpsc::channel::<String>(64);
    let work = tokio::spawn(backend.generate(generation, pieces_tx));
    let created = crate::wall_clock::now_secs();
    let res_key = HeaderValue::from_str(&chat_id).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?;

    if !request.stream {
        let mut text = String::new();
        while let Some(piece) = pieces.recv().await {
            text.push_str(&piece);
        }
        let usage = work.await.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))??;
        book(&state, &chat_id, &model, user, &body, &text, usage, cost).await?;
        drop((admitted, permit));
        let completion = serde_json::json!({
            "id": chat_id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": if usage.completion_tokens >= u64::from(request.max_tokens) { "length" } else { "stop" }}],
            "usage": usage_json(usage),
        });
        let mut response = Json(completion).into_response();
        response.headers_mut().insert(RES_KEY_HEADER, res_key);
        return Ok(response);
    }

    // Streaming: each piece is a chunk; the usage chunk and `[DONE]` follow once the request
    // is stored, so a user who saw the end was billed for it exactly once.
    let (events_tx, events) = mpsc::channel::<Event>(64);
    let max_tokens = request.max_tokens;
    tokio::spawn(async move {
        let _held = (admitted, permit);
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            serde_json::json!({"id": chat_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let _ = events_tx.send(Event::default().data(chunk(serde_json::json!({"role": "assistant", "content": ""}), None).to_string())).await;
        let mut text = String::new();
        let mut listening = true;
        while let Some(piece) = pieces.recv().await {
            text.push_str(&piece);
            if listening && events_tx.send(Event::default().data(chunk(serde_json::json!({"content": piece}), None).to_string())).await.is_err() {
                // The user left: stop generating; what was produced is still billed.
                listening = false;
                pieces.close();
            }
        }
        let outcome = match work.await {
            Ok(Ok(usage)) => book(&state, &chat_id, &model, user, &body, &text, usage, cost).await.map(|_| usage),
            Ok(Err(error)) => Err(ApiError::from(error)),
            Err(error) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", error.to_string())),
        };
        let tail = match outcome {
            Ok(usage) => {
                let finish = if usage.completion_tokens >= u64::from(max_tokens) { "length" } else { "stop" };
                let mut last = chunk(serde_json::json!({}), Some(finish));
                last["usage"] = usage_json(usage);
                vec![Event::default().data(last.to_string()), Event::default().data("[DONE]")]
            }
            Err(error) => vec![Event::default().data(serde_json::json!({"error": {"message": error.message, "type": error.kind}}).to_string())],
        };
        for event in tail {
            let _ = events_tx.send(event).await;
        }
    });
    let stream = futures::stream::unfold(events, |mut events| async move { events.recv().await.map(|event| (Ok::<_, Infallible>(event), events)) });
    let mut response = Sse::new(stream.boxed()).into_response();
    response.headers_mut().insert(RES_KEY_HEADER, res_key);
    Ok(response)
}

async fn signature(State(state): State<Arc<ProviderState>>, Path(chat_id): Path<String>) -> Result<Response, ApiError> {
    let signed = state.store.receipt(&chat_id).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?;
    match signed {
        Some(signed) => Ok(Json(signed).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no response {chat_id:.80} was served here (or it is no longer kept)"))),
    }
}

fn report(state: &ProviderState) -> serde_json::Value {
    serde_json::json!({
        "signing_address": state.signer.address(),
        // Where a TEE quote carries the signer (what the fine-tuning SDK's acknowledgeProviderSigner reads).
        "report_data": state.signer.address(),
        "provider": state.provider,
        "model": state.backend.model(),
        "tee": false,
        "note": "no TEE attestation: the signing key is held by the zgnode provider process",
    })
}

async fn attestation_report(State(state): State<Arc<ProviderState>>) -> Json<serde_json::Value> {
    Json(report(&state))
}

async fn quote(State(state): State<Arc<ProviderState>>) -> String {
    report(&state).to_string()
}

/// The public model catalog (OpenAI's list, with the fields 0G's `ProviderModelInfo` reads:
/// prices in neuron per token, tiers, limits), also at `/v1/proxy/models`.
async fn models(State(state): State<Arc<ProviderState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"object": "list", "data": [super::catalog::model_info(&state)]}))
}

/// 0G's GPU attestation check: this provider has no TEE, so there is no quote to verify; it
/// says so (the SDK's `verifyRA` reads anything but 200 as "not verified").
async fn verify_gpu() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_tee",
        "this provider runs without a TEE: there is no GPU attestation to verify (its signing key is held by the zgnode provider process)",
    )
}

async fn unsettled_fee(State(state): State<Arc<ProviderState>>, Path(user): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let user: Address = user.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", format!("{user:.60} is not an address")))?;
    let token = crate::compute::token::parse(headers.get("authorization").and_then(|v| v.to_str().ok())).map_err(Refusal::from)?;
    if token.user != user {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "authentication_error", "the token is another user's"));
    }
    let owed = state.store.owed_by(user).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?;
    Ok(Json(serde_json::json!({"unsettledFee": owed.to_string()})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_requests_are_read_or_refused_with_reasons() {
        let request = parse_chat(br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"!"}]}],"stream":true,"max_tokens":5}"#, 64).unwrap();
        assert_eq!((request.messages[0].content.as_str(), request.stream, request.max_tokens), ("hi!", true, 5));
        assert_eq!(parse_chat(br#"{"messages":[{"role":"user","content":"x"}]}"#, 64).unwrap().max_tokens, 64);
        for (body, expect) in [
            (&b"not json"[..], "not JSON"),
            (b"{}", "messages"),
            (br#"{"messages":[]}"#, "messages"),
            (br#"{"messages":[{"content":"x"}]}"#, "role"),
            (br#"{"messages":[{"role":"user","content":5}]}"#, "content"),
            (br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":65}"#, "limit of 64"),
            (br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":0}"#, "at least 1"),
            (br#"{"messages":[{"role":"user","content":"x"}],"temperature":9}"#, "temperature"),
        ] {
            let error = parse_chat(body, 64).err().unwrap();
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(error.message.contains(expect), "{}: {}", String::from_utf8_lossy(body), error.message);
        }
    }

    #[test]
    fn chat_ids_are_distinct_header_values() {
        let (a, b) = (new_chat_id(), new_chat_id());
        assert_ne!(a, b);
        assert!(HeaderValue::from_str(&a).is_ok());
    }
}
