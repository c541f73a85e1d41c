//! LoRA adapters on the inference provider, as 0G's SDK reaches them (`listAdapters`,
//! `getAdapterStatus`, `deployAdapter`, `chatWithFineTunedModel`): `GET /v1/lora/adapters`,
//! `GET /v1/lora/adapters/{name}`, `POST /v1/lora/adapters/deploy`. An adapter is a PEFT
//! directory `lora_dir/<taskId>/` (`adapter_model.safetensors`, `adapter_config.json`, and
//! `owner.json` naming the user it was trained for); deploying merges it into the built-in
//! model's weights and serves the result under the adapter's name (0G's
//! `ft-<base model>-<task id prefix>`), metered, signed and settled like any chat request.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use alloy_primitives::Address;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ProviderState;
use crate::compute::api_error::ApiError;
use crate::compute::backend::InferenceBackend;
use crate::compute::backend::llama::{LlamaBackend, ModelFiles};
use crate::compute::training::adapter::LoraAdapter;

/// 0G's adapter name for a base model and a task (`makeAdapterName`).
pub fn adapter_name(base_model: &str, task_id: &str) -> String {
    let sanitized = base_model.replace(['/', '.', ' '], "-");
    let short: String = task_id.chars().take(12).collect();
    format!("ft-{}-{short}", sanitized.trim_matches('-'))
}

/// Task ids name directories: letters, digits, `-` and `_` only.
fn valid_task_id(id: &str) -> bool {
    (1..=80).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

struct Deployed {
    state: &'static str,
    error: Option<String>,
    backend: Option<Arc<dyn InferenceBackend>>,
}

/// The adapters a provider can serve: found on disk, and those deployed.
pub struct Adapters {
    /// None: the backend is not the built-in one (a proxied upstream serves its own adapters).
    dir: Option<PathBuf>,
    model_dir: PathBuf,
    base_model: String,
    deployed: Mutex<HashMap<String, Deployed>>,
}

fn bad(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::new(status, "invalid_request_error", message.into())
}

impl Adapters {
    pub fn new(dir: Option<PathBuf>, model_dir: PathBuf, base_model: &str) -> Self {
        Self { dir, model_dir, base_model: base_model.to_string(), deployed: Mutex::new(HashMap::new()) }
    }

    fn deployed(&self) -> std::sync::MutexGuard<'_, HashMap<String, Deployed>> {
        self.deployed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// (task id, owner) of every adapter directory.
    fn on_disk(&self) -> Vec<(String, Option<Address>)> {
        let Some(dir) = &self.dir else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut found: Vec<(String, Option<Address>)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|id| valid_task_id(id) && dir.join(id).join("adapter_model.safetensors").is_file())
            .map(|id| {
                let owner = std::fs::read(dir.join(&id).join("owner.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| v["userAddress"].as_str().and_then(|a| a.parse().ok()));
                (id, owner)
            })
            .collect();
        found.sort();
        found
    }

    fn info(&self, task_id: &str, owner: Option<Address>) -> Value {
        let name = adapter_name(&self.base_model, task_id);
        let deployed = self.deployed();
        let (state, error) = deployed.get(&name).map_or(("ready", None), |d| (d.state, d.error.clone()));
        json!({ "adapterName": name, "taskId": task_id, "baseModel": self.base_model, "userAddress": owner.map(|a| a.to_string()).unwrap_or_default(), "state": state, "error": error })
    }

    /// The backend serving adapter `name`, if deployed and active.
    pub fn backend(&self, name: &str) -> Option<Arc<dyn InferenceBackend>> {
        self.deployed().get(name).and_then(|d| d.backend.clone())
    }

    /// Whether `name` is an adapter's name (deployed or not).
    pub fn names_an_adapter(&self, name: &str) -> bool {
        name.starts_with("ft-") && (self.deployed().contains_key(name) || self.on_disk().iter().any(|(id, _)| adapter_name(&self.base_model, id) == name))
    }

    fn deploy(&self, task_id: &str, user: Address) -> Result<String, ApiError> {
        let dir = self.dir.as_ref().ok_or_else(|| bad(StatusCode::NOT_IMPLEMENTED, "this provider proxies an upstream model: it serves no LoRA adapters"))?;
        let (_, owner) = self.on_disk().into_iter().find(|(id, _)| id == task_id).ok_or_else(|| bad(StatusCode::NOT_FOUND, format!("no adapter for task {task_id:.80} here")))?;
        if owner.is_some_and(|owner| owner != user) {
            return Err(bad(StatusCode::FORBIDDEN, "the adapter was trained for another user"));
        }
        let name = adapter_name(&self.base_model, task_id);
        if self.deployed().get(&name).is_some_and(|d| d.state == "active") {
            return Ok(name);
        }
        self.deployed().insert(name.clone(), Deployed { state: "loading", error: None, backend: None });
        let loaded = (|| -> Result<Arc<dyn InferenceBackend>, String> {
            let folder = dir.join(task_id);
            let bytes = std::fs::read(folder.join("adapter_model.safetensors")).map_err(|e| e.to_string())?;
            let config: Value = serde_json::from_slice(&std::fs::read(folder.join("adapter_config.json")).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            let adapter = LoraAdapter::read(&bytes, &config).map_err(|e| e.to_string())?;
            let mut files = ModelFiles::read(&self.model_dir).map_err(|e| e.to_string())?;
            adapter.merge_into(&mut files.tensors).map_err(|e| e.to_string())?;
            Ok(Arc::new(LlamaBackend::from_files(files, &name).map_err(|e| e.to_string())?))
        })();
        let mut deployed = self.deployed();
        let entry = deployed.entry(name.clone()).or_insert(Deployed { state: "loading", error: None, backend: None });
        match loaded {
            Ok(backend) => {
                (entry.state, entry.backend) = ("active", Some(backend));
                Ok(name)
            }
            Err(error) => {
                (entry.state, entry.error) = ("failed", Some(error.clone()));
                Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "adapter_error", format!("adapter {name} could not be deployed: {error}")))
            }
        }
    }
}

/// The caller's address from a valid token for this provider (no chain read: these calls move
/// no money).
fn caller(state: &ProviderState, headers: &HeaderMap) -> Result<Address, ApiError> {
    let unauthorized = |e: String| ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", e);
    let token = crate::compute::token::parse(headers.get("authorization").and_then(|v| v.to_str().ok())).map_err(|e| unauthorized(e.to_string()))?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let unrevoked = crate::compute::token::TokenState { generation: token.generation, revoked_bitmap: alloy_primitives::U256::ZERO };
    token.check(state.provider, now_ms, &unrevoked).map_err(|e| unauthorized(e.to_string()))?;
    Ok(token.user)
}

async fn list(State(state): State<Arc<ProviderState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers)?;
    let adapters: Vec<Value> = state.adapters.on_disk().into_iter().map(|(id, owner)| state.adapters.info(&id, owner)).collect();
    Ok(Json(json!({ "adapters": adapters })))
}

async fn status(State(state): State<Arc<ProviderState>>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers)?;
    let found = state.adapters.on_disk().into_iter().find(|(id, _)| adapter_name(&state.adapters.base_model, id) == name);
    let (id, owner) = found.ok_or_else(|| bad(StatusCode::NOT_FOUND, format!("no adapter named {name:.80}")))?;
    let info = state.adapters.info(&id, owner);
    Ok(Json(json!({ "adapterName": info["adapterName"], "state": info["state"], "error": info["error"] })))
}

async fn deploy(State(state): State<Arc<ProviderState>>, headers: HeaderMap, Json(body): Json<Value>) -> Result<Json<Value>, ApiError> {
    let user = caller(&state, &headers)?;
    let adapters = &state.adapters;
    let task_id = match (body["taskId"].as_str(), body["adapterName"].as_str()) {
        (Some(task_id), _) => {
            if let Some(base) = body["baseModel"].as_str().filter(|b| *b != adapters.base_model) {
                return Err(bad(StatusCode::BAD_REQUEST, format!("this provider's base model is {}, not {base:.80}", adapters.base_model)));
            }
            task_id.to_string()
        }
        (None, Some(name)) => adapters
            .on_disk()
            .into_iter()
            .map(|(id, _)| id)
            .find(|id| adapter_name(&adapters.base_model, id) == name)
            .ok_or_else(|| bad(StatusCode::NOT_FOUND, format!("no adapter named {name:.80}")))?,
        (None, None) => return Err(bad(StatusCode::BAD_REQUEST, "give taskId (and baseModel) or adapterName")),
    };
    if !valid_task_id(&task_id) {
        return Err(bad(StatusCode::BAD_REQUEST, "a task id is letters, digits, '-' and '_' (at most 80)"));
    }
    let worker = state.clone();
    let name = tokio::task::spawn_blocking(move || worker.adapters.deploy(&task_id, user))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))??;
    Ok(Json(json!({ "message": "Adapter deployed: it answers as model ".to_string() + &name, "adapterName": name })))
}

pub fn router(state: Arc<ProviderState>) -> Router {
    Router::new()
        .route("/v1/lora/adapters", get(list))
        .route("/v1/lora/adapters/deploy", post(deploy))
        .route("/v1/lora/adapters/{name}", get(status))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_names_are_0gs_and_task_ids_cannot_leave_their_folder() {
        assert_eq!(adapter_name("zg-tiny-llama", "0123456789abcdef"), "ft-zg-tiny-llama-0123456789ab");
        assert_eq!(adapter_name("Qwen/Qwen2.5 0.5B", "t1"), "ft-Qwen-Qwen2-5-0-5B-t1");
        for bad in ["", "..", "../x", "a/b", "a b", &"x".repeat(81), "a\0"] {
            assert!(!valid_task_id(bad), "{bad:?}");
        }
        assert!(valid_task_id("task-7_b"));
    }
}
