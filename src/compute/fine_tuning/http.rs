//! 0G's fine-tuning provider API, as the SDK's `FineTuningBroker` calls it: `GET /v1/model`,
//! `/v1/model/{name}`, `/v1/model/desc/{name}`, `/v1/task/pending`, `POST
//! /v1/user/{addr}/dataset` (multipart: file, signature, timestamp), `POST|GET
//! /v1/user/{addr}/task`, `GET /v1/user/{addr}/task/{id}` and `…/log`, `POST …/cancel`,
//! `POST …/lora`. Errors are `{"error": "<why>"}` (what the SDK prints).

use std::sync::Arc;

use alloy_primitives::Address;
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::FineTuningService;
use super::PRIVATE;
use crate::store::durable::write_atomically;
use super::admission::{Refusal, TaskRequest, admit};
use super::crypto::recover_personal;
use super::store::TaskRecord;
use crate::wall_clock::now_secs;
use crate::compute::oversized::{BodyLimit, refuse_oversized};
use crate::compute::training::dataset;
use zg_components::compute::fine_tuning::TaskProgress;
use zg_components::storage::merkle::FileCommitment;
use zg_systems::compute::fine_tuning::{cancel_digest, dataset_upload_digest, is_task_id, lora_download_digest, timestamp_is_fresh};

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match &self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::Payment(_) => StatusCode::PAYMENT_REQUIRED,
            Refusal::Conflict(_) => StatusCode::CONFLICT,
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Busy(_) | Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(serde_json::json!({"error": self.to_string()}))).into_response()
    }
}

pub fn routes(ft: Arc<FineTuningService>) -> Router {
    let dataset_limit = ft.config.max_dataset_bytes + (64 << 10);
    Router::new()
        .route("/v1/model", get(models))
        .route("/v1/model/{name}", get(model))
        .route("/v1/model/desc/{name}", get(model_description))
        .route("/v1/task/pending", get(pending))
        .route("/v1/user/{user}/dataset", post(upload_dataset).layer(DefaultBodyLimit::max(dataset_limit)).layer(from_fn_with_state(BodyLimit { max_bytes: dataset_limit, refusal: too_large }, refuse_oversized)))
        .route("/v1/user/{user}/task", post(create_task).get(list_tasks).layer(DefaultBodyLimit::max(1 << 20)).layer(from_fn_with_state(BodyLimit { max_bytes: 1 << 20, refusal: too_large }, refuse_oversized)))
        .route("/v1/user/{user}/task/{id}", get(get_task))
        .route("/v1/user/{user}/task/{id}/log", get(task_log))
        .route("/v1/user/{user}/task/{id}/cancel", post(cancel_task))
        .route("/v1/user/{user}/task/{id}/lora", post(download_lora))
        .with_state(ft)
}

/// The 413 as this API words it, given after the oversized body is read (`compute::oversized`).
fn too_large(message: String) -> Response {
    Refusal::TooLarge(message).into_response()
}

fn user_of(text: &str) -> Result<Address, Refusal> {
    text.parse().map_err(|_| Refusal::BadRequest(format!("{text:?} is not an address")))
}

fn model_json(ft: &FineTuningService) -> serde_json::Value {
    serde_json::json!({
        "name": ft.model.name,
        "hash": ft.model.hash,
        "image": "",
        "dataType": "text",
        "trainingScript": "zgnode LoRA trainer (candle, CPU)",
        "description": format!("{}: LoRA fine-tuning of the provider's built-in Llama-family model; datasets as JSONL of instruction/output, chat messages or prompt/completion", ft.model.name),
        "tokenizer": ft.model.hash,
    })
}

async fn models(State(ft): State<Arc<FineTuningService>>) -> Json<serde_json::Value> {
    Json(serde_json::json!([model_json(&ft)]))
}

async fn model(State(ft): State<Arc<FineTuningService>>, Path(name): Path<String>) -> Result<Json<serde_json::Value>, Refusal> {
    if name != ft.model.name {
        return Err(Refusal::NotFound(format!("no model {name:?} here; GET /v1/model lists them")));
    }
    Ok(Json(model_json(&ft)))
}

/// A zip with how to use the model (the SDK saves it as `<name>.zip`).
async fn model_description(State(ft): State<Arc<FineTuningService>>, Path(name): Path<String>) -> Result<Response, Refusal> {
    if name != ft.model.name {
        return Err(Refusal::NotFound(format!("no model {name:?} here; GET /v1/model lists them")));
    }
    let readme = format!(
        "# {name}\n\nLoRA fine-tuning on zgnode. Dataset: JSONL, one example per line:\n\
         {{\"instruction\": \"...\", \"input\": \"...\", \"output\": \"...\"}}, {{\"messages\": [...]}} or {{\"prompt\": \"...\", \"completion\": \"...\"}}.\n\
         Examples over {} tokens are left out. Fee: dataset tokens x epochs x {} neuron.\n",
        ft.config.max_seq_len, ft.config.price_per_token
    );
    let params = r#"{"num_train_epochs": 3, "learning_rate": 0.0002, "per_device_train_batch_size": 2, "lora_rank": 8, "lora_alpha": 16}"#;
    let zipped = super::crypto::zip_files(&[("README.md", readme.into_bytes()), ("training_params.json", params.as_bytes().to_vec())])
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/zip")], zipped).into_response())
}

async fn pending(State(ft): State<Arc<FineTuningService>>) -> Result<String, Refusal> {
    Ok(ft.store.all()?.iter().filter(|r| r.task.progress == TaskProgress::Init).count().to_string())
}

async fn upload_dataset(State(ft): State<Arc<FineTuningService>>, Path(user_text): Path<String>, mut form: Multipart) -> Result<Json<serde_json::Value>, Refusal> {
    let user = user_of(&user_text)?;
    let (mut file, mut signature, mut timestamp) = (None, None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(Refusal::TooLarge(format!("the dataset is over this provider's {} bytes", ft.config.max_dataset_bytes)));
            }
            Err(error) => return Err(Refusal::BadRequest(format!("the upload is not a well-formed multipart form: {error}"))),
        };
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Refusal::TooLarge(format!("the dataset is over this provider's {} bytes", ft.config.max_dataset_bytes))
            } else {
                Refusal::BadRequest(format!("reading the form's {name:?}: {e}"))
            }
        })?;
        match name.as_str() {
            "file" => file = Some(bytes),
            "signature" => signature = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "timestamp" => timestamp = Some(String::from_utf8_lossy(&bytes).trim().parse::<u64>().map_err(|_| Refusal::BadRequest("timestamp must be Unix seconds".into()))?),
            _ => {}
        }
    }
    let (Some(file), Some(signature), Some(timestamp)) = (file, signature, timestamp) else {
        return Err(Refusal::BadRequest("the form needs file, signature and timestamp".into()));
    };
    if !timestamp_is_fresh(timestamp, now_secs()) {
        return Err(Refusal::Unauthorized(format!("timestamp {timestamp} is more than 5 minutes from now: sign again")));
    }
    let (signer, _) = recover_personal(dataset_upload_digest(&user_text, timestamp), &signature).map_err(|e| Refusal::Unauthorized(format!("the upload's signature: {e}")))?;
    if signer != user {
        return Err(Refusal::Unauthorized(format!("the upload is signed by {signer}, not by {user}")));
    }
    if file.len() > ft.config.max_dataset_bytes {
        return Err(Refusal::TooLarge(format!("the dataset is {} bytes; this provider takes at most {}", file.len(), ft.config.max_dataset_bytes)));
    }
    let examples = dataset::parse(&file).map_err(|e| Refusal::BadRequest(format!("the dataset cannot be used: {e}")))?;
    if file.is_empty() || examples.is_empty() {
        return Err(Refusal::BadRequest("the dataset holds no example".into()));
    }
    let hash = tokio::task::block_in_place(|| FileCommitment::of(&file).root()).to_string();
    write_atomically(&ft.store.dataset_path(user, &hash), &file, PRIVATE).map_err(|e| Refusal::Unavailable(format!("keeping the dataset: {e}")))?;
    Ok(Json(serde_json::json!({"datasetHash": hash, "message": format!("dataset of {} examples stored; its hash is its 0G storage root", examples.len())})))
}

async fn create_task(State(ft): State<Arc<FineTuningService>>, Path(user_text): Path<String>, body: axum::body::Bytes) -> Result<Json<serde_json::Value>, Refusal> {
    let user = user_of(&user_text)?;
    let request: TaskRequest = serde_json::from_slice(&body).map_err(|e| Refusal::BadRequest(format!("the task is not the SDK's JSON: {e}")))?;
    let id = admit(&ft, user, request).await?;
    Ok(Json(serde_json::json!({"id": id})))
}

/// A task of `user` by id (404 for another user's).
fn task_of(ft: &FineTuningService, user: Address, id: &str) -> Result<TaskRecord, Refusal> {
    if !is_task_id(id) {
        return Err(Refusal::BadRequest(format!("{id:?} is not a task id")));
    }
    match ft.store.get(id)? {
        Some(record) if record.user() == Some(user) => Ok(record),
        _ => Err(Refusal::NotFound(format!("no task {id} of {user}"))),
    }
}

async fn list_tasks(State(ft): State<Arc<FineTuningService>>, Path(user_text): Path<String>, RawQuery(query): RawQuery) -> Result<Json<serde_json::Value>, Refusal> {
    let user = user_of(&user_text)?;
    let mut tasks: Vec<_> = ft.store.all()?.into_iter().filter(|r| r.user() == Some(user)).map(|r| r.task).collect();
    tasks.reverse();
    if query.is_some_and(|q| q.split('&').any(|pair| pair == "latest=true")) {
        tasks.truncate(1);
    }
    Ok(Json(serde_json::to_value(tasks).map_err(|e| Refusal::Unavailable(e.to_string()))?))
}

async fn get_task(State(ft): State<Arc<FineTuningService>>, Path((user_text, id)): Path<(String, String)>) -> Result<Json<serde_json::Value>, Refusal> {
    let record = task_of(&ft, user_of(&user_text)?, &id)?;
    Ok(Json(serde_json::to_value(record.task).map_err(|e| Refusal::Unavailable(e.to_string()))?))
}

async fn task_log(State(ft): State<Arc<FineTuningService>>, Path((user_text, id)): Path<(String, String)>) -> Result<String, Refusal> {
    let record = task_of(&ft, user_of(&user_text)?, &id)?;
    Ok(ft.store.read_log(&record.task.id)?)
}

#[derive(Deserialize)]
struct Signed {
    signature: String,
    #[serde(default)]
    timestamp: Option<u64>,
}

fn signed_body(body: &[u8]) -> Result<Signed, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::BadRequest(format!("the body must be JSON with a signature: {e}")))
}

async fn cancel_task(State(ft): State<Arc<FineTuningService>>, Path((user_text, id)): Path<(String, String)>, body: axum::body::Bytes) -> Result<String, Refusal> {
    let user = user_of(&user_text)?;
    let mut record = task_of(&ft, user, &id)?;
    let signed = signed_body(&body)?;
    let digest = cancel_digest(&id).ok_or_else(|| Refusal::BadRequest(format!("{id:?} is not a task id")))?;
    let (signer, _) = recover_personal(digest, &signed.signature).map_err(|e| Refusal::Unauthorized(format!("the cancel's signature: {e}")))?;
    if signer != user {
        return Err(Refusal::Unauthorized(format!("the cancel is signed by {signer}, not by the task's user {user}")));
    }
    if !record.task.progress.is_cancellable() {
        return Err(Refusal::Conflict(format!("task {id} is {:?}: it can no longer be cancelled", record.task.progress)));
    }
    ft.cancellations().insert(id.clone());
    if record.task.progress == TaskProgress::Init {
        ft.advance(&mut record, TaskProgress::Failed, "cancelled by the user")?;
    }
    Ok(format!("task {id} cancelled"))
}

async fn download_lora(State(ft): State<Arc<FineTuningService>>, Path((user_text, id)): Path<(String, String)>, body: axum::body::Bytes) -> Result<Response, Refusal> {
    let user = user_of(&user_text)?;
    let record = task_of(&ft, user, &id)?;
    let signed = signed_body(&body)?;
    let timestamp = signed.timestamp.ok_or_else(|| Refusal::BadRequest("the body needs a timestamp".into()))?;
    if !timestamp_is_fresh(timestamp, now_secs()) {
        return Err(Refusal::Unauthorized(format!("timestamp {timestamp} is more than 5 minutes from now: sign again")));
    }
    let (signer, _) = recover_personal(lora_download_digest(&id, timestamp), &signed.signature).map_err(|e| Refusal::Unauthorized(format!("the download's signature: {e}")))?;
    if signer != user {
        return Err(Refusal::Unauthorized(format!("the download is signed by {signer}, not by the task's user {user}")));
    }
    let delivered = matches!(record.task.progress, TaskProgress::Delivered | TaskProgress::UserAcknowledged | TaskProgress::Finished);
    if !delivered {
        return Err(Refusal::Conflict(format!("task {id} is {:?}: nothing is delivered yet", record.task.progress)));
    }
    let file = std::fs::read(ft.store.task_dir(&id).join("lora.enc")).map_err(|e| Refusal::Unavailable(format!("the encrypted model: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], file).into_response())
}
