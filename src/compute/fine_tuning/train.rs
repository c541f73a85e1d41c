//! The trainer: takes the tick's `Train` orders one at a time on a thread of its own. A task
//! found in SettingUp or Training after a restart resumes from its last checkpoint; its log
//! shows every step's loss; a cancel stops it at the next step.

use tokio::sync::watch;

use super::FineTuningService;
use super::PRIVATE;
use crate::store::durable::write_atomically;
use super::store::TaskRecord;
use crate::compute::training::{dataset, params::TrainingParams, trainer};
use zg_components::compute::fine_tuning::TaskProgress;
use zg_components::compute::training_tasks::TaskOrder;

pub fn run(ft: &FineTuningService, orders: &crossbeam_channel::Receiver<TaskOrder>, stopped: &watch::Receiver<bool>) {
    while let Some(order) = super::next_order(orders, stopped) {
        let id = order.task_id().to_string();
        let record = match ft.store.get(&id) {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(task = %id, %error, "a fine-tuning task could not be read; it waits");
                ft.release(&id, true);
                continue;
            }
        };
        // Cancelled (or otherwise moved on) since the order was sent.
        if !record.task.progress.is_with_the_trainer() {
            ft.release(&id, false);
            continue;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train_task(ft, record, stopped)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(task = %id, error = %format!("{error:#}"), "a fine-tuning task stopped"),
            Err(_) => {
                tracing::error!(task = %id, "the trainer panicked on this task; it is failed");
                if let Ok(Some(mut record)) = ft.store.get(&id) {
                    let _ = ft.advance(&mut record, TaskProgress::Failed, "the trainer failed (a bug): the task is not charged");
                }
            }
        }
        if *stopped.borrow() {
            return;
        }
        // A failure to write the record leaves the task where it was: try it again later.
        let unfinished = ft.store.get(&id).ok().flatten().is_none_or(|r| r.task.progress.is_with_the_trainer());
        ft.release(&id, unfinished);
    }
}

fn fail(ft: &FineTuningService, record: &mut TaskRecord, reason: String) -> anyhow::Result<()> {
    ft.advance(record, TaskProgress::Failed, &reason)?;
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
        ft.advance(&mut record, TaskProgress::SettingUp, "")?;
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
        ft.advance(&mut record, TaskProgress::Training, "")?;
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
    ft.store.log(&id, &format!("trained: {} steps, loss {first:.4} -> {last:.4}, {} tokens in {:.2}s", trained.losses.len(), trained.tokens, trained.seconds))?;
    ft.advance(&mut record, TaskProgress::Trained, "")?;
    Ok(())
}
