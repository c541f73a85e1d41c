//! AdamW (Loshchilov & Hutter: Adam's moments, decoupled weight decay) over candle `Var`s, with
//! its state in the open: candle_nn's AdamW keeps its moments private, so a checkpoint could
//! not hold them and a resumed run restarted them. Gradients still come from candle's backprop;
//! only the update rule is here. Its steps match candle_nn's AdamW (a test checks it).

use candle_core::{Tensor, Var};

use crate::compute::backend::llama::safetensors;

/// The hyper-parameters (PyTorch's and candle's defaults but for the learning rate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWParams {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamWParams {
    pub fn with_learning_rate(learning_rate: f64) -> Self {
        Self { learning_rate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

struct Tracked {
    var: Var,
    first: Var,
    second: Var,
}

pub struct AdamW {
    tracked: Vec<Tracked>,
    /// Steps taken (the bias corrections' exponent).
    steps: u64,
    params: AdamWParams,
}

#[derive(Debug, thiserror::Error)]
pub enum OptimizerStateError {
    #[error("{0}")]
    Candle(#[from] candle_core::Error),
    #[error("the optimizer state does not fit these adapters: {0}")]
    Mismatch(String),
}

impl AdamW {
    pub fn new(vars: Vec<Var>, params: AdamWParams) -> candle_core::Result<Self> {
        let tracked = vars
            .into_iter()
            .map(|var| {
                let first = Var::zeros(var.shape(), var.dtype(), var.device())?;
                let second = Var::zeros(var.shape(), var.dtype(), var.device())?;
                Ok(Tracked { var, first, second })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self { tracked, steps: 0, params })
    }

    /// Back-propagates `loss` and takes one step.
    pub fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        let grads = loss.backward()?;
        self.steps += 1;
        let p = self.params;
        let exponent = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let unbias_first = 1.0 / (1.0 - p.beta1.powi(exponent));
        let unbias_second = 1.0 / (1.0 - p.beta2.powi(exponent));
        for t in &self.tracked {
            let Some(gradient) = grads.get(&t.var) else { continue };
            let first = ((t.first.as_tensor() * p.beta1)? + (gradient * (1.0 - p.beta1))?)?;
            let second = ((t.second.as_tensor() * p.beta2)? + (gradient.sqr()? * (1.0 - p.beta2))?)?;
            let direction = ((&first * unbias_first)? / (((&second * unbias_second)?.sqrt()? + p.eps)?))?;
            let decayed = (t.var.as_tensor() * (1.0 - p.learning_rate * p.weight_decay))?;
            t.var.set(&(decayed - (direction * p.learning_rate)?)?)?;
            t.first.set(&first)?;
            t.second.set(&second)?;
        }
        Ok(())
    }

    /// The moments as safetensors bytes (`first.<i>`, `second.<i>` in the order of the vars)
    /// and the steps taken.
    pub fn state(&self) -> Result<(Vec<u8>, u64), OptimizerStateError> {
        let mut tensors = Vec::new();
        for (i, t) in self.tracked.iter().enumerate() {
            for (name, moment) in [("first", &t.first), ("second", &t.second)] {
                let shape = moment.dims().to_vec();
                let data = moment.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                tensors.push((format!("{name}.{i}"), safetensors::Tensor { shape, data }));
            }
        }
        let bytes = safetensors::write(&tensors).map_err(|e| OptimizerStateError::Mismatch(e.to_string()))?;
        Ok((bytes, self.steps))
    }

    /// Takes back what [`AdamW::state`] gave, for the same vars.
    pub fn restore(&mut self, bytes: &[u8], steps: u64) -> Result<(), OptimizerStateError> {
        let tensors = safetensors::read(bytes).map_err(|e| OptimizerStateError::Mismatch(e.to_string()))?;
        if tensors.len() != 2 * self.tracked.len() {
            return Err(OptimizerStateError::Mismatch(format!("{} moments for {} adapter tensors", tensors.len(), self.tracked.len())));
        }
        // Every moment checked before any is set: a state that does not fit changes nothing.
        let mut fitted = Vec::new();
        for (i, t) in self.tracked.iter().enumerate() {
            for (name, moment) in [("first", &t.first), ("second", &t.second)] {
                let saved = tensors.get(&format!("{name}.{i}")).ok_or_else(|| OptimizerStateError::Mismatch(format!("no {name}.{i}")))?;
                if saved.shape != moment.dims() {
                    return Err(OptimizerStateError::Mismatch(format!("{name}.{i} is {:?}, the adapter's is {:?}", saved.shape, moment.dims())));
                }
                fitted.push((moment, Tensor::from_slice(&saved.data, saved.shape.as_slice(), moment.device())?));
            }
        }
        for (moment, value) in fitted {
            moment.set(&value)?;
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::Optimizer;

    fn problem() -> (Var, Tensor) {
        let x = Var::from_slice(&[0.5f32, -1.0, 2.0, 0.25], (2, 2), &Device::Cpu).unwrap();
        let target = Tensor::from_slice(&[1.0f32, 0.0, -1.0, 3.0], (2, 2), &Device::Cpu).unwrap();
        (x, target)
    }

    fn loss(x: &Var, target: &Tensor) -> Tensor {
        (x.as_tensor().matmul(x.as_tensor()).unwrap() - target).unwrap().sqr().unwrap().mean_all().unwrap()
    }

    #[test]
    fn steps_match_candles_adamw_and_a_restored_state_continues_the_same_run() {
        let params = AdamWParams { weight_decay: 0.01, ..AdamWParams::with_learning_rate(0.05) };
        let (ours, target) = problem();
        let (theirs, _) = problem();
        let mut a = AdamW::new(vec![ours.clone()], params).unwrap();
        let candle_params = candle_nn::ParamsAdamW { lr: 0.05, weight_decay: 0.01, ..Default::default() };
        let mut b = candle_nn::AdamW::new(vec![theirs.clone()], candle_params).unwrap();
        for _ in 0..20 {
            a.backward_step(&loss(&ours, &target)).unwrap();
            b.backward_step(&loss(&theirs, &target)).unwrap();
        }
        let (x, y) = (ours.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(), theirs.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert!(x.iter().zip(&y).all(|(p, q)| (p - q).abs() < 1e-6), "{x:?} vs {y:?}");

        // Ten more steps straight, or through a saved and restored state on fresh vars.
        let (state, steps) = a.state().unwrap();
        let resumed = Var::from_tensor(ours.as_tensor()).unwrap();
        let mut c = AdamW::new(vec![resumed.clone()], params).unwrap();
        c.restore(&state, steps).unwrap();
        for _ in 0..10 {
            a.backward_step(&loss(&ours, &target)).unwrap();
            c.backward_step(&loss(&resumed, &target)).unwrap();
        }
        assert_eq!(ours.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(), resumed.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap());

        // A state for other vars is refused, never half-applied.
        let other = Var::zeros((3, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut d = AdamW::new(vec![other], params).unwrap();
        assert!(matches!(d.restore(&state, steps), Err(OptimizerStateError::Mismatch(_))));
        assert!(matches!(d.restore(b"not safetensors", 1), Err(OptimizerStateError::Mismatch(_))));
    }
}
