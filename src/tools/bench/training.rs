//! `zgnode bench training`: LoRA fine-tuning on the CPU, zgnode's trainer (candle) against
//! PyTorch + PEFT (`benches/training_peft.py`, run in the same bench when `python3` has torch,
//! transformers and peft) on the same model files, the same token sequences in the same batches
//! and the same hyper-parameters; tokens per second, seconds per step, and both loss curves.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compute::backend::llama::{ModelFiles, tiny};
use crate::compute::training::dataset::{self, Example, TokenizedExample};
use crate::compute::training::params::TrainingParams;
use crate::compute::training::trainer;

pub struct TrainingLoad {
    /// A Hugging Face Llama directory; None: the tiny model.
    pub model_dir: Option<PathBuf>,
    pub examples: usize,
    pub params: TrainingParams,
    pub python: String,
}

pub struct Run {
    pub losses: Vec<f32>,
    pub seconds: f64,
    pub tokens: u64,
}

impl Run {
    pub fn tokens_per_s(&self) -> f64 {
        self.tokens as f64 / self.seconds
    }

    pub fn seconds_per_step(&self) -> f64 {
        self.seconds / self.losses.len().max(1) as f64
    }
}

pub struct TrainingReport {
    pub model: String,
    pub parameters: usize,
    pub steps: usize,
    pub ours: Run,
    /// Err: why PyTorch + PEFT did not run.
    pub baseline: Result<Run, String>,
}

/// Instruction examples the bench trains on (deterministic).
pub fn demo_examples(count: usize) -> Vec<Example> {
    const WORDS: &[&str] = &["zero", "gravity", "storage", "compute", "ledger", "shard", "proof", "block", "stake", "model", "token", "chain"];
    (0..count)
        .map(|i| {
            let (a, b) = (WORDS[i % WORDS.len()], WORDS[(i * 7 + 3) % WORDS.len()]);
            Example {
                messages: vec![crate::compute::backend::ChatMessage { role: "user".into(), content: format!("Join {a} and {b} with a dash, then say it twice.") }],
                answer: format!("{a}-{b} {a}-{b}"),
            }
        })
        .collect()
}

/// Writes what the PyTorch script needs: the token sequences, the batches, the parameters.
fn write_plan(path: &Path, examples: &[TokenizedExample], params: &TrainingParams) -> anyhow::Result<()> {
    let plan = serde_json::json!({
        "examples": examples.iter().map(|e| serde_json::json!({"tokens": e.tokens, "answer_from": e.answer_from})).collect::<Vec<_>>(),
        "batches": trainer::schedule(examples.len(), params).into_iter().map(|(_, batch)| batch).collect::<Vec<_>>(),
        "learning_rate": params.learning_rate,
        "rank": params.rank,
        "alpha": params.alpha,
        "target_modules": params.target_modules,
        "seed": params.seed,
    });
    std::fs::write(path, plan.to_string())?;
    Ok(())
}

fn run_baseline(python: &str, script: &Path, model_dir: &Path, plan: &Path) -> Result<Run, String> {
    let probe = Command::new(python).args(["-c", "import torch, transformers, peft"]).output().map_err(|e| format!("{python} did not run: {e}"))?;
    if !probe.status.success() {
        return Err(format!("PyTorch + PEFT not found for {python} (pip install torch transformers peft): {}", String::from_utf8_lossy(&probe.stderr).lines().last().unwrap_or_default()));
    }
    let output = Command::new(python).arg(script).arg(model_dir).arg(plan).output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("the PyTorch run failed: {}", String::from_utf8_lossy(&output.stderr).lines().rev().take(3).collect::<Vec<_>>().join(" | ")));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().ok_or("the PyTorch run printed nothing")?;
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("the PyTorch run's output: {e}"))?;
    Ok(Run {
        losses: serde_json::from_value(value["losses"].clone()).map_err(|e| e.to_string())?,
        seconds: value["seconds"].as_f64().ok_or("no seconds")?,
        tokens: value["tokens"].as_u64().ok_or("no tokens")?,
    })
}

pub fn run(load: &TrainingLoad) -> anyhow::Result<TrainingReport> {
    let scratch = tempfile::tempdir()?;
    let model_dir = match &load.model_dir {
        Some(dir) => dir.clone(),
        None => {
            let dir = scratch.path().join("tiny");
            tiny::write(&dir)?;
            dir
        }
    };
    let files = ModelFiles::read(&model_dir)?;
    let parameters: usize = files.tensors.values().map(|t| t.data.len()).sum();
    let (examples, _) = dataset::tokenize(&files, &demo_examples(load.examples), load.params.max_seq_len);
    let ours = trainer::train(&files, "bench", &examples, &load.params, None, |_| true)?;
    let plan = scratch.path().join("plan.json");
    write_plan(&plan, &examples, &load.params)?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/training_peft.py");
    let baseline = run_baseline(&load.python, &script, &model_dir, &plan);
    Ok(TrainingReport {
        model: load.model_dir.as_ref().map_or_else(|| tiny::TINY_MODEL_NAME.to_string(), |d| d.display().to_string()),
        parameters,
        steps: ours.losses.len(),
        ours: Run { losses: ours.losses, seconds: ours.seconds, tokens: ours.tokens },
        baseline,
    })
}

pub fn print(r: &TrainingReport) {
    let ours = &r.ours;
    println!("  zgnode (candle)    {:>9.0} tokens/s  {:>7.1} ms/step  loss {:.3} -> {:.3}", ours.tokens_per_s(), ours.seconds_per_step() * 1e3, ours.losses.first().unwrap_or(&0.0), ours.losses.last().unwrap_or(&0.0));
    match &r.baseline {
        Ok(theirs) => {
            println!("  PyTorch + PEFT     {:>9.0} tokens/s  {:>7.1} ms/step  loss {:.3} -> {:.3}", theirs.tokens_per_s(), theirs.seconds_per_step() * 1e3, theirs.losses.first().unwrap_or(&0.0), theirs.losses.last().unwrap_or(&0.0));
            println!("  ratio zgnode / PyTorch: {:.2} (tokens/s)", ours.tokens_per_s() / theirs.tokens_per_s());
            println!("  step | zgnode loss | PyTorch loss");
            for (step, (a, b)) in ours.losses.iter().zip(&theirs.losses).enumerate() {
                if step % (r.steps / 12).max(1) == 0 || step + 1 == r.steps {
                    println!("  {:>4} | {:>11.4} | {:>12.4}", step + 1, a, b);
                }
            }
        }
        Err(why) => println!("  PyTorch + PEFT: not run — {why}"),
    }
}

/// `zgnode bench training`, from its arguments: (epochs, batch size, learning rate, rank); then
/// `tasks` through a dev provider for its overhead per task (none when 0).
pub async fn bench(model_dir: Option<PathBuf>, examples: usize, (epochs, batch_size, learning_rate, rank): (u32, usize, f64, usize), python: String, tasks: usize) -> anyhow::Result<()> {
    anyhow::ensure!((1..=100_000).contains(&examples), "--examples must be 1..=100000");
    anyhow::ensure!(tasks <= 100, "--tasks must be at most 100");
    let given = serde_json::json!({"num_train_epochs": epochs, "per_device_train_batch_size": batch_size, "learning_rate": learning_rate, "lora_r": rank});
    let params = TrainingParams::parse(given.to_string().as_bytes()).map_err(anyhow::Error::msg)?;
    let load = TrainingLoad { model_dir, examples, params, python };
    let report = tokio::task::spawn_blocking(move || run(&load)).await??;
    println!(
        "training: LoRA r={rank} on q_proj, v_proj of {} ({} parameters), {examples} examples, {} steps, batch {batch_size}, lr {learning_rate}, CPU",
        report.model, report.parameters, report.steps
    );
    print(&report);
    if tasks > 0 {
        // The dev provider trains its tiny model on a dataset of at most 64 of the examples.
        let overhead = super::training_overhead::run(tasks, &demo_examples(examples.min(64)), epochs).await?;
        super::training_overhead::print(&overhead);
    }
    Ok(())
}
