//! The tiny Llama the project generates instead of downloading one (`zgnode compute
//! tiny-model DIR` writes it; `zgnode dev`'s built-in provider serves it): a Hugging Face
//! directory — `config.json`, `tokenizer.json` (byte-level BPE with ChatML specials and a few
//! English merges), `model.safetensors` — of 0.12 M parameters (0.47 MB) drawn from a fixed seed, so
//! every node makes the same bytes. It answers fluent nonsense; what it proves is the loading
//! and serving path a real model takes.

use std::path::Path;

use rand::{Rng, SeedableRng};

use super::model::LlamaConfig;
use super::safetensors::{self, Tensor};

pub const TINY_MODEL_NAME: &str = "zg-tiny-llama";
const SEED: u64 = 0x0_6_0_6;
const MERGES: &[(&str, &str)] = &[
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("e", "r"), ("a", "n"), ("o", "n"), ("Ġ", "a"), ("r", "e"), ("Ġ", "s"),
    ("e", "n"), ("a", "t"), ("o", "r"), ("Ġ", "w"), ("Ġ", "o"), ("i", "s"), ("e", "d"), ("Ġ", "c"), ("in", "g"), ("Ġ", "b"),
];

pub fn config() -> LlamaConfig {
    LlamaConfig {
        hidden_size: 64,
        intermediate_size: 192,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: Some(2),
        vocab_size: 258 + MERGES.len(),
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        max_position_embeddings: 512,
        tie_word_embeddings: true,
    }
}

fn tokenizer_json() -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    for (id, c) in super::tokenizer::byte_alphabet().iter().enumerate() {
        vocab.insert(c.to_string(), id.into());
    }
    for (i, (a, b)) in MERGES.iter().enumerate() {
        vocab.insert(format!("{a}{b}"), (258 + i).into());
    }
    serde_json::json!({
        "version": "1.0",
        "added_tokens": [{"id": 256, "content": "<|im_start|>", "special": true}, {"id": 257, "content": "<|im_end|>", "special": true}],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": MERGES.iter().map(|(a, b)| format!("{a} {b}")).collect::<Vec<_>>()},
    })
}

fn weights(config: &LlamaConfig) -> Vec<(String, Tensor)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut random = |shape: Vec<usize>, scale: f32| {
        let count = shape.iter().product();
        Tensor { shape, data: (0..count).map(|_| rng.gen_range(-scale..scale)).collect() }
    };
    let (h, i, kv) = (config.hidden_size, config.intermediate_size, config.num_key_value_heads.unwrap_or(config.num_attention_heads) * config.hidden_size / config.num_attention_heads);
    let ones = |n: usize| Tensor { shape: vec![n], data: vec![1.0; n] };
    // The head is tied to the embedding: rows near zero are tokens the model (almost) never
    // says, so its nonsense stays printable ASCII and merged pieces.
    let mut embed = random(vec![config.vocab_size, h], 1.0);
    for (token, row) in embed.data.chunks_exact_mut(h).enumerate() {
        let printable = (0x20..0x7f).contains(&token) || token >= 258;
        if !printable {
            row.iter_mut().for_each(|v| *v *= 0.01);
        }
    }
    let mut tensors = vec![("model.embed_tokens.weight".to_string(), embed), ("model.norm.weight".to_string(), ones(h))];
    for layer in 0..config.num_hidden_layers {
        let p = format!("model.layers.{layer}");
        let projection = 1.0 / (h as f32).sqrt();
        tensors.extend([
            (format!("{p}.input_layernorm.weight"), ones(h)),
            (format!("{p}.post_attention_layernorm.weight"), ones(h)),
            (format!("{p}.self_attn.q_proj.weight"), random(vec![h, h], projection)),
            (format!("{p}.self_attn.k_proj.weight"), random(vec![kv, h], projection)),
            (format!("{p}.self_attn.v_proj.weight"), random(vec![kv, h], projection)),
            (format!("{p}.self_attn.o_proj.weight"), random(vec![h, h], projection)),
            (format!("{p}.mlp.gate_proj.weight"), random(vec![i, h], projection)),
            (format!("{p}.mlp.up_proj.weight"), random(vec![i, h], projection)),
            (format!("{p}.mlp.down_proj.weight"), random(vec![h, i], 1.0 / (i as f32).sqrt())),
        ]);
    }
    tensors
}

/// Writes the tiny model into `dir` (created if missing).
pub fn write(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let config = config();
    let mut config_json = serde_json::to_value(&config).map_err(std::io::Error::other)?;
    config_json["architectures"] = serde_json::json!(["LlamaForCausalLM"]);
    config_json["model_type"] = "llama".into();
    config_json["eos_token_id"] = 257.into();
    config_json["bos_token_id"] = 256.into();
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config_json).map_err(std::io::Error::other)?)?;
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json().to_string())?;
    std::fs::write(dir.join("model.safetensors"), safetensors::write(&weights(&config)).map_err(std::io::Error::other)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiny_model_is_the_same_bytes_every_time() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(a.path()).unwrap();
        write(b.path()).unwrap();
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            assert_eq!(std::fs::read(a.path().join(file)).unwrap(), std::fs::read(b.path().join(file)).unwrap(), "{file}");
        }
        let size = std::fs::metadata(a.path().join("model.safetensors")).unwrap().len();
        assert!(size < 4 << 20, "a few MB at most: {size}");
    }
}
