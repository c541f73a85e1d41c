//! A Llama-family decoder (RMSNorm, rotary positions in Hugging Face's half-split layout,
//! grouped-query attention, SwiGLU MLP) in f32 on the CPU, from a Hugging Face `config.json` and
//! safetensors weights. Matrix-vector products run on rayon, or on a [`MatVecAccelerator`]
//! (the GPU, `crate::gpu::matvec`) for the matrices it holds.

use std::collections::HashMap;

use rayon::prelude::*;

use super::safetensors::{SafetensorsError, Tensor};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlamaConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f32,
    #[serde(default = "default_theta")]
    pub rope_theta: f32,
    #[serde(default = "default_context")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
}

fn default_eps() -> f32 {
    1e-5
}
fn default_theta() -> f32 {
    10_000.0
}
fn default_context() -> usize {
    2048
}

impl LlamaConfig {
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }

    /// Refuses shapes the forward pass cannot run (zero sizes, heads that do not divide).
    pub fn validate(&self) -> Result<(), String> {
        let heads = self.num_attention_heads;
        if self.hidden_size == 0 || heads == 0 || self.vocab_size == 0 || self.intermediate_size == 0 {
            return Err("zero-sized model".into());
        }
        if !self.hidden_size.is_multiple_of(heads) || !self.head_dim().is_multiple_of(2) {
            return Err(format!("hidden_size {} does not split into {heads} heads of even size", self.hidden_size));
        }
        if self.kv_heads() == 0 || !heads.is_multiple_of(self.kv_heads()) {
            return Err(format!("{heads} attention heads do not group over {} key/value heads", self.kv_heads()));
        }
        if self.hidden_size > 1 << 16 || self.num_hidden_layers > 1024 || self.max_position_embeddings > 1 << 20 {
            return Err("sizes beyond any real model".into());
        }
        Ok(())
    }
}

struct Layer {
    input_norm: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    o: Vec<f32>,
    post_norm: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    down: Vec<f32>,
}

/// Somewhere other than the CPU to multiply the model's weight matrices (the GPU). Matrices are
/// named by their index in [`Llama::matrices`].
pub trait MatVecAccelerator: Send + Sync {
    /// `W_id · x`, or `None` to leave it to the CPU (a matrix it does not hold, a failure).
    fn mat_vec(&self, id: usize, x: &[f32]) -> Option<Vec<f32>>;

    /// `W_id · x` for several matrices sharing one input (q, k, v; gate, up): one trip to the
    /// device instead of one a matrix. `None` leaves them all to the caller.
    fn mat_vecs(&self, ids: &[usize], x: &[f32]) -> Option<Vec<Vec<f32>>> {
        ids.iter().map(|id| self.mat_vec(*id, x)).collect()
    }
}

/// Weight matrices a layer has, in [`Llama::matrices`] order.
const MATRICES_PER_LAYER: usize = 7;

pub struct Llama {
    pub config: LlamaConfig,
    embed: Vec<f32>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    /// `None`: tied to `embed`.
    lm_head: Option<Vec<f32>>,
    accelerator: Option<std::sync::Arc<dyn MatVecAccelerator>>,
}

/// Keys and values of the positions seen so far, per layer.
pub struct KvCache {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    pub len: usize,
}

impl Llama {
    pub fn from_tensors(config: LlamaConfig, mut tensors: HashMap<String, Tensor>) -> Result<Self, SafetensorsError> {
        config.validate().map_err(|reason| SafetensorsError::Tensor { name: "config.json".into(), reason })?;
        let (hidden, kv) = (config.hidden_size, config.kv_heads() * config.head_dim());
        let mut take = |name: String, shape: &[usize]| -> Result<Vec<f32>, SafetensorsError> {
            let tensor = tensors.remove(&name).ok_or_else(|| SafetensorsError::Missing(name.clone()))?;
            if tensor.shape != shape {
                return Err(SafetensorsError::Tensor { name, reason: format!("shape {:?}, the config says {shape:?}", tensor.shape) });
            }
            Ok(tensor.data)
        };
        let embed = take("model.embed_tokens.weight".into(), &[config.vocab_size, hidden])?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            layers.push(Layer {
                input_norm: take(format!("{p}.input_layernorm.weight"), &[hidden])?,
                q: take(format!("{p}.self_attn.q_proj.weight"), &[hidden, hidden])?,
                k: take(format!("{p}.self_attn.k_proj.weight"), &[kv, hidden])?,
                v: take(format!("{p}.self_attn.v_proj.weight"), &[kv, hidden])?,
                o: take(format!("{p}.self_attn.o_proj.weight"), &[hidden, hidden])?,
                post_norm: take(format!("{p}.post_attention_layernorm.weight"), &[hidden])?,
                gate: take(format!("{p}.mlp.gate_proj.weight"), &[config.intermediate_size, hidden])?,
                up: take(format!("{p}.mlp.up_proj.weight"), &[config.intermediate_size, hidden])?,
                down: take(format!("{p}.mlp.down_proj.weight"), &[hidden, config.intermediate_size])?,
            });
        }
        let norm = take("model.norm.weight".into(), &[hidden])?;
        let lm_head = if config.tie_word_embeddings { None } else { Some(take("lm_head.weight".into(), &[config.vocab_size, hidden])?) };
        Ok(Self { config, embed, layers, norm, lm_head, accelerator: None })
    }

    /// Every weight matrix as (rows, columns, values): per layer q, k, v, o, gate, up, down,
    /// then the output head.
    pub fn matrices(&self) -> Vec<(usize, usize, &[f32])> {
        let hidden = self.config.hidden_size;
        let mut out = Vec::with_capacity(self.layers.len() * MATRICES_PER_LAYER + 1);
        for layer in &self.layers {
            for w in [&layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up] {
                out.push((w.len() / hidden, hidden, w.as_slice()));
            }
            out.push((hidden, self.config.intermediate_size, layer.down.as_slice()));
        }
        let head = self.lm_head.as_deref().unwrap_or(&self.embed);
        out.push((head.len() / hidden, hidden, head));
        out
    }

    /// Multiplies the matrices `accelerator` holds there from now on.
    pub fn set_accelerator(&mut self, accelerator: std::sync::Arc<dyn MatVecAccelerator>) {
        self.accelerator = Some(accelerator);
    }

    /// The products of consecutive matrices `first ..` with one input, on the accelerator in one
    /// trip when it holds them all, else each as [`Self::product`] does.
    fn products<const N: usize>(&self, first: usize, ws: [&[f32]; N], x: &[f32]) -> [Vec<f32>; N] {
        let ids: [usize; N] = std::array::from_fn(|i| first + i);
        if let Some(ys) = self.accelerator.as_ref().and_then(|a| a.mat_vecs(&ids, x))
            && let Ok(ys) = <[Vec<f32>; N]>::try_from(ys)
        {
            return ys;
        }
        std::array::from_fn(|i| self.product(ids[i], ws[i], x))
    }

    fn product(&self, id: usize, w: &[f32], x: &[f32]) -> Vec<f32> {
        if let Some(y) = self.accelerator.as_ref().and_then(|a| a.mat_vec(id, x)) {
            return y;
        }
        mat_vec(w, x)
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache { keys: vec![Vec::new(); self.layers.len()], values: vec![Vec::new(); self.layers.len()], len: 0 }
    }

    /// Feeds one token at the cache's next position; the logits for the token after it.
    pub fn forward(&self, token: u32, cache: &mut KvCache) -> Vec<f32> {
        let config = &self.config;
        let (hidden, head_dim) = (config.hidden_size, config.head_dim());
        let (heads, kv_heads) = (config.num_attention_heads, config.kv_heads());
        let position = cache.len;
        let row = (token as usize).min(config.vocab_size - 1);
        let mut x = self.embed[row * hidden..(row + 1) * hidden].to_vec();
        for (index, layer) in self.layers.iter().enumerate() {
            let normed = rms_norm(&x, &layer.input_norm, config.rms_norm_eps);
            let id = index * MATRICES_PER_LAYER;
            let [mut q, mut k, v] = self.products(id, [&layer.q, &layer.k, &layer.v], &normed);
            rope(&mut q, head_dim, position, config.rope_theta);
            rope(&mut k, head_dim, position, config.rope_theta);
            cache.keys[index].extend_from_slice(&k);
            cache.values[index].extend_from_slice(&v);
            let (keys, values) = (&cache.keys[index], &cache.values[index]);
            let seen = position + 1;
            let group = heads / kv_heads;
            let scale = 1.0 / (head_dim as f32).sqrt();
            let attended: Vec<f32> = (0..heads)
                .flat_map(|h| {
                    let kv = h / group;
                    let query = &q[h * head_dim..(h + 1) * head_dim];
                    let mut scores: Vec<f32> = (0..seen)
                        .map(|t| {
                            let key = &keys[t * kv_heads * head_dim + kv * head_dim..][..head_dim];
                            dot(query, key) * scale
                        })
                        .collect();
                    softmax(&mut scores);
                    let mut out = vec![0.0f32; head_dim];
                    for (t, weight) in scores.iter().enumerate() {
                        let value = &values[t * kv_heads * head_dim + kv * head_dim..][..head_dim];
                        out.iter_mut().zip(value).for_each(|(o, v)| *o += weight * v);
                    }
                    out
                })
                .collect();
            let projected = self.product(id + 3, &layer.o, &attended);
            x.iter_mut().zip(&projected).for_each(|(a, b)| *a += b);
            let normed = rms_norm(&x, &layer.post_norm, config.rms_norm_eps);
            let [gate, up] = self.products(id + 4, [&layer.gate, &layer.up], &normed);
            let activated: Vec<f32> = gate.iter().zip(&up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
            let down = self.product(id + 6, &layer.down, &activated);
            x.iter_mut().zip(&down).for_each(|(a, b)| *a += b);
        }
        cache.len += 1;
        let normed = rms_norm(&x, &self.norm, config.rms_norm_eps);
        self.product(self.layers.len() * MATRICES_PER_LAYER, self.lm_head.as_deref().unwrap_or(&self.embed), &normed)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `w` is `out × x.len()`, row-major.
fn mat_vec(w: &[f32], x: &[f32]) -> Vec<f32> {
    let columns = x.len();
    // Small products cost less than handing them to the pool.
    if w.len() < 1 << 16 {
        return w.chunks_exact(columns).map(|row| dot(row, x)).collect();
    }
    w.par_chunks_exact(columns).with_min_len(64).map(|row| dot(row, x)).collect()
}

fn rms_norm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let mean = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    x.iter().zip(weight).map(|(v, w)| v * scale * w).collect()
}

/// Rotary positions, Hugging Face's layout: dimension i pairs with i + head_dim/2.
fn rope(x: &mut [f32], head_dim: usize, position: usize, theta: f32) {
    let half = head_dim / 2;
    for head in x.chunks_exact_mut(head_dim) {
        for i in 0..half {
            let frequency = theta.powf(-((2 * i) as f32) / head_dim as f32);
            let (sin, cos) = (position as f32 * frequency).sin_cos();
            let (a, b) = (head[i], head[i + half]);
            head[i] = a * cos - b * sin;
            head[i + half] = b * cos + a * sin;
        }
    }
}

pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    x.iter_mut().for_each(|v| *v /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_at_position_zero_is_identity_and_keeps_norms() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        rope(&mut x, 4, 0, 10_000.0);
        assert_eq!(x, vec![1.0, 2.0, 3.0, 4.0]);
        rope(&mut x, 4, 7, 10_000.0);
        let norm: f32 = x.iter().map(|v| v * v).sum();
        assert!((norm - 30.0).abs() < 1e-4);
    }

    #[test]
    fn small_and_pooled_products_agree() {
        let columns = 300;
        let w: Vec<f32> = (0..columns * 300).map(|i| ((i * 37 % 101) as f32 - 50.0) / 100.0).collect();
        let x: Vec<f32> = (0..columns).map(|i| (i % 7) as f32 / 7.0).collect();
        let pooled = mat_vec(&w, &x);
        let plain: Vec<f32> = w.chunks_exact(columns).map(|row| dot(row, &x)).collect();
        assert_eq!(pooled, plain);
    }

    /// An accelerator that multiplies copies of the model's matrices on the CPU, by the ids
    /// `Llama::matrices` gives them: if any product asked for the wrong matrix, the logits
    /// would differ. One that declines every product leaves them to the CPU.
    struct Copies {
        matrices: Vec<Vec<f32>>,
        asked: std::sync::atomic::AtomicUsize,
        declines: bool,
    }

    impl MatVecAccelerator for Copies {
        fn mat_vec(&self, id: usize, x: &[f32]) -> Option<Vec<f32>> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (!self.declines).then(|| mat_vec(&self.matrices[id], x))
        }
    }

    #[test]
    fn an_accelerator_is_asked_for_each_matrix_by_its_id() {
        let config = super::super::tiny::config();
        let dir = tempfile::tempdir().unwrap();
        super::super::tiny::write(dir.path()).unwrap();
        let load = || {
            let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
            Llama::from_tensors(config.clone(), super::super::safetensors::read(&bytes).unwrap()).unwrap()
        };
        let plain = load();
        let expected: Vec<Vec<f32>> = {
            let mut cache = plain.new_cache();
            [5u32, 9, 2].iter().map(|t| plain.forward(*t, &mut cache)).collect()
        };
        for declines in [false, true] {
            let mut model = load();
            let copies = std::sync::Arc::new(Copies { matrices: model.matrices().iter().map(|(_, _, w)| w.to_vec()).collect(), asked: 0.into(), declines });
            model.set_accelerator(copies.clone());
            let mut cache = model.new_cache();
            let got: Vec<Vec<f32>> = [5u32, 9, 2].iter().map(|t| model.forward(*t, &mut cache)).collect();
            assert_eq!(got, expected, "declines: {declines}");
            assert!(copies.asked.load(std::sync::atomic::Ordering::SeqCst) >= 3 * (config.num_hidden_layers * 7 + 1));
        }
    }

    #[test]
    fn configs_that_cannot_run_are_refused() {
        let good = LlamaConfig {
            hidden_size: 8,
            intermediate_size: 16,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            num_key_value_heads: Some(1),
            vocab_size: 10,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            max_position_embeddings: 64,
            tie_word_embeddings: true,
        };
        assert!(good.validate().is_ok());
        for bad in [
            LlamaConfig { num_attention_heads: 0, ..good.clone() },
            LlamaConfig { num_attention_heads: 3, ..good.clone() },
            LlamaConfig { num_key_value_heads: Some(0), ..good.clone() },
            LlamaConfig { hidden_size: 1 << 20, ..good.clone() },
            LlamaConfig { vocab_size: 0, ..good.clone() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
