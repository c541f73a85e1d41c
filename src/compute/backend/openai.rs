//! Forwarding to an OpenAI-compatible server the GPU owner already runs (vLLM, llama.cpp's
//! `llama-server`, Ollama's `/v1`): the user's request goes upstream with `stream: true` and
//! `stream_options.include_usage`, the text comes back piece by piece, and the upstream's own
//! `usage` is what gets metered. A server that sends no usage is metered by estimate (prompt
//! bytes / 4, one token per streamed piece) and says so in the log. Plain HTTP only: the
//! upstream is expected on the provider's own host or network.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use super::{BackendError, BackendFuture, Generation, InferenceBackend, Usage};

/// An upstream error body is read up to this much for the message.
const MAX_ERROR_BYTES: usize = 16 << 10;
/// One SSE line (one chunk) longer than this is not a chat chunk.
const MAX_LINE_BYTES: usize = 1 << 20;

pub struct OpenAiProxy {
    /// `http://host:port/v1`: `/chat/completions` is appended.
    base_url: String,
    /// What we register and answer as.
    name: String,
    /// What the upstream calls it.
    upstream_model: String,
    /// The `Authorization` header sent upstream.
    authorization: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
    first_byte_timeout: Duration,
}

impl OpenAiProxy {
    pub fn new(base_url: &str, name: &str, upstream_model: &str, api_key: Option<String>) -> Result<Self, BackendError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        if !base_url.starts_with("http://") {
            return Err(BackendError::Unreachable(format!("{base_url}: only http:// upstreams are supported")));
        }
        base_url.parse::<hyper::Uri>().map_err(|e| BackendError::Unreachable(format!("{base_url}: {e}")))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            base_url,
            name: name.to_string(),
            upstream_model: upstream_model.to_string(),
            authorization: api_key.map(|key| format!("Bearer {key}")),
            client,
            first_byte_timeout: Duration::from_secs(120),
        })
    }

    /// Sends `value` as the `Authorization` header (a user's `app-sk-` token, for `ask`).
    pub fn with_authorization(mut self, value: String) -> Self {
        self.authorization = Some(value);
        self
    }

    /// Sends `request`, waiting at most `first_byte_timeout` for the answer's head.
    async fn send(&self, request: hyper::Request<Full<Bytes>>) -> Result<hyper::Response<hyper::body::Incoming>, BackendError> {
        tokio::time::timeout(self.first_byte_timeout, self.client.request(request))
            .await
            .map_err(|_| BackendError::Unreachable(format!("no answer within {:?}", self.first_byte_timeout)))?
            .map_err(|e| BackendError::Unreachable(e.to_string()))
    }

    /// GETs `{base}{path}` as JSON.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, BackendError> {
        let request = hyper::Request::get(format!("{}{path}", self.base_url)).body(Full::new(Bytes::new())).map_err(|e| BackendError::Unreachable(e.to_string()))?;
        self.exchange_json(request).await
    }

    /// POSTs `body` to `{base}{path}` as JSON and reads a JSON answer.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, BackendError> {
        let request = hyper::Request::post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| BackendError::Unreachable(e.to_string()))?;
        self.exchange_json(request).await
    }

    /// Sends `request` and reads a JSON answer (bounded); a non-2xx status is the upstream's refusal.
    async fn exchange_json(&self, request: hyper::Request<Full<Bytes>>) -> Result<serde_json::Value, BackendError> {
        let response = self.send(request).await?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), 16 * MAX_LINE_BYTES).collect().await.map_err(|e| BackendError::Unreachable(e.to_string()))?.to_bytes();
        if !status.is_success() {
            return Err(BackendError::Refused { status: status.as_u16(), message: error_message(&body) });
        }
        serde_json::from_slice(&body).map_err(|e| BackendError::Malformed(e.to_string()))
    }

    async fn run(&self, generation: Generation, pieces: mpsc::Sender<String>) -> Result<Usage, BackendError> {
        self.complete(generation, pieces).await.map(|(usage, _)| usage)
    }

    /// Runs `generation` upstream; its usage and the `ZG-Res-Key` header if the upstream is a
    /// 0G provider.
    pub async fn complete(&self, generation: Generation, pieces: mpsc::Sender<String>) -> Result<(Usage, Option<String>), BackendError> {
        let mut body = match generation.body {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        body.insert("model".into(), self.upstream_model.clone().into());
        body.insert("messages".into(), serde_json::to_value(&generation.messages).unwrap_or_default());
        body.insert("max_tokens".into(), generation.max_tokens.into());
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
        let mut request = hyper::Request::post(format!("{}/chat/completions", self.base_url)).header("content-type", "application/json");
        if let Some(value) = &self.authorization {
            request = request.header("authorization", value);
        }
        let request = request
            .body(Full::new(Bytes::from(serde_json::Value::Object(body).to_string())))
            .map_err(|e| BackendError::Unreachable(e.to_string()))?;
        let response = self.send(request).await?;
        let status = response.status();
        let res_key = response.headers().get(crate::compute::receipt::RES_KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let streaming = response.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"));
        let mut body = response.into_body();
        if !status.is_success() {
            let mut message = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    message.extend_from_slice(&data);
                }
                if message.len() > MAX_ERROR_BYTES {
                    message.truncate(MAX_ERROR_BYTES);
                    break;
                }
            }
            return Err(BackendError::Refused { status: status.as_u16(), message: error_message(&message) });
        }
        let prompt_bytes: usize = generation.messages.iter().map(|m| m.content.len() + m.role.len()).sum();
        let mut meter = Meter { usage: None, pieces: 0, prompt_bytes };
        let mut buffer = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BackendError::Unreachable(e.to_string()))?;
            let Ok(data) = frame.into_data() else { continue };
            buffer.extend_from_slice(&data);
            if !streaming {
                if buffer.len() > 16 * MAX_LINE_BYTES {
                    return Err(BackendError::Malformed("a completion over 16 MB".into()));
                }
                continue;
            }
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                if meter.line(&line, &pieces).await? {
                    return Ok((meter.finish(&self.name), res_key));
                }
            }
            if buffer.len() > MAX_LINE_BYTES {
                return Err(BackendError::Malformed("an event-stream line over 1 MB".into()));
            }
        }
        if !streaming {
            // A server that ignored `stream: true` answers one chat.completion.
            let completion: serde_json::Value = serde_json::from_slice(&buffer).map_err(|e| BackendError::Malformed(e.to_string()))?;
            let text = completion["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string();
            meter.usage = usage_of(&completion["usage"]);
            meter.pieces = 1;
            let _ = pieces.send(text).await;
        } else if !buffer.is_empty() {
            meter.line(&buffer, &pieces).await?;
        }
        Ok((meter.finish(&self.name), res_key))
    }
}

/// An OpenAI error body's message, else the body as text.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

struct Meter {
    usage: Option<Usage>,
    pieces: u64,
    prompt_bytes: usize,
}

fn usage_of(value: &serde_json::Value) -> Option<Usage> {
    Some(Usage { prompt_tokens: value["prompt_tokens"].as_u64()?, completion_tokens: value["completion_tokens"].as_u64()? })
}

impl Meter {
    /// One event-stream line; true at `[DONE]`.
    async fn line(&mut self, line: &[u8], pieces: &mpsc::Sender<String>) -> Result<bool, BackendError> {
        let line = std::str::from_utf8(line).map_err(|_| BackendError::Malformed("an event-stream line is not UTF-8".into()))?.trim();
        let Some(data) = line.strip_prefix("data:") else { return Ok(false) };
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        let chunk: serde_json::Value = serde_json::from_str(data).map_err(|e| BackendError::Malformed(format!("{e} in {data:.80}")))?;
        if let Some(message) = chunk["error"]["message"].as_str() {
            return Err(BackendError::Refused { status: 502, message: message.to_string() });
        }
        if let Some(usage) = usage_of(&chunk["usage"]) {
            self.usage = Some(usage);
        }
        if let Some(text) = chunk["choices"][0]["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
            self.pieces += 1;
            // A user who went away does not stop the metering of what the upstream produced.
            let _ = pieces.send(text.to_string()).await;
        }
        Ok(false)
    }

    fn finish(self, model: &str) -> Usage {
        self.usage.unwrap_or_else(|| {
            tracing::warn!(model, "the upstream sent no usage: metering by estimate");
            Usage { prompt_tokens: self.prompt_bytes.div_ceil(4) as u64, completion_tokens: self.pieces }
        })
    }
}

impl InferenceBackend for OpenAiProxy {
    fn model(&self) -> &str {
        &self.name
    }

    fn generate(self: Arc<Self>, generation: Generation, pieces: mpsc::Sender<String>) -> BackendFuture {
        Box::pin(async move { self.run(generation, pieces).await })
    }
}
