//! LoRA fine-tuning of the built-in Llama-family models, on candle (reverse-mode autodiff;
//! never hand-written gradients): datasets in 0G's formats ([`dataset`]), the task's training
//! parameters ([`params`]), the model with adapters ([`lora`]), AdamW with its moments in the
//! open so checkpoints keep them ([`adamw`]), the loop with checkpoints ([`trainer`]) and the
//! adapter as PEFT files, merged into the served weights ([`adapter`]).

pub mod adamw;
pub mod adapter;
pub mod dataset;
pub mod lora;
pub mod params;
pub mod trainer;

#[cfg(test)]
mod tests;
