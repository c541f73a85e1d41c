//! The training queue: one task at a time, oldest first, on a blocking thread. A task found in
//! SettingUp or Training after a restart is resumed from its last checkpoint; its log shows
//! every step's loss; a cancel stops it at the next step.

use std::sync::Arc;

use tokio::sync::watch;

use super::FineTuningService;
use super::PRIVATE;
use crate::store::durable::write_atomically;
use super::store::{TaskRecord};
use crate::compute::training::{dataset, params::TrainingParams, trainer};
use zg_components::compute::fine_tuning::TaskProgress;

pub async fn run(ft: Arc<FineTuningService>, mut stopped: watch::Receiver<bool>) {
    loop {
        let next = match ft.store.all() {
            Ok(records) => records.into_iter().find(|r| matches!(r.task.progress, TaskProgress::Init | TaskProgress::SettingUp | TaskProgress::Training)),
            Err(error) => {
                tracing::warn!(error = %error, "the fine-tuning queue could not be read");
                None
            }
        };
        if let Some(record) = next {
            let id = record.task.id.clone();
            let worker = ft.clone();
            let stop = stopped.clone();
            let outcome = tokio::task::spawn_blocking(move || train_task(&worker, record, &stop)).await;
            match outcome {
                Ok(Ok(())) => ft.wake_deliverer.notify_one(),
                Ok(Err(error)) => tracing::warn!(task = %id, error = %format!("{error:#}"), "a fine-tuning task stopped"),
                Err(error) => tracing::error!(task = %id, %error, "the training thread panicked"),
            }
            if *stopped.borrow() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = ft.wake_trainer.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

fn fail(ft: &FineTuningService, record: &mut TaskRecord, reason: String) -> anyhow::Result<()> {
    ft.store.advance(record, TaskProgress::Failed, &reason)?;
    anyhow::bail!(reason)
}

/// Sets up and trains one task; the adapter lands in `tasks/<id>/adapter/` and the task moves to
/// Trained. A stop (the provider shutting down) leaves it in Training to resume.
fn train_task(ft: &FineTuningService, mut record: TaskRecord, stopped: &watch::Receiver<bool>) -> anyhow::Result<()> {
    let id = record.task.id.clone();
    if ft.cancellations().remove(&id) {
        return fail(ft, &mut record, "cancelled by the user".into());
    }
    if record.task.progress == TaskProgress::Init {
        ft.store.advance(&mut record, TaskProgress::SettingUp, "")?;
    }
    let user = record.task.user_address.parse()?;
    let path = ft.store.dataset_path(user, &record.task.dataset_hash);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => return fail(ft, &mut record, format!("the dataset is gone from {}: {error}", path.display())),
    };
    let params = match TrainingParams::parse(record.task.training_params.as_bytes()) {
        Ok(params) => TrainingParams { max_seq_len: ft.config.max_seq_len, ..params },
        Err(error) => return fail(ft, &mut record, error),
    };
    let examples = match dataset::parse(&bytes) {
        Ok(examples) => examples,
        Err(error) => return fail(ft, &mut record, error),
    };
    let (tokenized, _) = dataset::tokenize(&ft.files, &examples, params.max_seq_len);
    if record.task.progress == TaskProgress::SettingUp {
        ft.store.log(&id, &format!("set up: {} examples, model {} ({})", tokenized.len(), ft.model.name, ft.model.hash))?;
        ft.store.advance(&mut record, TaskProgress::Training, "")?;
    } else {
        ft.store.log(&id, "resuming training from the last checkpoint")?;
    }
    let dir = ft.store.task_dir(&id);
    let checkpoints = dir.join("checkpoints");
    let mut stopping = false;
    let result = trainer::train(&ft.files, &ft.model.name, &tokenized, &params, Some(&checkpoints), |step| {
        let _ = ft.store.log(&id, &format!("step {}/{} epoch {} loss {:.4} tokens {} elapsed {:.1}s", step.step, step.total_steps, step.epoch + 1, step.loss, step.tokens, step.seconds));
        stopping = *stopped.borrow();
        let cancelled = ft.cancellations().contains(&id);
        !(stopping || cancelled)
    });
    let trained = match result {
        Ok(trained) => trained,
        Err(trainer::TrainError::Cancelled(step)) if stopping => {
            ft.store.log(&id, &format!("the provider stopped at step {step}; training resumes from the last checkpoint"))?;
            return Ok(());
        }
        Err(trainer::TrainError::Cancelled(step)) => {
            ft.cancellations().remove(&id);
            return fail(ft, &mut record, format!("cancelled by the user at step {step}"));
        }
        Err(error) => return fail(ft, &mut record, format!("training failed: {error}")),
    };
    let adapter = dir.join("adapter");
    write_atomically(&adapter.join("adapter_model.safetensors"), &trained.adapter.safetensors()?, PRIVATE)?;
    write_atomically(&adapter.join("adapter_config.json"), trained.adapter.config_json().to_string().as_bytes(), PRIVATE)?;
    let first = trained.losses.first().copied().unwrap_or_default();
    let last = trained.losses.last().copied().unwrap_or_default();
    ft.store.log(&id, &format!("trained: {} steps, loss {first:.4} -> {last:.4}, {} tokens in {:.1}s", trained.losses.len(), trained.tokens, trained.seconds))?;
    ft.store.advance(&mut record, TaskProgress::Trained, "")?;
    Ok(())
}
