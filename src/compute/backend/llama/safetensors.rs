//! Safetensors (the `safetensors` crate) read into f32 — F32, F16 and BF16 tensors, as Hugging
//! Face ships Llama weights — and written (F32) for the generated tiny model.

use std::collections::HashMap;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    #[error("the safetensors file is malformed: {0}")]
    Header(String),
    #[error("tensor {name}: {reason}")]
    Tensor { name: String, reason: String },
    #[error("the model has no tensor {0}")]
    Missing(String),
}

/// A tensor as f32, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

pub fn read(bytes: &[u8]) -> Result<HashMap<String, Tensor>, SafetensorsError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| SafetensorsError::Header(e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in file.tensors() {
        let raw = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            Dtype::F16 => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            Dtype::BF16 => raw.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            other => return Err(SafetensorsError::Tensor { name, reason: format!("dtype {other:?} (F32, F16 and BF16 are read)") }),
        };
        tensors.insert(name, Tensor { shape: view.shape().to_vec(), data: values });
    }
    Ok(tensors)
}

/// Writes `tensors` as F32.
pub fn write(tensors: &[(String, Tensor)]) -> Result<Vec<u8>, SafetensorsError> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> =
        tensors.iter().map(|(name, t)| (name.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone())).collect();
    let views = bytes
        .iter()
        .map(|(name, data, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), data).map(|view| (name.as_str(), view)).map_err(|e| SafetensorsError::Tensor { name: name.clone(), reason: e.to_string() })
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| SafetensorsError::Header(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_tensors_read_back_and_half_floats_widen() {
        let tensors = vec![("b".to_string(), Tensor { shape: vec![2, 2], data: vec![1.0, -2.5, 0.0, 3.25] }), ("a".to_string(), Tensor { shape: vec![1], data: vec![7.0] })];
        let read_back = read(&write(&tensors).unwrap()).unwrap();
        assert_eq!(read_back["b"], tensors[0].1);
        assert_eq!(read_back["a"], tensors[1].1);

        let mut halves = Vec::new();
        halves.extend_from_slice(&half::f16::from_f32(1.5).to_le_bytes());
        halves.extend_from_slice(&half::bf16::from_f32(-3.0).to_le_bytes());
        let header = br#"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"g":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"__metadata__":{"format":"pt"}}"#;
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header);
        file.extend_from_slice(&halves);
        let read_back = read(&file).unwrap();
        assert_eq!((read_back["h"].data[0], read_back["g"].data[0]), (1.5, -3.0));
    }

    #[test]
    fn malformed_files_are_errors() {
        let good = write(&[("w".to_string(), Tensor { shape: vec![3], data: vec![1.0, 2.0, 3.0] })]).unwrap();
        assert!(read(&[]).is_err());
        assert!(read(&u64::MAX.to_le_bytes()).is_err());
        assert!(read(&good[..good.len() - 1]).is_err(), "truncated data");
        let mut wrong_shape = good.clone();
        let text = String::from_utf8_lossy(&wrong_shape[8..]).replace("[3]", "[4]");
        wrong_shape.truncate(8);
        wrong_shape.extend_from_slice(text.as_bytes());
        assert!(read(&wrong_shape).is_err());
        for header in [&b"{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}"[..], b"{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,4]}}", b"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", b"not json"] {
            let mut file = (header.len() as u64).to_le_bytes().to_vec();
            file.extend_from_slice(header);
            file.extend_from_slice(&[0; 8]);
            assert!(read(&file).is_err(), "{}", String::from_utf8_lossy(header));
        }
    }
}
