//! The built-in Llama-family model as candle tensors, with LoRA adapters on chosen projections:
//! the base weights are frozen constants, each adapter a pair of `Var`s (`A`: rank × in,
//! `B`: out × rank, B starting at zero so training starts from the base model), and the forward
//! pass is built from candle's differentiable ops so `loss.backward()` reaches only the adapters.

use candle_core::{D, DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

use crate::compute::backend::llama::model::LlamaConfig;
use crate::compute::backend::llama::safetensors::Tensor as FlatTensor;

/// The projections an adapter may sit on (PEFT's `target_modules` names).
pub const TARGETS: &[&str] = &["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    #[error("tensor {0} is missing from the model")]
    Missing(String),
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Where a projection sits in a layer (`mlp` or `self_attn`), as Hugging Face names its weights.
pub(super) fn module_of(projection: &str) -> &'static str {
    if ["gate_proj", "up_proj", "down_proj"].contains(&projection) { "mlp" } else { "self_attn" }
}

/// One adapted projection: `W x + (alpha / r) · B (A x)`.
pub struct Adapter {
    pub a: Var,
    pub b: Var,
}

struct Layer {
    input_norm: Tensor,
    post_norm: Tensor,
    /// Frozen weights by projection name (out × in).
    weights: HashMap<&'static str, Tensor>,
}

pub struct LoraModel {
    pub config: LlamaConfig,
    embed: Tensor,
    head: Tensor,
    norm: Tensor,
    layers: Vec<Layer>,
    /// (layer, projection) → its adapter.
    pub adapters: HashMap<(usize, &'static str), Adapter>,
    pub rank: usize,
    pub alpha: f64,
}

fn constant(tensors: &HashMap<String, FlatTensor>, name: &str) -> Result<Tensor, LoraError> {
    let t = tensors.get(name).ok_or_else(|| LoraError::Missing(name.to_string()))?;
    Ok(Tensor::from_slice(&t.data, t.shape.as_slice(), &Device::Cpu)?)
}

impl LoraModel {
    /// The model with fresh adapters of `rank` on `targets` in every layer (A drawn from
    /// `seed`, B zero).
    pub fn new(config: LlamaConfig, tensors: &HashMap<String, FlatTensor>, targets: &[String], rank: usize, alpha: f64, seed: u64) -> Result<Self, LoraError> {
        if rank == 0 || rank > 256 {
            return Err(LoraError::Invalid(format!("LoRA rank {rank} is not 1-256")));
        }
        let embed = constant(tensors, "model.embed_tokens.weight")?;
        let head = if config.tie_word_embeddings { embed.clone() } else { constant(tensors, "lm_head.weight")? };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        let mut adapters = HashMap::new();
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let mut weights = HashMap::new();
            for target in TARGETS {
                weights.insert(*target, constant(tensors, &format!("{p}.{}.{target}.weight", module_of(target)))?);
            }
            for target in targets {
                let name = TARGETS.iter().find(|t| **t == target.as_str()).ok_or_else(|| LoraError::Invalid(format!("unknown target module {target:.40}; one of {TARGETS:?}")))?;
                let (out, inp) = weights[name].dims2()?;
                // Kaiming-uniform-like A (as PEFT draws it), B zero: the adapter starts at zero.
                let bound = 1.0 / (inp as f32).sqrt();
                let a: Vec<f32> = (0..rank * inp).map(|_| rng.gen_range(-bound..bound)).collect();
                let a = Var::from_tensor(&Tensor::from_vec(a, (rank, inp), &Device::Cpu)?)?;
                let b = Var::zeros((out, rank), DType::F32, &Device::Cpu)?;
                adapters.insert((i, *name), Adapter { a, b });
            }
            layers.push(Layer {
                input_norm: constant(tensors, &format!("{p}.input_layernorm.weight"))?,
                post_norm: constant(tensors, &format!("{p}.post_attention_layernorm.weight"))?,
                weights,
            });
        }
        let norm = constant(tensors, "model.norm.weight")?;
        Ok(Self { config, embed, head, norm, layers, adapters, rank, alpha })
    }

    /// Every trainable variable (A then B of each adapter, in a fixed order).
    pub fn vars(&self) -> Vec<Var> {
        let mut keys: Vec<_> = self.adapters.keys().copied().collect();
        keys.sort();
        keys.iter().flat_map(|key| [self.adapters[key].a.clone(), self.adapters[key].b.clone()]).collect()
    }

    fn project(&self, layer: usize, name: &'static str, x: &Tensor) -> Result<Tensor, LoraError> {
        let base = x.matmul(&self.layers[layer].weights[name].t()?)?;
        match self.adapters.get(&(layer, name)) {
            None => Ok(base),
            Some(adapter) => {
                let delta = x.matmul(&adapter.a.as_tensor().t()?)?.matmul(&adapter.b.as_tensor().t()?)?;
                Ok((base + (delta * (self.alpha / self.rank as f64))?)?)
            }
        }
    }

    /// Logits (T × vocab) for every position of `tokens`, each seeing only those before it.
    pub fn forward(&self, tokens: &[u32]) -> Result<Tensor, LoraError> {
        let config = &self.config;
        let (t, hidden, head_dim) = (tokens.len(), config.hidden_size, config.head_dim());
        let (heads, kv_heads) = (config.num_attention_heads, config.kv_heads());
        let ids = Tensor::from_slice(tokens, t, &Device::Cpu)?;
        let mut x = self.embed.index_select(&ids, 0)?;
        let (cos, sin) = rope_tables(t, head_dim, config.rope_theta)?;
        let mask = causal_mask(t)?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        for (i, layer) in self.layers.iter().enumerate() {
            let h = rms_norm(&x, &layer.input_norm, config.rms_norm_eps)?;
            let q = self.project(i, "q_proj", &h)?.reshape((t, heads, head_dim))?.transpose(0, 1)?.contiguous()?;
            let k = self.project(i, "k_proj", &h)?.reshape((t, kv_heads, head_dim))?.transpose(0, 1)?.contiguous()?;
            let v = self.project(i, "v_proj", &h)?.reshape((t, kv_heads, head_dim))?.transpose(0, 1)?.contiguous()?;
            let (q, k) = (rope(&q, &cos, &sin)?, rope(&k, &cos, &sin)?);
            let group = heads / kv_heads;
            let (k, v) = (repeat_kv(&k, group)?, repeat_kv(&v, group)?);
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask)?;
            let attended = softmax(&scores)?.matmul(&v)?.transpose(0, 1)?.reshape((t, hidden))?;
            x = (x + self.project(i, "o_proj", &attended)?)?;
            let h = rms_norm(&x, &layer.post_norm, config.rms_norm_eps)?;
            let gate = self.project(i, "gate_proj", &h)?;
            let up = self.project(i, "up_proj", &h)?;
            let activated = (silu(&gate)? * up)?;
            x = (x + self.project(i, "down_proj", &activated)?)?;
        }
        let x = rms_norm(&x, &self.norm, config.rms_norm_eps)?;
        Ok(x.matmul(&self.head.t()?)?)
    }

    /// Mean cross-entropy of predicting `tokens[p + 1]` at every position `p + 1 ≥ from`.
    pub fn loss(&self, tokens: &[u32], from: usize) -> Result<Tensor, LoraError> {
        if tokens.len() < 2 || from == 0 || from >= tokens.len() {
            return Err(LoraError::Invalid("an example needs a prompt and at least one answer token".into()));
        }
        let logits = self.forward(&tokens[..tokens.len() - 1])?;
        let logits = logits.narrow(0, from - 1, tokens.len() - from)?;
        let targets = Tensor::from_slice(&tokens[from..], tokens.len() - from, &Device::Cpu)?;
        Ok(candle_nn::loss::cross_entropy(&logits, &targets)?)
    }
}

fn rms_norm(x: &Tensor, weight: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    let mean = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(mean + f64::from(eps))?.sqrt()?)?.broadcast_mul(weight)
}

fn silu(x: &Tensor) -> candle_core::Result<Tensor> {
    x / (x.neg()?.exp()? + 1.0)?
}

/// Softmax over the last axis from differentiable ops (the max shift is a constant).
fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?.detach())?;
    let exp = shifted.exp()?;
    exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)
}

fn causal_mask(t: usize) -> candle_core::Result<Tensor> {
    let values: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { -1e9 } else { 0.0 }).collect();
    Tensor::from_vec(values, (t, t), &Device::Cpu)
}

/// cos and sin (T × head_dim) in Hugging Face's layout: dimension i pairs with i + head_dim/2.
fn rope_tables(t: usize, head_dim: usize, theta: f32) -> candle_core::Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let mut cos = Vec::with_capacity(t * head_dim);
    let mut sin = Vec::with_capacity(t * head_dim);
    for position in 0..t {
        let angles: Vec<f32> = (0..half).map(|i| position as f32 * theta.powf(-((2 * i) as f32) / head_dim as f32)).collect();
        for _ in 0..2 {
            cos.extend(angles.iter().map(|a| a.cos()));
            sin.extend(angles.iter().map(|a| a.sin()));
        }
    }
    Ok((Tensor::from_vec(cos, (t, head_dim), &Device::Cpu)?, Tensor::from_vec(sin, (t, head_dim), &Device::Cpu)?))
}

/// `x · cos + rotate_half(x) · sin` for x of (heads × T × head_dim).
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let half = x.dim(D::Minus1)? / 2;
    let (first, second) = (x.narrow(D::Minus1, 0, half)?, x.narrow(D::Minus1, half, half)?);
    let rotated = Tensor::cat(&[&second.neg()?, &first], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// Each of `kv` heads repeated `group` times in place (grouped-query attention).
fn repeat_kv(x: &Tensor, group: usize) -> candle_core::Result<Tensor> {
    if group == 1 {
        return Ok(x.clone());
    }
    let (kv, t, d) = x.dims3()?;
    x.unsqueeze(1)?.expand((kv, group, t, d))?.reshape((kv * group, t, d))
}
