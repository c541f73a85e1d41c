//! A model's canonical bytes: what the ModelRegistry contract stores on chain and hands to the
//! verification precompile, and what the model's hash is taken over. The name is left out (it
//! changes nothing the circuit proves).
//!
//! Big-endian, every count bounded before anything is allocated:
//! `"ZGQM" ‖ version u8 (1) ‖ input_len u16 ‖ layers u8 ‖ layer*`; a layer is
//! `inputs u16 ‖ outputs u16 ‖ relu u8 ‖ multiplier u32 ‖ shift u8 ‖ weights i8 (outputs ×
//! inputs) ‖ bias i32 × outputs`. Decoding validates the model ([`QuantizedModel::validate`]).

use super::{MAX_LAYERS, MAX_WIDTH, ModelError, QuantizedLayer, QuantizedModel};

const MAGIC: &[u8; 4] = b"ZGQM";
const VERSION: u8 = 1;
/// The largest model bytes accepted: sixteen 4096×4096 layers would be 256 MiB, far past
/// anything provable; this keeps a hostile input from asking for that much.
pub const MAX_MODEL_BYTES: usize = 1 << 22;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelWireError {
    #[error("not a model: the bytes do not start with ZGQM version 1")]
    NotAModel,
    #[error("the model ends early: {0} wanted")]
    Truncated(&'static str),
    #[error("the model is {0} bytes; at most {MAX_MODEL_BYTES}")]
    TooLarge(usize),
    #[error("{0} bytes follow the model")]
    Trailing(usize),
    #[error(transparent)]
    Invalid(#[from] ModelError),
    #[error("the model cannot be encoded: {0}")]
    Unencodable(String),
}

/// The model's canonical bytes.
pub fn encode_model(model: &QuantizedModel) -> Result<Vec<u8>, ModelWireError> {
    model.validate()?;
    let too_big = |what: &str| ModelWireError::Unencodable(what.to_string());
    let mut out = Vec::with_capacity(8 + model.layers.iter().map(|l| 10 + l.weights.len() + 4 * l.bias.len()).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&u16::try_from(model.input_len).map_err(|_| too_big("input_len"))?.to_be_bytes());
    out.push(model.layers.len() as u8);
    for layer in &model.layers {
        out.extend_from_slice(&(layer.inputs as u16).to_be_bytes());
        out.extend_from_slice(&(layer.outputs as u16).to_be_bytes());
        out.push(layer.relu as u8);
        let multiplier = if layer.relu { u32::try_from(layer.multiplier).map_err(|_| too_big("multiplier"))? } else { 0 };
        out.extend_from_slice(&multiplier.to_be_bytes());
        out.push(if layer.relu { layer.shift as u8 } else { 0 });
        out.extend(layer.weights.iter().map(|w| *w as u8));
        for bias in &layer.bias {
            out.extend_from_slice(&bias.to_be_bytes());
        }
    }
    if out.len() > MAX_MODEL_BYTES {
        return Err(ModelWireError::TooLarge(out.len()));
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ModelWireError> {
        if self.bytes.len() < n {
            return Err(ModelWireError::Truncated(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ModelWireError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, ModelWireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ModelWireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Reads canonical model bytes back; refuses anything [`encode_model`] would not have written.
pub fn decode_model(bytes: &[u8]) -> Result<QuantizedModel, ModelWireError> {
    if bytes.len() > MAX_MODEL_BYTES {
        return Err(ModelWireError::TooLarge(bytes.len()));
    }
    let mut reader = Reader { bytes };
    if reader.take(4, "magic").ok() != Some(MAGIC.as_slice()) || reader.u8("version")? != VERSION {
        return Err(ModelWireError::NotAModel);
    }
    let input_len = reader.u16("input_len")? as usize;
    let count = reader.u8("layer count")? as usize;
    if count > MAX_LAYERS {
        return Err(ModelError::TooDeep(count).into());
    }
    let mut layers = Vec::with_capacity(count);
    for index in 0..count {
        let inputs = reader.u16("inputs")? as usize;
        let outputs = reader.u16("outputs")? as usize;
        if inputs > MAX_WIDTH || outputs > MAX_WIDTH {
            return Err(ModelError::Layer { layer: index, reason: format!("{outputs}×{inputs} is outside 1..={MAX_WIDTH}") }.into());
        }
        let relu = match reader.u8("relu")? {
            0 => false,
            1 => true,
            _ => return Err(ModelError::Layer { layer: index, reason: "relu is neither 0 nor 1".into() }.into()),
        };
        let multiplier = i64::from(reader.u32("multiplier")?);
        let shift = u32::from(reader.u8("shift")?);
        let weights = reader.take(inputs * outputs, "weights")?.iter().map(|b| *b as i8).collect();
        let bias = reader
            .take(4 * outputs, "bias")?
            .chunks_exact(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if !relu && (multiplier != 0 || shift != 0) {
            return Err(ModelError::Layer { layer: index, reason: "the last layer carries no requantization".into() }.into());
        }
        layers.push(QuantizedLayer { inputs, outputs, weights, bias, multiplier, shift, relu });
    }
    if !reader.bytes.is_empty() {
        return Err(ModelWireError::Trailing(reader.bytes.len()));
    }
    let model = QuantizedModel { name: String::new(), input_len, layers };
    model.validate()?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> QuantizedModel {
        QuantizedModel {
            name: "two layers".into(),
            input_len: 3,
            layers: vec![
                QuantizedLayer { inputs: 3, outputs: 2, weights: vec![1, -2, 3, -128, 127, 0], bias: vec![-5, 70_000], multiplier: 40_000, shift: 16, relu: true },
                QuantizedLayer { inputs: 2, outputs: 2, weights: vec![4, -4, 9, 1], bias: vec![i32::MIN, i32::MAX], multiplier: 0, shift: 0, relu: false },
            ],
        }
    }

    #[test]
    fn round_trips_without_the_name() {
        let bytes = encode_model(&model()).unwrap();
        assert_eq!(bytes.len(), 8 + (10 + 6 + 8) + (10 + 4 + 8));
        let back = decode_model(&bytes).unwrap();
        assert_eq!(back, QuantizedModel { name: String::new(), ..model() });
    }

    #[test]
    fn refuses_every_malformed_form() {
        let bytes = encode_model(&model()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_model(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode_model(&trailing), Err(ModelWireError::Trailing(1)));
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(decode_model(&magic), Err(ModelWireError::NotAModel));
        let mut relu = bytes.clone();
        relu[12] = 2;
        assert!(decode_model(&relu).is_err(), "relu byte 2");
        let mut width = bytes.clone();
        width[8..10].copy_from_slice(&4u16.to_be_bytes());
        assert!(decode_model(&width).is_err(), "a layer whose inputs do not chain");
        let mut deep = bytes.clone();
        deep[7] = 200;
        assert!(matches!(decode_model(&deep), Err(ModelWireError::Invalid(ModelError::TooDeep(200)))));
        let huge = [b"ZGQM".as_slice(), &[1, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]].concat();
        assert!(decode_model(&huge).is_err(), "a 65535-wide layer is refused before allocating");
        assert!(decode_model(&vec![0; MAX_MODEL_BYTES + 1]).is_err());
    }
}
