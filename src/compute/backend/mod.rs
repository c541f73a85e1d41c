//! Where a provider's completions come from, behind one trait so GPU kernels slot in later:
//! [`openai::OpenAiProxy`] forwards to an OpenAI-compatible server the GPU owner already runs
//! (vLLM, llama.cpp's server, Ollama), [`llama::LlamaBackend`] runs a Llama-family model from
//! safetensors in-process on the CPU.

pub mod llama;
pub mod openai;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// One chat completion to run. `body` is the user's request as sent (the proxy forwards the
/// fields we do not interpret, such as `top_p` or `stop`).
#[derive(Clone, Debug)]
pub struct Generation {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    /// 0 or absent: greedy.
    pub temperature: f32,
    pub seed: u64,
    pub body: serde_json::Value,
}

/// What a completion used, as the backend counted it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the inference backend is unreachable: {0}")]
    Unreachable(String),
    #[error("the inference backend answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the inference backend answered something that is not an OpenAI chat completion: {0}")]
    Malformed(String),
    #[error("the prompt is {tokens} tokens; this model's context is {context}")]
    PromptTooLong { tokens: usize, context: usize },
    #[error("the model failed: {0}")]
    Model(String),
}

pub type BackendFuture = Pin<Box<dyn Future<Output = Result<Usage, BackendError>> + Send>>;

pub trait InferenceBackend: Send + Sync + 'static {
    /// The model name the service registers and answers under.
    fn model(&self) -> &str;

    /// Runs `generation`, sending each piece of text to `pieces` as it is produced (a closed
    /// receiver stops the work early), and returns the metered usage.
    fn generate(self: Arc<Self>, generation: Generation, pieces: mpsc::Sender<String>) -> BackendFuture;
}
