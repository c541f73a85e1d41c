//! The built-in backend: a Llama-family model from a Hugging Face directory (`config.json`,
//! `*.safetensors`, `tokenizer.json`), run in-process on the CPU. The generated tiny model
//! ([`tiny`]) goes through the same loading code as a real one.

pub mod model;
pub mod random;
pub mod safetensors;
pub mod tiny;
pub mod tokenizer;

use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, mpsc};

use super::{BackendError, BackendFuture, ChatMessage, Generation, InferenceBackend, Usage};
use model::{Llama, LlamaConfig};
use tokenizer::Tokenizer;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error(transparent)]
    Weights(#[from] safetensors::SafetensorsError),
    #[error(transparent)]
    Tokenizer(#[from] tokenizer::TokenizerError),
}

/// How prompts are laid out for the model, picked by the special tokens its tokenizer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChatTemplate {
    /// `<|start_header_id|>role<|end_header_id|>` (Llama 3).
    Llama3,
    /// `<|im_start|>role` (ChatML: SmolLM2, Qwen2, the tiny model).
    ChatMl,
    /// `role: content` lines, for tokenizers with neither.
    Plain,
}

fn render_prompt(template: ChatTemplate, messages: &[ChatMessage]) -> String {
    let mut text = String::new();
    for message in messages {
        match template {
            ChatTemplate::Llama3 => text.push_str(&format!("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", message.role, message.content)),
            ChatTemplate::ChatMl => text.push_str(&format!("<|im_start|>{}\n{}<|im_end|>\n", message.role, message.content)),
            ChatTemplate::Plain => text.push_str(&format!("{}: {}\n", message.role, message.content)),
        }
    }
    text.push_str(match template {
        ChatTemplate::Llama3 => "<|start_header_id|>assistant<|end_header_id|>\n\n",
        ChatTemplate::ChatMl => "<|im_start|>assistant\n",
        ChatTemplate::Plain => "assistant:",
    });
    if template == ChatTemplate::Llama3 {
        text.insert_str(0, "<|begin_of_text|>");
    }
    text
}

pub struct LlamaBackend {
    name: String,
    model: Llama,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    stop_tokens: Vec<u32>,
    /// Generations at once: each takes a core.
    running: Semaphore,
}

fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|e| LoadError::File { path: path.display().to_string(), reason: e.to_string() })
}

/// A Hugging Face model directory as read: its config (raw and parsed), tokenizer and weights.
pub struct ModelFiles {
    pub raw_config: serde_json::Value,
    pub config: LlamaConfig,
    pub tokenizer: Tokenizer,
    pub tensors: std::collections::HashMap<String, safetensors::Tensor>,
}

impl ModelFiles {
    pub fn read(dir: &Path) -> Result<Self, LoadError> {
        let config_path = dir.join("config.json");
        let raw_config: serde_json::Value = serde_json::from_slice(&read_file(&config_path)?)
            .map_err(|e| LoadError::File { path: config_path.display().to_string(), reason: e.to_string() })?;
        let config: LlamaConfig = serde_json::from_value(raw_config.clone())
            .map_err(|e| LoadError::File { path: config_path.display().to_string(), reason: e.to_string() })?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_text = String::from_utf8(read_file(&tokenizer_path)?)
            .map_err(|_| LoadError::File { path: tokenizer_path.display().to_string(), reason: "not UTF-8".into() })?;
        let tokenizer = Tokenizer::from_json(&tokenizer_text)?;
        let mut shards: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| LoadError::File { path: dir.display().to_string(), reason: e.to_string() })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        shards.sort();
        if shards.is_empty() {
            return Err(LoadError::File { path: dir.display().to_string(), reason: "no .safetensors file".into() });
        }
        let mut tensors = std::collections::HashMap::new();
        for shard in shards {
            tensors.extend(safetensors::read(&read_file(&shard)?)?);
        }
        Ok(Self { raw_config, config, tokenizer, tensors })
    }

    fn template(&self) -> ChatTemplate {
        if self.tokenizer.token_id("<|start_header_id|>").is_some() {
            ChatTemplate::Llama3
        } else if self.tokenizer.token_id("<|im_start|>").is_some() {
            ChatTemplate::ChatMl
        } else {
            ChatTemplate::Plain
        }
    }

    /// The tokens that end an answer (the config's `eos_token_id` and the templates' ends).
    pub fn stop_tokens(&self) -> Vec<u32> {
        let mut stop_tokens: Vec<u32> = match &self.raw_config["eos_token_id"] {
            serde_json::Value::Number(n) => n.as_u64().into_iter().map(|n| n as u32).collect(),
            serde_json::Value::Array(ids) => ids.iter().filter_map(|n| n.as_u64()).map(|n| n as u32).collect(),
            _ => Vec::new(),
        };
        stop_tokens.extend(["<|eot_id|>", "<|im_end|>", "<|end_of_text|>", "</s>", "<|endoftext|>"].iter().filter_map(|t| self.tokenizer.token_id(t)));
        stop_tokens
    }

    /// The prompt `messages` make, laid out as the model's template does, ready for the answer.
    pub fn prompt(&self, messages: &[ChatMessage]) -> String {
        render_prompt(self.template(), messages)
    }
}

impl LlamaBackend {
    pub fn load(dir: &Path, name: &str) -> Result<Self, LoadError> {
        Self::from_files(ModelFiles::read(dir)?, name)
    }

    /// The model with its weights as given (a LoRA adapter already merged into them, say).
    pub fn from_files(files: ModelFiles, name: &str) -> Result<Self, LoadError> {
        let (template, stop_tokens) = (files.template(), files.stop_tokens());
        let ModelFiles { config, tokenizer, tensors, .. } = files;
        let mut model = Llama::from_tensors(config, tensors)?;
        let gpu = crate::gpu::accel::init(&crate::config::GpuSection::default());
        if let Some(line) = crate::gpu::matvec::accelerate(&mut model, gpu) {
            tracing::info!("{name}: {line}");
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self { name: name.to_string(), model, tokenizer, template, stop_tokens, running: Semaphore::new(cores) })
    }

    fn prompt(&self, messages: &[ChatMessage]) -> String {
        render_prompt(self.template, messages)
    }

    /// The prompt's token count, as it will be metered.
    pub fn prompt_tokens(&self, messages: &[ChatMessage]) -> usize {
        self.tokenizer.encode(&self.prompt(messages)).len()
    }

    /// Runs on a blocking thread: prefill, then sample until a stop token, `max_tokens` or the
    /// context's end; stops early once nobody listens.
    fn run(&self, generation: &Generation, pieces: &mpsc::Sender<String>) -> Result<Usage, BackendError> {
        let prompt = self.tokenizer.encode(&self.prompt(&generation.messages));
        let context = self.model.config.max_position_embeddings;
        if prompt.len() >= context {
            return Err(BackendError::PromptTooLong { tokens: prompt.len(), context });
        }
        let mut cache = self.model.new_cache();
        let mut logits = Vec::new();
        for token in &prompt {
            logits = self.model.forward(*token, &mut cache);
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(generation.seed);
        let mut pending = Vec::new();
        let mut completion = 0u64;
        let budget = (generation.max_tokens as usize).min(context - prompt.len());
        for _ in 0..budget {
            let next = sample(&mut logits, generation.temperature, &mut rng);
            if self.stop_tokens.contains(&next) {
                break;
            }
            completion += 1;
            pending.extend(self.tokenizer.token_bytes(next));
            let ready = match std::str::from_utf8(&pending) {
                Ok(text) => text.len(),
                Err(error) if error.error_len().is_none() => error.valid_up_to(),
                // Invalid UTF-8 from a byte-level model: pass it on replaced.
                Err(_) => pending.len(),
            };
            if ready > 0 {
                let text = String::from_utf8_lossy(&pending[..ready]).into_owned();
                pending.drain(..ready);
                if pieces.blocking_send(text).is_err() {
                    break;
                }
            }
            logits = self.model.forward(next, &mut cache);
        }
        if !pending.is_empty() {
            let _ = pieces.blocking_send(String::from_utf8_lossy(&pending).into_owned());
        }
        Ok(Usage { prompt_tokens: prompt.len() as u64, completion_tokens: completion })
    }
}

/// Greedy at temperature 0, else a draw from the tempered softmax.
fn sample(logits: &mut [f32], temperature: f32, rng: &mut impl Rng) -> u32 {
    if temperature <= 0.0 || !temperature.is_finite() {
        return logits.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, v)| if *v > best.1 { (i, *v) } else { best }).0 as u32;
    }
    logits.iter_mut().for_each(|v| *v /= temperature);
    model::softmax(logits);
    let mut draw: f32 = rng.r#gen();
    for (i, p) in logits.iter().enumerate() {
        draw -= p;
        if draw <= 0.0 {
            return i as u32;
        }
    }
    (logits.len() - 1) as u32
}

impl InferenceBackend for LlamaBackend {
    fn model(&self) -> &str {
        &self.name
    }

    fn generate(self: Arc<Self>, generation: Generation, pieces: mpsc::Sender<String>) -> BackendFuture {
        Box::pin(async move {
            let _permit = self.running.acquire().await.map_err(|e| BackendError::Model(e.to_string()))?;
            let backend = self.clone();
            tokio::task::spawn_blocking(move || backend.run(&generation, &pieces)).await.map_err(|e| BackendError::Model(e.to_string()))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(prompt: &str, max_tokens: u32, temperature: f32) -> Generation {
        Generation {
            messages: vec![ChatMessage { role: "user".into(), content: prompt.into() }],
            max_tokens,
            temperature,
            seed: 7,
            body: serde_json::Value::Null,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_tiny_model_streams_a_deterministic_completion() {
        let dir = tempfile::tempdir().unwrap();
        tiny::write(dir.path()).unwrap();
        let backend = Arc::new(LlamaBackend::load(dir.path(), "tiny").unwrap());
        assert_eq!(backend.template, ChatTemplate::ChatMl);
        let mut outputs = Vec::new();
        for _ in 0..2 {
            let (tx, mut rx) = mpsc::channel(64);
            let usage = backend.clone().generate(generation("Hello there", 12, 0.0), tx).await.unwrap();
            let mut text = String::new();
            while let Some(piece) = rx.recv().await {
                text.push_str(&piece);
            }
            assert_eq!(usage.prompt_tokens as usize, backend.prompt_tokens(&generation("Hello there", 1, 0.0).messages));
            assert!(usage.completion_tokens >= 1 && usage.completion_tokens <= 12);
            outputs.push((text, usage));
        }
        assert_eq!(outputs[0], outputs[1], "greedy decoding is deterministic");
        // Sampled decoding with a seed is deterministic too, and a closed receiver stops it.
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let usage = backend.clone().generate(generation("Hello", 50, 0.8), tx).await.unwrap();
        assert!(usage.completion_tokens <= 1, "stopped after the first piece found nobody listening");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_prompt_past_the_context_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        tiny::write(dir.path()).unwrap();
        let backend = Arc::new(LlamaBackend::load(dir.path(), "tiny").unwrap());
        let (tx, _rx) = mpsc::channel(4);
        let long = "word ".repeat(4 * backend.model.config.max_position_embeddings);
        let error = backend.generate(generation(&long, 4, 0.0), tx).await.unwrap_err();
        assert!(matches!(error, BackendError::PromptTooLong { .. }), "{error}");
    }

    #[test]
    fn broken_model_directories_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let error = LlamaBackend::load(dir.path(), "x").err().unwrap().to_string();
        assert!(error.contains("config.json"), "{error}");
        tiny::write(dir.path()).unwrap();
        std::fs::write(dir.path().join("model.safetensors"), b"garbage").unwrap();
        assert!(LlamaBackend::load(dir.path(), "x").is_err());
        tiny::write(dir.path()).unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        assert!(LlamaBackend::load(dir.path(), "x").is_err());
    }
}
