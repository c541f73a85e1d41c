//! A Llama of any shape with seeded random weights (rounded to f16, as shipped models are): what
//! the GPU self-check and `zgnode bench gpu` run when the shape matters and the weights do not.

use std::collections::HashMap;

use rayon::prelude::*;

use super::model::{Llama, LlamaConfig};
use super::safetensors::{SafetensorsError, Tensor};

fn tensor(shape: &[usize], seed: u64, scale: f32) -> Tensor {
    let len: usize = shape.iter().product();
    let data = (0..len)
        .into_par_iter()
        .map(|i| {
            let mut z = (i as u64).wrapping_add(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let unit = ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32;
            half::f16::from_f32((unit * 2.0 - 1.0) * scale).to_f32()
        })
        .collect();
    Tensor { shape: shape.to_vec(), data }
}

/// A model of `config`'s shape with seeded random f16-valued weights.
pub fn random_llama(config: &LlamaConfig, seed: u64) -> Result<Llama, SafetensorsError> {
    let hidden = config.hidden_size;
    let kv = config.num_key_value_heads.unwrap_or(config.num_attention_heads) * (hidden / config.num_attention_heads);
    let scale = 1.0 / (hidden as f32).sqrt();
    let mut tensors = HashMap::new();
    let mut n = seed;
    // Scale 0: a norm's weights, all ones.
    let mut add = |name: String, shape: &[usize], scale: f32| {
        n += 1;
        let t = if scale == 0.0 { Tensor { shape: shape.to_vec(), data: vec![1.0; shape.iter().product()] } } else { tensor(shape, n, scale) };
        tensors.insert(name, t);
    };
    add("model.embed_tokens.weight".into(), &[config.vocab_size, hidden], 1.0);
    for i in 0..config.num_hidden_layers {
        let p = format!("model.layers.{i}");
        for (name, shape) in [
            ("self_attn.q_proj", [hidden, hidden]),
            ("self_attn.k_proj", [kv, hidden]),
            ("self_attn.v_proj", [kv, hidden]),
            ("self_attn.o_proj", [hidden, hidden]),
            ("mlp.gate_proj", [config.intermediate_size, hidden]),
            ("mlp.up_proj", [config.intermediate_size, hidden]),
            ("mlp.down_proj", [hidden, config.intermediate_size]),
        ] {
            add(format!("{p}.{name}.weight"), &shape, scale);
        }
        add(format!("{p}.input_layernorm.weight"), &[hidden], 0.0);
        add(format!("{p}.post_attention_layernorm.weight"), &[hidden], 0.0);
    }
    add("model.norm.weight".into(), &[hidden], 0.0);
    if !config.tie_word_embeddings {
        add("lm_head.weight".into(), &[config.vocab_size, hidden], scale);
    }
    Llama::from_tensors(config.clone(), tensors)
}

