//! The training parameters a task carries (the JSON file the SDK's `createTask` sends, with
//! Hugging Face / PEFT names), checked before any work starts.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct TrainingParams {
    pub epochs: u32,
    pub learning_rate: f64,
    pub batch_size: usize,
    /// Stop after this many optimizer steps even within an epoch.
    pub max_steps: Option<u64>,
    pub rank: usize,
    pub alpha: f64,
    pub target_modules: Vec<String>,
    pub seed: u64,
    pub max_seq_len: usize,
    /// Keys given that this trainer does not use (reported in the task's log).
    pub ignored: Vec<String>,
}

impl Default for TrainingParams {
    fn default() -> Self {
        Self {
            epochs: 1,
            learning_rate: 2e-4,
            batch_size: 1,
            max_steps: None,
            rank: 8,
            alpha: 16.0,
            target_modules: vec!["q_proj".into(), "v_proj".into()],
            seed: 42,
            max_seq_len: 512,
            ignored: Vec::new(),
        }
    }
}

const KNOWN: &[&str] = &[
    "num_train_epochs",
    "learning_rate",
    "per_device_train_batch_size",
    "max_steps",
    "lora_r",
    "lora_rank",
    "r",
    "lora_alpha",
    "target_modules",
    "seed",
    "max_seq_length",
    "max_seq_len",
];

impl TrainingParams {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > 64 << 10 {
            return Err("the training parameters are longer than 64 KiB".into());
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("the training parameters are not JSON: {e}"))?;
        let object = value.as_object().ok_or("the training parameters must be a JSON object")?;
        let mut params = Self::default();
        let number = |key: &str| -> Result<Option<f64>, String> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).map(Some).ok_or_else(|| format!("{key} must be a number")),
            }
        };
        let whole = |key: &str, low: f64, high: f64| -> Result<Option<f64>, String> {
            match number(key)? {
                Some(v) if v.fract() != 0.0 || !(low..=high).contains(&v) => Err(format!("{key} {v} is not a whole number in {low}-{high}")),
                other => Ok(other),
            }
        };
        if let Some(v) = whole("num_train_epochs", 1.0, 100.0)? {
            params.epochs = v as u32;
        }
        if let Some(v) = number("learning_rate")? {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!("learning_rate {v} is not in (0, 1]"));
            }
            params.learning_rate = v;
        }
        if let Some(v) = whole("per_device_train_batch_size", 1.0, 256.0)? {
            params.batch_size = v as usize;
        }
        if let Some(v) = whole("max_steps", -1.0, 1e9)? {
            params.max_steps = (v > 0.0).then_some(v as u64);
        }
        for key in ["lora_r", "lora_rank", "r"] {
            if let Some(v) = whole(key, 1.0, 256.0)? {
                params.rank = v as usize;
                params.alpha = 2.0 * params.rank as f64;
            }
        }
        if let Some(v) = number("lora_alpha")? {
            if !(v > 0.0 && v <= 4096.0) {
                return Err(format!("lora_alpha {v} is not in (0, 4096]"));
            }
            params.alpha = v;
        }
        if let Some(targets) = object.get("target_modules") {
            let list = targets.as_array().ok_or("target_modules must be a list of module names")?;
            params.target_modules = list.iter().map(|t| t.as_str().map(str::to_string).ok_or("target_modules must be a list of module names")).collect::<Result<_, _>>()?;
            if params.target_modules.is_empty() {
                return Err("target_modules must name at least one module".into());
            }
            if let Some(unknown) = params.target_modules.iter().find(|t| !super::lora::TARGETS.contains(&t.as_str())) {
                return Err(format!("target_modules: {unknown:.40} is not one of {:?}", super::lora::TARGETS));
            }
        }
        if let Some(v) = whole("seed", 0.0, 9.007e15)? {
            params.seed = v as u64;
        }
        for key in ["max_seq_length", "max_seq_len"] {
            if let Some(v) = whole(key, 8.0, 1e6)? {
                params.max_seq_len = v as usize;
            }
        }
        params.ignored = object.keys().filter(|k| !KNOWN.contains(&k.as_str())).cloned().collect();
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugging_face_names_read_and_bad_values_are_named() {
        let params = TrainingParams::parse(br#"{"num_train_epochs": 3, "learning_rate": 0.001, "per_device_train_batch_size": 2, "lora_r": 4, "neftune_noise_alpha": 5}"#).unwrap();
        assert_eq!((params.epochs, params.batch_size, params.rank, params.alpha), (3, 2, 4, 8.0));
        assert_eq!(params.ignored, vec!["neftune_noise_alpha".to_string()]);
        assert_eq!(TrainingParams::parse(b"{}").unwrap(), TrainingParams::default());
        for (bad, why) in [
            (&b"[]"[..], "JSON object"),
            (b"nope", "not JSON"),
            (br#"{"learning_rate": 5}"#, "learning_rate"),
            (br#"{"num_train_epochs": 0.5}"#, "num_train_epochs"),
            (br#"{"lora_r": 0}"#, "lora_r"),
            (br#"{"target_modules": ["q_proj", "../../etc"]}"#, "target_modules"),
            (br#"{"per_device_train_batch_size": "x"}"#, "must be a number"),
        ] {
            let error = TrainingParams::parse(bad).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }
}
