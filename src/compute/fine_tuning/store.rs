//! The fine-tuning provider's records, crash-safe: each task (what the user signed, its phase,
//! and the delivery's key and public key it is sealed to) in redb, written before the phase's
//! work is acted on, and each user's last task nonce (a signed task is taken once). Beside the
//! database, per task: `tasks/<id>/` with the training log, checkpoints, the adapter and the
//! encrypted model; per user: `datasets/<user>/<hash>.jsonl`.

use std::io::Write;
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, U256};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::wall_clock::now_secs;
use zg_components::compute::fine_tuning::{FineTuningTask, TaskProgress};

const TASKS: TableDefinition<&str, &[u8]> = TableDefinition::new("fine_tuning_tasks");
const NONCES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("fine_tuning_user_nonces");

#[derive(Debug, thiserror::Error)]
pub enum TaskStoreError {
    #[error("the fine-tuning task store: {0}")]
    Store(String),
    #[error("the fine-tuning task store holds a malformed record for {0}")]
    Corrupt(String),
    #[error("nonce {0} was used already (the user's last task had {1}); sign the task again")]
    NonceUsed(U256, U256),
}

macro_rules! store_error {
    ($($t:ty),*) => {$(impl From<$t> for TaskStoreError {
        fn from(error: $t) -> Self {
            TaskStoreError::Store(error.to_string())
        }
    })*};
}
store_error!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError, std::io::Error);

/// A task and what only the provider keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub task: FineTuningTask,
    /// The user's public key (SEC1 hex), recovered from their task signature: the model key is
    /// sealed to it.
    pub user_public_key: String,
    /// The model's AES key and iv (hex), chosen before the first delivery attempt so a retried
    /// delivery uploads the same file.
    #[serde(default)]
    pub model_key: String,
    #[serde(default)]
    pub model_iv: String,
    /// What settlement paid, in neuron (decimal), once settled.
    #[serde(default)]
    pub paid: String,
}

impl TaskRecord {
    /// The task's user (stored checksummed at admission).
    pub fn user(&self) -> Option<Address> {
        self.task.user_address.parse().ok()
    }

    /// The deliverable's root, once delivered.
    pub fn deliverable(&self) -> Option<alloy_primitives::B256> {
        self.task.deliver_index.parse().ok()
    }
}

pub struct TaskStore {
    db: Database,
    dir: PathBuf,
}

impl TaskStore {
    pub fn open(dir: &Path) -> Result<Self, TaskStoreError> {
        std::fs::create_dir_all(dir.join("tasks"))?;
        std::fs::create_dir_all(dir.join("datasets"))?;
        let db = Database::create(dir.join("fine-tuning.redb"))?;
        let write = db.begin_write()?;
        write.open_table(TASKS)?;
        write.open_table(NONCES)?;
        write.commit()?;
        Ok(Self { db, dir: dir.to_path_buf() })
    }

    pub fn task_dir(&self, id: &str) -> PathBuf {
        self.dir.join("tasks").join(id)
    }

    /// Where `user`'s dataset `hash` is kept (both already checked to be path-safe).
    pub fn dataset_path(&self, user: Address, hash: &str) -> PathBuf {
        self.dir.join("datasets").join(format!("{user:x}")).join(format!("{}.jsonl", hash.trim_start_matches("0x")))
    }

    /// A new task, taking its nonce: refused when the user already used this nonce or a higher.
    pub fn admit(&self, record: &TaskRecord, user: Address, nonce: U256) -> Result<(), TaskStoreError> {
        let write = self.db.begin_write()?;
        {
            let mut nonces = write.open_table(NONCES)?;
            let last = nonces.get(user.as_slice())?.map(|v| U256::from_be_slice(v.value()));
            if let Some(last) = last
                && nonce <= last
            {
                return Err(TaskStoreError::NonceUsed(nonce, last));
            }
            nonces.insert(user.as_slice(), nonce.to_be_bytes::<32>().as_slice())?;
            let bytes = serde_json::to_vec(record).map_err(|e| TaskStoreError::Store(e.to_string()))?;
            write.open_table(TASKS)?.insert(record.task.id.as_str(), bytes.as_slice())?;
        }
        write.commit()?;
        Ok(())
    }

    pub fn put(&self, record: &TaskRecord) -> Result<(), TaskStoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| TaskStoreError::Store(e.to_string()))?;
        let write = self.db.begin_write()?;
        write.open_table(TASKS)?.insert(record.task.id.as_str(), bytes.as_slice())?;
        write.commit()?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<TaskRecord>, TaskStoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(TASKS)?;
        let Some(bytes) = table.get(id)? else { return Ok(None) };
        serde_json::from_slice(bytes.value()).map(Some).map_err(|_| TaskStoreError::Corrupt(id.to_string()))
    }

    /// Every task, oldest first.
    pub fn all(&self) -> Result<Vec<TaskRecord>, TaskStoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(TASKS)?;
        let mut records = Vec::new();
        for entry in table.iter()? {
            let (id, bytes) = entry?;
            records.push(serde_json::from_slice::<TaskRecord>(bytes.value()).map_err(|_| TaskStoreError::Corrupt(id.value().to_string()))?);
        }
        records.sort_by(|a, b| (a.task.created_at, &a.task.id).cmp(&(b.task.created_at, &b.task.id)));
        Ok(records)
    }

    /// Moves a task to `progress` (with `reason` when it fails) and appends the move to its log.
    pub fn advance(&self, record: &mut TaskRecord, progress: TaskProgress, reason: &str) -> Result<(), TaskStoreError> {
        record.task.progress = progress;
        record.task.updated_at = now_secs();
        if !reason.is_empty() {
            record.task.reason = reason.to_string();
        }
        self.put(record)?;
        let line = if reason.is_empty() { format!("progress: {progress:?}") } else { format!("progress: {progress:?} ({reason})") };
        self.log(&record.task.id, &line)
    }

    /// Appends a line to the task's log (what `getLog` returns).
    pub fn log(&self, id: &str, line: &str) -> Result<(), TaskStoreError> {
        let dir = self.task_dir(id);
        std::fs::create_dir_all(&dir)?;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("progress.log"))?;
        writeln!(file, "{} {line}", now_secs())?;
        Ok(())
    }

    pub fn read_log(&self, id: &str) -> Result<String, TaskStoreError> {
        match std::fs::read_to_string(self.task_dir(id).join("progress.log")) {
            Ok(text) => Ok(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, created_at: u64) -> TaskRecord {
        TaskRecord {
            task: FineTuningTask {
                id: id.into(),
                created_at,
                updated_at: created_at,
                user_address: "0x01".into(),
                pre_trained_model_hash: "0x02".into(),
                dataset_hash: "0x03".into(),
                training_params: "{}".into(),
                fee: "10".into(),
                nonce: "1".into(),
                signature: "0x".into(),
                progress: TaskProgress::Init,
                deliver_index: String::new(),
                wait: false,
                reason: String::new(),
                dataset_tokens: 5,
            },
            user_public_key: String::new(),
            model_key: String::new(),
            model_iv: String::new(),
            paid: String::new(),
        }
    }

    #[test]
    fn tasks_survive_a_reopen_and_a_nonce_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let user = Address::repeat_byte(1);
        {
            let store = TaskStore::open(dir.path()).unwrap();
            store.admit(&record("b", 2), user, U256::from(5)).unwrap();
            assert!(matches!(store.admit(&record("c", 3), user, U256::from(5)), Err(TaskStoreError::NonceUsed(..))));
            assert!(matches!(store.admit(&record("c", 3), user, U256::from(4)), Err(TaskStoreError::NonceUsed(..))));
            store.admit(&record("a", 1), Address::repeat_byte(2), U256::from(1)).unwrap();
            let mut b = store.get("b").unwrap().unwrap();
            store.advance(&mut b, TaskProgress::Failed, "cancelled by the user").unwrap();
        }
        let store = TaskStore::open(dir.path()).unwrap();
        let all = store.all().unwrap();
        assert_eq!(all.iter().map(|r| r.task.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!((all[1].task.progress, all[1].task.reason.as_str()), (TaskProgress::Failed, "cancelled by the user"));
        assert!(store.read_log("b").unwrap().contains("Failed (cancelled by the user)"));
        assert_eq!(store.read_log("nothing").unwrap(), "");
        assert!(store.get("c").unwrap().is_none());
    }
}
