//! Integer inference of a [`QuantizedModel`]: exactly the arithmetic of
//! `assets/models/digits/train.py` (its predictions on the held-out split are matched in the
//! tests) and of the circuit to come.

use zg_components::verifiable::{ModelError, QuantizedLayer, QuantizedModel};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferenceError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the input has {got} values; the model takes {want}")]
    InputLength { got: usize, want: usize },
    #[error("layer {layer}: an accumulator left the int32 range")]
    Overflow { layer: usize },
}

/// The last layer's accumulators and the class they pick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inference {
    pub logits: Vec<i32>,
    pub class: usize,
}

/// `clamp((acc·multiplier + 2^(shift-1)) >> shift, 0, 127)`, `>>` flooring.
pub fn requantize(acc: i32, multiplier: i64, shift: u32) -> i8 {
    let scaled = (i64::from(acc) * multiplier + (1i64 << (shift - 1))) >> shift;
    scaled.clamp(0, 127) as i8
}

fn accumulate(layer: &QuantizedLayer, input: &[i8], index: usize) -> Result<Vec<i32>, InferenceError> {
    layer
        .weights
        .chunks_exact(layer.inputs)
        .zip(&layer.bias)
        .map(|(row, bias)| {
            let sum: i64 = row.iter().zip(input).map(|(w, x)| i64::from(*w) * i64::from(*x)).sum::<i64>() + i64::from(*bias);
            i32::try_from(sum).map_err(|_| InferenceError::Overflow { layer: index })
        })
        .collect()
}

pub fn infer(model: &QuantizedModel, input: &[i8]) -> Result<Inference, InferenceError> {
    model.validate()?;
    if input.len() != model.input_len {
        return Err(InferenceError::InputLength { got: input.len(), want: model.input_len });
    }
    let mut activations = input.to_vec();
    let mut logits = Vec::new();
    for (index, layer) in model.layers.iter().enumerate() {
        let acc = accumulate(layer, &activations, index)?;
        if layer.relu {
            activations = acc.iter().map(|a| requantize(*a, layer.multiplier, layer.shift)).collect();
        } else {
            logits = acc;
        }
    }
    let class = argmax(&logits);
    Ok(Inference { logits, class })
}

/// The class logits pick: the first of equal maxima, as numpy's argmax (0 for none).
pub fn argmax<T: PartialOrd>(logits: &[T]) -> usize {
    logits.iter().enumerate().fold(0, |best, (i, v)| if *v > logits[best] { i } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use zg_components::verifiable::ModelFile;

    const SMALL: &str = include_str!("../../../assets/models/digits/digits-small.json");
    const LARGE: &str = include_str!("../../../assets/models/digits/digits-large.json");

    #[test]
    fn both_reference_models_predict_exactly_what_the_exporter_did() {
        for text in [SMALL, LARGE] {
            let file: ModelFile = serde_json::from_str(text).unwrap();
            file.model.validate().unwrap();
            let predictions: Vec<usize> = file.test.inputs.iter().map(|x| infer(&file.model, x).unwrap().class).collect();
            assert_eq!(predictions, file.test.predictions, "{}", file.model.name);
            let correct = predictions.iter().zip(&file.test.labels).filter(|(p, l)| p == l).count();
            let accuracy = correct as f64 / file.test.labels.len() as f64;
            assert!((accuracy - file.int8_accuracy).abs() < 1e-9, "{}: {accuracy} vs {}", file.model.name, file.int8_accuracy);
            assert!(accuracy > 0.95, "{}: {accuracy}", file.model.name);
        }
    }

    #[test]
    fn bad_models_and_inputs_are_errors() {
        let file: ModelFile = serde_json::from_str(SMALL).unwrap();
        let model = file.model;
        assert!(matches!(infer(&model, &[0; 63]), Err(InferenceError::InputLength { got: 63, want: 64 })));
        let mut broken = model.clone();
        broken.layers[0].weights.pop();
        assert!(infer(&broken, &[0; 64]).is_err());
        let mut broken = model.clone();
        broken.layers[1].inputs = 31;
        assert!(infer(&broken, &[0; 64]).is_err());
        let mut broken = model.clone();
        broken.layers[0].shift = 0;
        assert!(infer(&broken, &[0; 64]).is_err(), "a zero shift would underflow 2^(shift-1)");
        let mut broken = model.clone();
        broken.layers[1].relu = true;
        assert!(broken.validate().is_err());
        let mut overflowing = model;
        overflowing.layers[0].bias[0] = i32::MAX;
        overflowing.layers[0].weights[0] = 127;
        assert!(matches!(infer(&overflowing, &[127; 64]), Err(InferenceError::Overflow { layer: 0 })));
    }

    fn layer(inputs: usize, outputs: usize, relu: bool) -> impl Strategy<Value = QuantizedLayer> {
        (
            proptest::collection::vec(any::<i8>(), inputs * outputs),
            proptest::collection::vec(-100_000i32..100_000, outputs),
            1i64..(1 << 20),
            1u32..=24,
        )
            .prop_map(move |(weights, bias, multiplier, shift)| QuantizedLayer { inputs, outputs, weights, bias, multiplier, shift, relu })
    }

    proptest! {
        /// The shift is a floor division and the clamp a ReLU into int8: checked against the
        /// same arithmetic in i128 with explicit floor division.
        #[test]
        fn requantization_is_floor_division_clamped_to_0_127(acc in any::<i32>(), multiplier in 1i64..=((1 << 31) - 1), shift in 1u32..=32) {
            let exact = (i128::from(acc) * i128::from(multiplier) + (1i128 << (shift - 1))).div_euclid(1i128 << shift);
            prop_assert_eq!(i128::from(requantize(acc, multiplier, shift)), exact.clamp(0, 127));
        }

        #[test]
        fn random_models_give_int8_activations_and_a_stable_argmax(
            first in layer(8, 6, true),
            last in layer(6, 4, false),
            input in proptest::collection::vec(any::<i8>(), 8),
        ) {
            let model = QuantizedModel { name: "random".into(), input_len: 8, layers: vec![first, last] };
            let result = infer(&model, &input).unwrap();
            prop_assert_eq!(result.logits.len(), 4);
            let max = *result.logits.iter().max().unwrap();
            prop_assert_eq!(result.logits[result.class], max);
            prop_assert!(result.logits[..result.class].iter().all(|v| *v < max), "the first maximum");
            prop_assert_eq!(infer(&model, &input).unwrap(), result, "deterministic");
        }
    }
}
