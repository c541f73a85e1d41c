//! Taking a task: the request as 0G's SDK sends it (`createTask`), checked in the order that
//! tells the user the most — who signed it, which model, which parameters, which dataset — and
//! only then the money: one task at a time per user (the contract takes a user's next
//! deliverable only once the last is acknowledged), a bounded queue, the fee (every dataset token
//! once per epoch at the service's price, fixed now) against the sub-account's unlocked balance.

use alloy_primitives::{Address, B256, U256};
use serde::Deserialize;

use super::FineTuningService;
use super::PRIVATE;
use crate::store::durable::write_atomically;
use super::crypto::recover_personal;
use super::store::{TaskRecord, TaskStoreError};
use crate::wall_clock::now_secs;
use crate::compute::client::format_0g;
use crate::compute::training::{dataset, params::TrainingParams};
use zg_components::compute::fine_tuning::{FineTuningTask, TaskProgress};
use zg_systems::compute::fine_tuning::{task_fee, task_request_digest};

/// Why a request was refused; each maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Payment(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<TaskStoreError> for Refusal {
    fn from(error: TaskStoreError) -> Self {
        match error {
            TaskStoreError::NonceUsed(..) => Refusal::BadRequest(error.to_string()),
            other => Refusal::Unavailable(other.to_string()),
        }
    }
}

/// The body of `POST /v1/user/{addr}/task`, as the SDK sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRequest {
    pub user_address: String,
    pub dataset_hash: String,
    pub training_params: String,
    pub pre_trained_model_hash: String,
    /// The SDK sends "0": the provider computes the fee.
    #[serde(default)]
    pub fee: serde_json::Value,
    pub nonce: serde_json::Value,
    pub signature: String,
    #[serde(default)]
    pub wait: bool,
}

/// `0x` and 64 hex digits: a dataset's storage root, which is also its name here.
pub fn is_dataset_hash(hash: &str) -> bool {
    hash.len() == 66 && hash.starts_with("0x") && hash[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_nonce(value: &serde_json::Value) -> Result<U256, Refusal> {
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) if number.is_u64() => number.to_string(),
        _ => return Err(Refusal::BadRequest("nonce must be a whole number (decimal string)".into())),
    };
    text.parse::<U256>().map_err(|_| Refusal::BadRequest(format!("nonce {text:?} is not a whole number")))
}

/// A dataset's bytes: uploaded by this user, or fetched from 0G storage by its root (and kept).
pub async fn dataset_bytes(ft: &FineTuningService, user: Address, hash: &str) -> Result<Vec<u8>, Refusal> {
    let path = ft.store.dataset_path(user, hash);
    if let Ok(bytes) = std::fs::read(&path) {
        return Ok(bytes);
    }
    let Some(storage) = &ft.storage else {
        return Err(Refusal::NotFound(format!("no dataset {hash} was uploaded by {user} (uploadDatasetToTEE first)")));
    };
    let root: B256 = hash.parse().map_err(|_| Refusal::BadRequest(format!("dataset hash {hash} is not 32 bytes of hex")))?;
    let info = storage.file_info(root).await.map_err(|e| Refusal::Unavailable(format!("asking 0G storage for dataset {hash}: {e:#}")))?;
    let Some(info) = info else { return Err(Refusal::NotFound(format!("dataset {hash} was neither uploaded here nor found in 0G storage"))) };
    let size = info["tx"]["size"].as_u64().unwrap_or(u64::MAX);
    if size > ft.config.max_dataset_bytes as u64 {
        return Err(Refusal::TooLarge(format!("dataset {hash} is {size} bytes; this provider takes at most {}", ft.config.max_dataset_bytes)));
    }
    let bytes = storage.download(root, |_| {}).await.map_err(|e| Refusal::Unavailable(format!("downloading dataset {hash} from 0G storage: {e:#}")))?;
    write_atomically(&path, &bytes, PRIVATE).map_err(|e| Refusal::Unavailable(format!("keeping dataset {hash}: {e}")))?;
    Ok(bytes)
}

/// Tokens the dataset counts for the model (the examples that fit `max_seq_len`), or why it
/// cannot be trained on.
pub fn count_tokens(ft: &FineTuningService, bytes: &[u8]) -> Result<(u64, usize), Refusal> {
    let examples = dataset::parse(bytes).map_err(|e| Refusal::BadRequest(format!("the dataset cannot be used: {e}")))?;
    let (tokenized, skipped) = dataset::tokenize(&ft.files, &examples, ft.config.max_seq_len);
    if tokenized.is_empty() {
        return Err(Refusal::BadRequest(format!("no example of the dataset fits {} tokens", ft.config.max_seq_len)));
    }
    Ok((tokenized.iter().map(|e| e.tokens.len() as u64).sum(), skipped))
}

/// A fresh task id: a random (version 4) UUID.
pub fn new_task_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = alloy_primitives::hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Checks and keeps a task for `path_user`; its id.
pub async fn admit(ft: &FineTuningService, path_user: Address, request: TaskRequest) -> Result<String, Refusal> {
    let user: Address = request.user_address.parse().map_err(|_| Refusal::BadRequest(format!("userAddress {:?} is not an address", request.user_address)))?;
    if user != path_user {
        return Err(Refusal::BadRequest(format!("the task is for {user} but was posted under {path_user}")));
    }
    if !is_dataset_hash(&request.dataset_hash) {
        return Err(Refusal::BadRequest(format!("datasetHash {:?} is not 0x and 64 hex digits", request.dataset_hash)));
    }
    // Signed as sent; kept and looked up in lowercase.
    let dataset_hash = request.dataset_hash.to_lowercase();
    let nonce = parse_nonce(&request.nonce)?;
    let (signer, public_key) = recover_personal(task_request_digest(user, nonce, &request.dataset_hash), &request.signature)
        .map_err(|e| Refusal::Unauthorized(format!("the task's signature: {e}")))?;
    if signer != user {
        return Err(Refusal::Unauthorized(format!("the task is signed by {signer}, not by {user}")));
    }
    if !request.pre_trained_model_hash.eq_ignore_ascii_case(&ft.model.hash) {
        return Err(Refusal::BadRequest(format!("no model with hash {} here; GET /v1/model lists {} ({})", request.pre_trained_model_hash, ft.model.name, ft.model.hash)));
    }
    let params = TrainingParams::parse(request.training_params.as_bytes()).map_err(|e| Refusal::BadRequest(format!("trainingParams: {e}")))?;

    let _one_at_a_time = ft.admitting.lock().await;
    let records = ft.store.all()?;
    if let Some(open) = records.iter().find(|r| r.user() == Some(user) && !r.task.progress.is_terminal()) {
        return Err(Refusal::Conflict(format!(
            "task {} of {user} is still {:?}: one task at a time per user (the next deliverable waits for the last to be acknowledged)",
            open.task.id, open.task.progress
        )));
    }
    let queued = records.iter().filter(|r| r.task.progress == TaskProgress::Init).count();
    if queued >= ft.config.max_queued {
        return Err(Refusal::Busy(format!("{queued} tasks are queued, the most this provider takes; try again later")));
    }
    let bytes = dataset_bytes(ft, user, &dataset_hash).await?;
    let (tokens, skipped) = tokio::task::block_in_place(|| count_tokens(ft, &bytes))?;
    let fee = task_fee(tokens, params.epochs, alloy_primitives::U256::from(ft.config.price_per_token))
        .ok_or_else(|| Refusal::BadRequest("the fee of this task does not fit 256 bits".into()))?;
    // Work that could never be paid for is not taken: settlement needs the signer acknowledged.
    let service = super::chain::service(ft).await.map_err(|e| Refusal::Unavailable(format!("reading this provider's service: {e:#}")))?;
    if !service.is_some_and(|s| s.teeSignerAcknowledged) {
        return Err(Refusal::Unavailable(format!(
            "this provider's signer {} is not acknowledged by the marketplace yet (acknowledgeTEESignerByOwner), so no task could be settled; try again later",
            ft.signer.address()
        )));
    }
    let account = super::chain::account(ft, user).await.map_err(|e| Refusal::Unavailable(format!("reading the sub-account: {e:#}")))?;
    let Some(account) = account else {
        return Err(Refusal::Forbidden(format!("{user} has no fine-tuning sub-account with {}: transferFund(provider, 'fine-tuning', amount) first", ft.provider)));
    };
    if !account.acknowledged {
        return Err(Refusal::Forbidden(format!("{user} has not acknowledged this provider's signer: acknowledgeProviderSigner first")));
    }
    let available = account.balance.saturating_sub(account.pendingRefund);
    if fee > available {
        return Err(Refusal::Payment(format!(
            "the task costs {} 0G ({tokens} tokens × {} epochs × {} neuron) and the sub-account has {} 0G available",
            format_0g(fee),
            params.epochs,
            ft.config.price_per_token,
            format_0g(available)
        )));
    }
    let now = now_secs();
    let id = new_task_id();
    let record = TaskRecord {
        task: FineTuningTask {
            id: id.clone(),
            created_at: now,
            updated_at: now,
            user_address: user.to_checksum(None),
            pre_trained_model_hash: ft.model.hash.clone(),
            dataset_hash,
            training_params: request.training_params,
            fee: fee.to_string(),
            nonce: nonce.to_string(),
            signature: request.signature,
            progress: TaskProgress::Init,
            deliver_index: String::new(),
            wait: request.wait,
            reason: String::new(),
            dataset_tokens: tokens,
        },
        user_public_key: alloy_primitives::hex::encode(k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&public_key, false).as_bytes()),
        model_key: String::new(),
        model_iv: String::new(),
        paid: String::new(),
    };
    ft.store.admit(&record, user, nonce)?;
    let _ = ft.store.log(&id, &format!("admitted: {tokens} tokens × {} epochs = fee {} 0G; {skipped} examples over {} tokens left out", params.epochs, format_0g(fee), ft.config.max_seq_len));
    if !params.ignored.is_empty() {
        let _ = ft.store.log(&id, &format!("parameters this trainer does not use: {}", params.ignored.join(", ")));
    }
    ft.report_known(&record);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_nonces_and_hashes() {
        let id = new_task_id();
        assert!(zg_systems::compute::fine_tuning::is_task_id(&id), "{id}");
        assert_ne!(id, new_task_id());
        assert_eq!(parse_nonce(&serde_json::json!("17")).unwrap(), U256::from(17));
        assert_eq!(parse_nonce(&serde_json::json!(17)).unwrap(), U256::from(17));
        assert!(parse_nonce(&serde_json::json!(-1)).is_err() && parse_nonce(&serde_json::json!("x")).is_err() && parse_nonce(&serde_json::json!(null)).is_err());
        assert!(is_dataset_hash(&format!("0x{}", "ab".repeat(32))));
        assert!(!is_dataset_hash("0x../../etc") && !is_dataset_hash(&format!("0x{}", "zz".repeat(32))));
    }
}
