//! `zgnode bench gpu` (LLM part): the built-in Llama backend's decoding speed with its weight
//! matrices on the GPU against the same model on every CPU core, in the same run, on a
//! randomly initialised model of a real model's shape (weights rounded to f16, as shipped
//! models are, so the card keeps them in half precision), logits compared token by token.

use std::sync::Arc;
use std::time::Instant;


use crate::compute::backend::llama::model::{Llama, LlamaConfig};
use crate::compute::backend::llama::random::random_llama;
use crate::gpu::matvec::GpuMatVec;

/// TinyLlama-1.1B's shape (Llama 2 architecture, grouped-query attention), `layers` deep.
pub fn tinyllama_shape(layers: usize) -> LlamaConfig {
    LlamaConfig {
        hidden_size: 2048,
        intermediate_size: 5632,
        num_hidden_layers: layers,
        num_attention_heads: 32,
        num_key_value_heads: Some(4),
        vocab_size: 32_000,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        max_position_embeddings: 2048,
        tie_word_embeddings: false,
    }
}

/// The report; without a GPU the CPU's tokens/s alone and why.
pub fn llm(device: usize, layers: usize, tokens: usize) -> anyhow::Result<String> {
    anyhow::ensure!(layers > 0 && tokens > 0, "--llm-layers and --llm-tokens must be at least 1");
    let config = tinyllama_shape(layers);
    let cpu = random_llama(&config, 11)?;
    let params: usize = cpu.matrices().iter().map(|(r, c, _)| r * c).sum();
    let prompt: Vec<u32> = (0..tokens as u32).map(|t| (t * 7_919) % config.vocab_size as u32).collect();
    let run = |model: &Llama| {
        let mut cache = model.new_cache();
        let started = Instant::now();
        let logits: Vec<Vec<f32>> = prompt.iter().map(|t| model.forward(*t, &mut cache)).collect();
        (started.elapsed(), logits)
    };
    let rate = |t: std::time::Duration| tokens as f64 / t.as_secs_f64();
    let (cpu_time, cpu_logits) = run(&cpu);
    let mut report = format!(
        "built-in LLM backend: TinyLlama-1.1B's shape, {layers} layers ({:.0} M weights in matrices, f16 values), {tokens} tokens decoded one at a time\n  CPU ({} cores, f32) {:.2} tokens/s",
        params as f64 / 1e6,
        rayon::current_num_threads(),
        rate(cpu_time),
    );
    let card = match crate::gpu::detect(device) {
        Ok(card) => card,
        Err(why) => return Ok(report + &format!(" | GPU: {why}\n")),
    };
    let checked = crate::gpu::selftest::matvec(&card).map_err(|difference| anyhow::anyhow!("GPU self-check failed: {difference}"))?;
    let mut on_gpu = random_llama(&config, 11)?;
    let mut accelerator = GpuMatVec::load(&card)?;
    let held = accelerator.attach(&on_gpu.matrices(), 0)?;
    on_gpu.set_accelerator(Arc::new(accelerator));
    let _warm = run(&on_gpu);
    let (gpu_time, gpu_logits) = run(&on_gpu);
    let worst = cpu_logits
        .iter()
        .zip(&gpu_logits)
        .map(|(a, b)| {
            let scale = a.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
            a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max) / scale
        })
        .fold(0.0f32, f32::max);
    let same_argmax = cpu_logits.iter().zip(&gpu_logits).filter(|(a, b)| argmax(a) == argmax(b)).count();
    report += &format!(
        " | GPU ({held} matrices on the card in f16) {:.2} tokens/s -> {:.1}x; largest logit difference {:.2e} of the logits' scale; same next token {same_argmax}/{tokens}\n",
        rate(gpu_time),
        cpu_time.as_secs_f64() / gpu_time.as_secs_f64(),
        worst
    );
    Ok(format!("self-check: {checked}\n{report}"))
}

fn argmax(x: &[f32]) -> usize {
    x.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, v)| if *v > best.1 { (i, *v) } else { best }).0
}
