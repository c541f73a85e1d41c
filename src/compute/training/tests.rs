use std::sync::Arc;

use crate::compute::backend::llama::model::Llama;
use crate::compute::backend::llama::{LlamaBackend, ModelFiles, tiny};
use crate::compute::backend::{ChatMessage, Generation, InferenceBackend};

use super::adapter::LoraAdapter;
use super::dataset::{self, TokenizedExample};
use super::lora::LoraModel;
use super::params::TrainingParams;
use super::trainer::{TrainError, train};

fn tiny_files() -> (tempfile::TempDir, ModelFiles) {
    let dir = tempfile::tempdir().unwrap();
    tiny::write(dir.path()).unwrap();
    let files = ModelFiles::read(dir.path()).unwrap();
    (dir, files)
}

const DATASET: &str = concat!(
    r#"{"instruction": "Ping", "output": "Pong"}"#, "\n",
    r#"{"instruction": "Name the chain.", "output": "Zero Gravity"}"#, "\n",
    r#"{"messages": [{"role": "user", "content": "What is stored?"}, {"role": "assistant", "content": "the data"}]}"#, "\n",
    r#"{"prompt": "Say ok", "completion": "ok"}"#, "\n",
);

fn examples(files: &ModelFiles) -> Vec<TokenizedExample> {
    let (tokenized, skipped) = dataset::tokenize(files, &dataset::parse(DATASET.as_bytes()).unwrap(), 128);
    assert_eq!((tokenized.len(), skipped), (4, 0));
    tokenized
}

fn params() -> TrainingParams {
    TrainingParams::parse(br#"{"num_train_epochs": 30, "learning_rate": 0.01, "per_device_train_batch_size": 2, "lora_r": 8, "lora_alpha": 16, "seed": 7}"#).unwrap()
}

async fn answer(backend: Arc<LlamaBackend>, prompt: &str) -> String {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let generation = Generation { messages: vec![ChatMessage { role: "user".into(), content: prompt.into() }], max_tokens: 8, temperature: 0.0, seed: 1, body: serde_json::Value::Null };
    backend.generate(generation, tx).await.unwrap();
    let mut text = String::new();
    while let Some(piece) = rx.recv().await {
        text.push_str(&piece);
    }
    text
}

#[test]
fn the_candle_forward_with_zero_adapters_is_the_served_models_forward() {
    let (_dir, files) = tiny_files();
    let model = LoraModel::new(files.config.clone(), &files.tensors, &["q_proj".into(), "v_proj".into(), "down_proj".into()], 4, 8.0, 1).unwrap();
    let tokens: Vec<u32> = files.tokenizer.encode("<|im_start|>user\nHello there, zero gravity<|im_end|>\n");
    let logits = model.forward(&tokens).unwrap().to_vec2::<f32>().unwrap();
    let served = Llama::from_tensors(files.config.clone(), files.tensors.clone()).unwrap();
    let mut cache = served.new_cache();
    for (position, token) in tokens.iter().enumerate() {
        let expected = served.forward(*token, &mut cache);
        let worst = expected.iter().zip(&logits[position]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "position {position}: logits differ by {worst}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_lowers_the_loss_and_the_adapted_model_answers_differently() {
    let (_dir, files) = tiny_files();
    let examples = examples(&files);
    let trained = train(&files, tiny::TINY_MODEL_NAME, &examples, &params(), None, |_| true).unwrap();
    assert_eq!(trained.losses.len(), 60, "30 epochs of two batches");
    let first = trained.losses[..4].iter().sum::<f32>() / 4.0;
    let last = trained.losses[trained.losses.len() - 4..].iter().sum::<f32>() / 4.0;
    eprintln!("loss over the first four steps {first:.3}, the last four {last:.3} ({} steps, {} tokens, {:.2} s)", trained.losses.len(), trained.tokens, trained.seconds);
    assert!(last * 4.0 < first, "the loss falls at least fourfold on a fixed seed: {first} -> {last} ({:?})", trained.losses);

    let (_dir, base_files) = tiny_files();
    let base = Arc::new(LlamaBackend::from_files(base_files, "tiny").unwrap());
    let (_dir, mut adapted_files) = tiny_files();
    trained.adapter.merge_into(&mut adapted_files.tensors).unwrap();
    let adapted = Arc::new(LlamaBackend::from_files(adapted_files, "tiny-adapted").unwrap());
    let (before, after) = (answer(base, "Ping").await, answer(adapted, "Ping").await);
    assert_ne!(before, after, "the adapter changes the answer");
    eprintln!("answer to \"Ping\": base {before:?}, adapted {after:?}");
    assert!(after.starts_with("Pong"), "it learned the training answer: {after:?} (base: {before:?})");
}

#[test]
fn a_killed_run_resumes_from_its_last_checkpoint_with_the_same_data_order() {
    let (_dir, files) = tiny_files();
    let examples = examples(&files);
    let checkpoints = tempfile::tempdir().unwrap();
    let params = TrainingParams { max_steps: Some(25), ..params() };
    let stopped = train(&files, "tiny", &examples, &params, Some(checkpoints.path()), |step| step.step < 13);
    assert!(matches!(stopped, Err(TrainError::Cancelled(13))), "stopped at step 13");
    let resumed = train(&files, "tiny", &examples, &params, Some(checkpoints.path()), |_| true).unwrap();
    assert_eq!((resumed.resumed_from, resumed.losses.len()), (10, 25), "from the step-10 checkpoint to the end");
    let straight = train(&files, "tiny", &examples, &params, None, |_| true).unwrap();
    assert_eq!(resumed.losses[..10], straight.losses[..10], "the steps before the checkpoint are the same run");
    // AdamW's moments come back with the adapter: the resumed run is the straight run.
    for (step, (a, b)) in resumed.losses.iter().zip(&straight.losses).enumerate() {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "step {}: resumed {a} vs straight {b}", step + 1);
    }
    assert_eq!(resumed.adapter.weights.len(), straight.adapter.weights.len());
    for ((_, a1, b1), (_, a2, b2)) in resumed.adapter.weights.iter().zip(&straight.adapter.weights) {
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-5);
        assert!(close(&a1.data, &a2.data) && close(&b1.data, &b2.data), "the resumed adapter is the straight run's");
    }
}

#[test]
fn an_adapter_survives_its_files_and_refuses_a_model_it_does_not_fit() {
    let (_dir, files) = tiny_files();
    let params = TrainingParams { max_steps: Some(3), ..params() };
    let trained = train(&files, "tiny", &examples(&files), &params, None, |_| true).unwrap();
    let bytes = trained.adapter.safetensors().unwrap();
    let config = trained.adapter.config_json();
    assert_eq!((config["peft_type"].as_str(), config["r"].as_u64()), (Some("LORA"), Some(8)));
    let back = LoraAdapter::read(&bytes, &config).unwrap();
    assert_eq!(back, trained.adapter);
    let mut other = files.tensors.clone();
    other.insert("model.layers.0.self_attn.q_proj.weight".into(), crate::compute::backend::llama::safetensors::Tensor { shape: vec![3, 3], data: vec![0.0; 9] });
    assert!(back.merge_into(&mut other).is_err());
    for bad in [serde_json::json!({"r": 0, "lora_alpha": 1}), serde_json::json!({"r": 8}), serde_json::json!({"r": 4, "lora_alpha": 8})] {
        assert!(LoraAdapter::read(&bytes, &bad).is_err(), "{bad}");
    }
    assert!(LoraAdapter::read(b"not safetensors", &config).is_err());
}

#[test]
fn a_checkpoint_from_before_moments_were_kept_still_resumes_and_a_hostile_one_is_refused() {
    let (_dir, files) = tiny_files();
    let examples = examples(&files);
    let checkpoints = tempfile::tempdir().unwrap();
    let params = TrainingParams { max_steps: Some(14), ..params() };
    let stopped = train(&files, "tiny", &examples, &params, Some(checkpoints.path()), |step| step.step < 11);
    assert!(matches!(stopped, Err(TrainError::Cancelled(11))));
    let dir = checkpoints.path();
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("checkpoint.json")).unwrap()).unwrap();
    // The earlier layout: fixed weights name, no moments.
    std::fs::rename(dir.join(state["weights"].as_str().unwrap()), dir.join("checkpoint.safetensors")).unwrap();
    let old = serde_json::json!({"step": state["step"], "losses": state["losses"], "adapter_config": state["adapter_config"]});
    std::fs::write(dir.join("checkpoint.json"), old.to_string()).unwrap();
    let resumed = train(&files, "tiny", &examples, &params, Some(dir), |_| true).unwrap();
    assert_eq!((resumed.resumed_from, resumed.losses.len()), (10, 14));
    // A checkpoint naming a file outside its folder is refused, not followed.
    state["weights"] = serde_json::json!("../../etc/passwd");
    std::fs::write(dir.join("checkpoint.json"), state.to_string()).unwrap();
    let refused = train(&files, "tiny", &examples, &params, Some(dir), |_| true);
    assert!(matches!(&refused, Err(TrainError::Checkpoint(why)) if why.contains("names")), "{:?}", refused.err());
}
