//! Verifiable compute's data: integer feed-forward models (int8 weights, int32 accumulators,
//! fixed requantization) as `assets/models/digits/train.py` exports them. The arithmetic they
//! stand for is the systems crate's `verifiable::inference`; the circuit proves the same.

use serde::{Deserialize, Serialize};

pub mod jobs;
pub mod wire;

/// A dense layer: `acc = bias + W·x` (W is `outputs × inputs`, row-major); a hidden layer then
/// requantizes `clamp((acc·multiplier + 2^(shift-1)) >> shift, 0, 127)` (ReLU included); the
/// last layer's accumulators are the logits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantizedLayer {
    #[serde(rename = "in")]
    pub inputs: usize,
    #[serde(rename = "out")]
    pub outputs: usize,
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
    pub multiplier: i64,
    pub shift: u32,
    pub relu: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantizedModel {
    pub name: String,
    pub input_len: usize,
    pub layers: Vec<QuantizedLayer>,
}

/// The held-out split a model file carries, with the exporter's own integer predictions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldOut {
    pub inputs: Vec<Vec<i8>>,
    pub labels: Vec<usize>,
    pub predictions: Vec<usize>,
}

/// A model file: the model, its accuracies as trained, and its held-out split.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ModelFile {
    #[serde(flatten)]
    pub model: QuantizedModel,
    pub parameters: usize,
    pub float_accuracy: f64,
    pub int8_accuracy: f64,
    pub test: HeldOut,
}

/// Largest multiplier and shift a layer may carry: |acc| < 2^31 and multiplier < 2^31 keep
/// `acc·multiplier` inside i64, and the circuit's range checks are sized for them.
pub const MAX_MULTIPLIER: i64 = (1 << 31) - 1;
pub const MAX_SHIFT: u32 = 32;
/// Layers and widths past these are not models this node proves.
pub const MAX_LAYERS: usize = 16;
pub const MAX_WIDTH: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the model has no layers")]
    Empty,
    #[error("the model has {0} layers; at most {MAX_LAYERS}")]
    TooDeep(usize),
    #[error("layer {layer}: {reason}")]
    Layer { layer: usize, reason: String },
}

impl QuantizedModel {
    /// Shapes chain, sizes are in bounds, only the last layer is without requantization.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.layers.is_empty() {
            return Err(ModelError::Empty);
        }
        if self.layers.len() > MAX_LAYERS {
            return Err(ModelError::TooDeep(self.layers.len()));
        }
        let mut width = self.input_len;
        let last = self.layers.len() - 1;
        for (index, layer) in self.layers.iter().enumerate() {
            let fail = |reason: String| ModelError::Layer { layer: index, reason };
            if layer.inputs != width {
                return Err(fail(format!("takes {} inputs, the previous layer gives {width}", layer.inputs)));
            }
            if layer.inputs == 0 || layer.outputs == 0 || layer.inputs > MAX_WIDTH || layer.outputs > MAX_WIDTH {
                return Err(fail(format!("{}×{} is outside 1..={MAX_WIDTH}", layer.outputs, layer.inputs)));
            }
            if layer.weights.len() != layer.inputs * layer.outputs || layer.bias.len() != layer.outputs {
                return Err(fail(format!("{} weights and {} biases for {}×{}", layer.weights.len(), layer.bias.len(), layer.outputs, layer.inputs)));
            }
            if layer.relu == (index == last) {
                return Err(fail("every layer but the last requantizes (relu), the last does not".into()));
            }
            if layer.relu && (!(1..=MAX_MULTIPLIER).contains(&layer.multiplier) || !(1..=MAX_SHIFT).contains(&layer.shift)) {
                return Err(fail(format!("multiplier {} / shift {} outside 1..2^31 / 1..={MAX_SHIFT}", layer.multiplier, layer.shift)));
            }
            width = layer.outputs;
        }
        Ok(())
    }

    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }
}
