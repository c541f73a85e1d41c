//! The safetensors format (an 8-byte little-endian header length, a JSON header of
//! `name -> {dtype, shape, data_offsets}`, then the raw tensors), read into f32 — F32, F16 and
//! BF16 tensors, as Hugging Face ships Llama weights — and written (F32) for the generated tiny
//! model.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    #[error("the safetensors file is truncated or its header is malformed: {0}")]
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

#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// Headers past this are not a model's.
const MAX_HEADER_BYTES: u64 = 100 << 20;

pub fn read(bytes: &[u8]) -> Result<HashMap<String, Tensor>, SafetensorsError> {
    let bad = |why: &str| SafetensorsError::Header(why.to_string());
    let length = u64::from_le_bytes(bytes.get(..8).ok_or_else(|| bad("shorter than 8 bytes"))?.try_into().map_err(|_| bad("length"))?);
    if length > MAX_HEADER_BYTES {
        return Err(bad("the header claims more than 100 MB"));
    }
    let header_end = 8 + length as usize;
    let header = bytes.get(8..header_end).ok_or_else(|| bad("the header runs past the end"))?;
    let entries: HashMap<String, serde_json::Value> = serde_json::from_slice(header).map_err(|e| SafetensorsError::Header(e.to_string()))?;
    let data = &bytes[header_end..];
    let mut tensors = HashMap::new();
    for (name, value) in entries {
        if name == "__metadata__" {
            continue;
        }
        let fail = |reason: String| SafetensorsError::Tensor { name: name.clone(), reason };
        let entry: Entry = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
        let count = entry.shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d)).ok_or_else(|| fail("shape overflows".into()))?;
        let width = match entry.dtype.as_str() {
            "F32" => 4,
            "F16" | "BF16" => 2,
            other => return Err(fail(format!("dtype {other} (F32, F16 and BF16 are read)"))),
        };
        let [start, end] = entry.data_offsets;
        let raw = data.get(start..end).filter(|_| start <= end).ok_or_else(|| fail("data offsets past the file".into()))?;
        if Some(raw.len()) != count.checked_mul(width) {
            return Err(fail(format!("{} bytes for {count} {} values", raw.len(), entry.dtype)));
        }
        let values = match entry.dtype.as_str() {
            "F32" => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            "F16" => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            _ => raw.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        };
        tensors.insert(name, Tensor { shape: entry.shape, data: values });
    }
    Ok(tensors)
}

/// Writes `tensors` as F32, in name order.
pub fn write(tensors: &[(String, Tensor)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    let mut sorted: Vec<&(String, Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, tensor) in &sorted {
        let end = offset + tensor.data.len() * 4;
        header.insert(name.clone(), serde_json::json!({"dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, end]}));
        offset = end;
    }
    let header = serde_json::Value::Object(header).to_string().into_bytes();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    for (_, tensor) in sorted {
        tensor.data.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_tensors_read_back_and_half_floats_widen() {
        let tensors = vec![("b".to_string(), Tensor { shape: vec![2, 2], data: vec![1.0, -2.5, 0.0, 3.25] }), ("a".to_string(), Tensor { shape: vec![1], data: vec![7.0] })];
        let read_back = read(&write(&tensors)).unwrap();
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
        let good = write(&[("w".to_string(), Tensor { shape: vec![3], data: vec![1.0, 2.0, 3.0] })]);
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
