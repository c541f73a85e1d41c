//! The training loop: seeded shuffles per epoch, batches of examples whose mean answer loss is
//! one AdamW step on the adapters, a checkpoint (the adapter, AdamW's moments and the step
//! reached) every few steps so a killed provider resumes exactly where it was, and a report per
//! step for the task's log.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::path::Path;
use std::time::Instant;

use crate::compute::backend::llama::ModelFiles;

use super::adamw::{AdamW, AdamWParams, OptimizerStateError};
use super::adapter::LoraAdapter;
use super::dataset::TokenizedExample;
use super::lora::{LoraError, LoraModel};
use super::params::TrainingParams;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Model(#[from] LoraError),
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("checkpoint: {0}")]
    OptimizerState(#[from] OptimizerStateError),
    #[error("no example fits in {0} tokens")]
    NoExamples(usize),
    #[error("cancelled at step {0}")]
    Cancelled(u64),
}

/// One optimizer step, as the log shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    pub step: u64,
    pub total_steps: u64,
    pub epoch: u32,
    pub loss: f32,
    pub tokens: u64,
    pub seconds: f64,
}

/// What a finished run leaves: the adapter and every step's loss.
pub struct Trained {
    pub adapter: LoraAdapter,
    pub losses: Vec<f32>,
    pub tokens: u64,
    pub seconds: f64,
    /// Steps done before this process (a resumed run).
    pub resumed_from: u64,
}

const CHECKPOINT_EVERY: u64 = 10;

/// The batches of every epoch, in order: the same for a given seed, so a resumed run sees the
/// data it would have seen.
pub fn schedule(examples: usize, params: &TrainingParams) -> Vec<(u32, Vec<usize>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(params.seed);
    let mut batches = Vec::new();
    for epoch in 0..params.epochs {
        let mut order: Vec<usize> = (0..examples).collect();
        order.shuffle(&mut rng);
        for batch in order.chunks(params.batch_size) {
            batches.push((epoch, batch.to_vec()));
        }
    }
    if let Some(max) = params.max_steps {
        batches.truncate(max as usize);
    }
    batches
}

/// What a checkpoint holds.
struct Checkpoint {
    adapter: LoraAdapter,
    step: u64,
    losses: Vec<f32>,
    /// AdamW's moments (safetensors) and steps; None in checkpoints written before they were kept.
    optimizer: Option<(Vec<u8>, u64)>,
}

/// A file the checkpoint names, inside its folder.
fn named_file(dir: &Path, state: &serde_json::Value, key: &str) -> Result<Option<Vec<u8>>, TrainError> {
    let Some(name) = state[key].as_str() else { return Ok(None) };
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(TrainError::Checkpoint(format!("{}: the checkpoint names {name:?} as its {key}", dir.display())));
    }
    std::fs::read(dir.join(name)).map(Some).map_err(|e| TrainError::Checkpoint(format!("{}: {name}: {e}", dir.display())))
}

fn read_checkpoint(dir: &Path) -> Result<Option<Checkpoint>, TrainError> {
    let state = dir.join("checkpoint.json");
    if !state.exists() {
        return Ok(None);
    }
    let broken = |e: String| TrainError::Checkpoint(format!("{}: {e}", dir.display()));
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).map_err(|e| broken(e.to_string()))?).map_err(|e| broken(e.to_string()))?;
    // Older checkpoints name no weights file: theirs is the fixed name.
    let bytes = match named_file(dir, &state, "weights")? {
        Some(bytes) => bytes,
        None => std::fs::read(dir.join("checkpoint.safetensors")).map_err(|e| broken(e.to_string()))?,
    };
    let adapter = LoraAdapter::read(&bytes, &state["adapter_config"]).map_err(|e| broken(e.to_string()))?;
    let step = state["step"].as_u64().ok_or_else(|| broken("no step".into()))?;
    let losses = serde_json::from_value(state["losses"].clone()).map_err(|e| broken(e.to_string()))?;
    let optimizer = match (named_file(dir, &state, "moments")?, state["optimizer_steps"].as_u64()) {
        (Some(moments), Some(steps)) => Some((moments, steps)),
        _ => None,
    };
    Ok(Some(Checkpoint { adapter, step, losses, optimizer }))
}

/// The weights and the moments go to files named by their step, then `checkpoint.json` — which
/// names them — is replaced atomically: a kill at any point leaves a state, weights and moments
/// of one same step (the previous checkpoint or this one).
fn write_checkpoint(dir: &Path, adapter: &LoraAdapter, optimizer: &AdamW, step: u64, losses: &[f32]) -> Result<(), TrainError> {
    let broken = |e: std::io::Error| TrainError::Checkpoint(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(broken)?;
    let bytes = adapter.safetensors().map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    let (moments_bytes, optimizer_steps) = optimizer.state()?;
    let weights = format!("checkpoint-{step}.safetensors");
    let moments = format!("moments-{step}.safetensors");
    crate::store::durable::write_atomically(&dir.join(&weights), &bytes, 0o600).map_err(broken)?;
    crate::store::durable::write_atomically(&dir.join(&moments), &moments_bytes, 0o600).map_err(broken)?;
    let state = serde_json::json!({
        "step": step, "losses": losses, "adapter_config": adapter.config_json(),
        "weights": weights, "moments": moments, "optimizer_steps": optimizer_steps,
    });
    crate::store::durable::write_atomically(&dir.join("checkpoint.json"), state.to_string().as_bytes(), 0o600).map_err(broken)?;
    for entry in std::fs::read_dir(dir).map_err(broken)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") && name != weights && name != moments {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    crate::crash_drill::point("fine-tuning:checkpoint");
    Ok(())
}

/// Trains a LoRA adapter of `files`' model on `examples`; `report` sees every step and may
/// cancel (returning false). With `checkpoints`, resumes from the last one there.
pub fn train(
    files: &ModelFiles,
    base_model: &str,
    examples: &[TokenizedExample],
    params: &TrainingParams,
    checkpoints: Option<&Path>,
    mut report: impl FnMut(&StepReport) -> bool,
) -> Result<Trained, TrainError> {
    if examples.is_empty() {
        return Err(TrainError::NoExamples(params.max_seq_len));
    }
    let model = LoraModel::new(files.config.clone(), &files.tensors, &params.target_modules, params.rank, params.alpha, params.seed)?;
    let mut losses = Vec::new();
    let mut done = 0u64;
    let mut optimizer = AdamW::new(model.vars(), AdamWParams::with_learning_rate(params.learning_rate))?;
    if let Some(Checkpoint { adapter, step, losses: previous, optimizer: state }) = checkpoints.map(read_checkpoint).transpose()?.flatten() {
        for ((layer, projection), a, b) in &adapter.weights {
            let key = model.adapters.keys().find(|(l, p)| l == layer && p == projection).copied();
            let fitted = key.and_then(|key| model.adapters.get(&key));
            let Some(fitted) = fitted else { return Err(TrainError::Checkpoint(format!("the checkpoint adapts layer {layer} {projection}, this run does not"))) };
            fitted.a.set(&candle_core::Tensor::from_slice(&a.data, a.shape.as_slice(), &candle_core::Device::Cpu)?)?;
            fitted.b.set(&candle_core::Tensor::from_slice(&b.data, b.shape.as_slice(), &candle_core::Device::Cpu)?)?;
        }
        // A checkpoint from before moments were kept resumes with fresh ones.
        if let Some((moments, steps)) = state {
            optimizer.restore(&moments, steps)?;
        }
        done = step;
        losses = previous;
    }
    let resumed_from = done;
    let batches = schedule(examples.len(), params);
    let total_steps = batches.len() as u64;
    let started = Instant::now();
    let mut tokens = 0u64;
    for (step, (epoch, batch)) in batches.iter().enumerate().skip(done as usize) {
        let mut sum: Option<candle_core::Tensor> = None;
        for index in batch {
            let example = &examples[*index];
            let loss = model.loss(&example.tokens, example.answer_from)?;
            tokens += example.tokens.len() as u64;
            sum = Some(match sum {
                None => loss,
                Some(total) => (total + loss)?,
            });
        }
        let Some(sum) = sum else { continue };
        let loss = (sum / batch.len() as f64)?;
        optimizer.backward_step(&loss)?;
        let value = loss.to_scalar::<f32>()?;
        losses.push(value);
        let step = step as u64 + 1;
        let line = StepReport { step, total_steps, epoch: *epoch, loss: value, tokens, seconds: started.elapsed().as_secs_f64() };
        if let Some(dir) = checkpoints
            && (step.is_multiple_of(CHECKPOINT_EVERY) || step == total_steps)
        {
            let adapter = LoraAdapter::of(&model, base_model).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
            write_checkpoint(dir, &adapter, &optimizer, step, &losses)?;
        }
        if !report(&line) {
            return Err(TrainError::Cancelled(step));
        }
    }
    let adapter = LoraAdapter::of(&model, base_model).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    Ok(Trained { adapter, losses, tokens, seconds: started.elapsed().as_secs_f64(), resumed_from })
}
