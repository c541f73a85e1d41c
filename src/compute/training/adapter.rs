//! A trained LoRA adapter as files PEFT reads (`adapter_model.safetensors` with
//! `base_model.model.model.layers.{i}.{module}.{proj}.lora_A.weight` / `lora_B.weight`, and
//! `adapter_config.json`), and merged into a model's weights (`W + (alpha / r) · B A`) so the
//! built-in backend serves the adapted model unchanged.

use std::collections::HashMap;

use crate::compute::backend::llama::safetensors::{self, Tensor};

use super::lora::{LoraModel, module_of};

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("adapter file: {0}")]
    File(String),
    #[error("adapter does not fit the model: {0}")]
    Mismatch(String),
}

/// An adapter's weights and shape, independent of candle.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraAdapter {
    pub rank: usize,
    pub alpha: f64,
    pub base_model: String,
    /// (layer, projection) → (A: rank × in, B: out × rank).
    pub weights: Vec<((usize, String), Tensor, Tensor)>,
}

fn flat(var: &candle_core::Var) -> Result<Tensor, AdapterError> {
    let tensor = var.as_tensor();
    let data = tensor.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| AdapterError::File(e.to_string()))?;
    Ok(Tensor { shape: tensor.dims().to_vec(), data })
}

impl LoraAdapter {
    pub fn of(model: &LoraModel, base_model: &str) -> Result<Self, AdapterError> {
        let mut keys: Vec<_> = model.adapters.keys().copied().collect();
        keys.sort();
        let weights = keys
            .iter()
            .map(|key| Ok(((key.0, key.1.to_string()), flat(&model.adapters[key].a)?, flat(&model.adapters[key].b)?)))
            .collect::<Result<_, AdapterError>>()?;
        Ok(Self { rank: model.rank, alpha: model.alpha, base_model: base_model.to_string(), weights })
    }

    fn tensor_name(layer: usize, projection: &str, which: &str) -> String {
        format!("base_model.model.model.layers.{layer}.{}.{projection}.lora_{which}.weight", module_of(projection))
    }

    /// `adapter_model.safetensors` bytes.
    pub fn safetensors(&self) -> Result<Vec<u8>, AdapterError> {
        let mut tensors = Vec::new();
        for ((layer, projection), a, b) in &self.weights {
            tensors.push((Self::tensor_name(*layer, projection, "A"), a.clone()));
            tensors.push((Self::tensor_name(*layer, projection, "B"), b.clone()));
        }
        safetensors::write(&tensors).map_err(|e| AdapterError::File(e.to_string()))
    }

    /// `adapter_config.json`, as PEFT writes it for a causal LM.
    pub fn config_json(&self) -> serde_json::Value {
        let mut targets: Vec<&str> = self.weights.iter().map(|((_, p), _, _)| p.as_str()).collect();
        targets.sort();
        targets.dedup();
        serde_json::json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": self.base_model,
            "r": self.rank,
            "lora_alpha": self.alpha,
            "lora_dropout": 0.0,
            "bias": "none",
            "target_modules": targets,
        })
    }

    /// Reads the two files back.
    pub fn read(safetensors_bytes: &[u8], config: &serde_json::Value) -> Result<Self, AdapterError> {
        let rank = config["r"].as_u64().filter(|r| (1..=256).contains(r)).ok_or_else(|| AdapterError::File("adapter_config.json: r is not 1-256".into()))? as usize;
        let alpha = config["lora_alpha"].as_f64().filter(|a| a.is_finite() && *a > 0.0).ok_or_else(|| AdapterError::File("adapter_config.json: lora_alpha is not a positive number".into()))?;
        let base_model = config["base_model_name_or_path"].as_str().unwrap_or_default().to_string();
        let mut tensors = safetensors::read(safetensors_bytes).map_err(|e| AdapterError::File(e.to_string()))?;
        let mut names: Vec<String> = tensors.keys().filter(|n| n.ends_with(".lora_A.weight")).cloned().collect();
        names.sort();
        let mut weights = Vec::new();
        for name in names {
            let parse = || -> Option<(usize, String)> {
                let rest = name.strip_prefix("base_model.model.model.layers.")?;
                let (layer, rest) = rest.split_once('.')?;
                let projection = rest.split('.').nth(1)?;
                Some((layer.parse().ok()?, projection.to_string()))
            };
            let (layer, projection) = parse().ok_or_else(|| AdapterError::File(format!("unexpected tensor name {name:.120}")))?;
            let a = tensors.remove(&name).ok_or_else(|| AdapterError::File(name.clone()))?;
            let b_name = name.replace(".lora_A.", ".lora_B.");
            let b = tensors.remove(&b_name).ok_or_else(|| AdapterError::File(format!("{b_name:.120} is missing")))?;
            if a.shape.len() != 2 || b.shape.len() != 2 || a.shape[0] != rank || b.shape[1] != rank {
                return Err(AdapterError::File(format!("{name:.120}: shapes {:?} / {:?} do not fit rank {rank}", a.shape, b.shape)));
            }
            weights.push(((layer, projection), a, b));
        }
        if weights.is_empty() {
            return Err(AdapterError::File("no lora_A/lora_B tensors".into()));
        }
        Ok(Self { rank, alpha, base_model, weights })
    }

    /// Adds `(alpha / r) · B A` to each adapted weight of `tensors` (a model's, as read).
    pub fn merge_into(&self, tensors: &mut HashMap<String, Tensor>) -> Result<(), AdapterError> {
        let scale = (self.alpha / self.rank as f64) as f32;
        for ((layer, projection), a, b) in &self.weights {
            let name = format!("model.layers.{layer}.{}.{projection}.weight", module_of(projection));
            let weight = tensors.get_mut(&name).ok_or_else(|| AdapterError::Mismatch(format!("the model has no {name:.120}")))?;
            let (out, inp) = match weight.shape.as_slice() {
                [out, inp] => (*out, *inp),
                _ => return Err(AdapterError::Mismatch(format!("{name} is not a matrix"))),
            };
            if a.shape != [self.rank, inp] || b.shape != [out, self.rank] {
                return Err(AdapterError::Mismatch(format!("{name} is {out}×{inp}; the adapter's A is {:?}, B {:?}", a.shape, b.shape)));
            }
            for row in 0..out {
                let b_row = &b.data[row * self.rank..(row + 1) * self.rank];
                let w_row = &mut weight.data[row * inp..(row + 1) * inp];
                for (k, b_rk) in b_row.iter().enumerate() {
                    let step = scale * b_rk;
                    if step == 0.0 {
                        continue;
                    }
                    let a_row = &a.data[k * inp..(k + 1) * inp];
                    w_row.iter_mut().zip(a_row).for_each(|(w, a)| *w += step * a);
                }
            }
        }
        Ok(())
    }
}
