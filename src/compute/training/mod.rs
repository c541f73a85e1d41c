//! LoRA fine-tuning of the built-in Llama-family models, on candle (reverse-mode autodiff and
//! AdamW; never hand-written gradients): datasets in 0G's formats ([`dataset`]), the task's
//! training parameters ([`params`]), the model with adapters ([`lora`]), the loop with
//! checkpoints ([`trainer`]) and the adapter as PEFT files, merged into the served weights
//! ([`adapter`]).

pub mod adapter;
pub mod dataset;
pub mod lora;
pub mod params;
pub mod trainer;

#[cfg(test)]
mod tests;
