//! Erasure coding of storage segments (reed-solomon-simd): a segment becomes `k` data shards and
//! `m` parity shards of equal size, and any `k` of the `k + m` bring it back byte for byte. Many
//! segments are coded side by side on the rayon pool.
//!
//! Which node keeps which shard, and when shards are placed or rebuilt, is `super::shards`.

use rayon::prelude::*;

use zg_components::storage::merkle::CHUNK_SIZE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErasureConfig {
    pub data_shards: usize,
    pub parity_shards: usize,
}

impl ErasureConfig {
    /// 8 data + 4 parity: a segment survives any 4 of 12 holders being away, at 1.5x the bytes.
    pub const DEFAULT: Self = Self { data_shards: 8, parity_shards: 4 };

    /// Shard length for a segment of `len` bytes: an even split in whole 256-byte chunks, so
    /// each data shard holds whole chunks it can be challenged for (and a multiple of the 64
    /// bytes reed-solomon-simd works on).
    pub fn shard_len(&self, len: usize) -> usize {
        self.shard_chunks(len.div_ceil(CHUNK_SIZE)).max(1) * CHUNK_SIZE
    }

    /// Chunks in each data shard of a segment of `chunks` chunks (PoraMine.sol computes the same).
    pub fn shard_chunks(&self, chunks: usize) -> usize {
        chunks.div_ceil(self.data_shards.max(1))
    }

    /// The chunks of a segment (of `chunks` chunks) data shard `index` holds: `start..end`.
    pub fn data_shard_chunks(&self, chunks: usize, index: usize) -> std::ops::Range<usize> {
        let per = self.shard_chunks(chunks);
        (index * per).min(chunks)..((index + 1) * per).min(chunks)
    }

    /// Whether a segment of `len` bytes fills its `k` shards exactly (coded without padding).
    pub fn fills_shards(&self, len: usize) -> bool {
        self.data_shards > 0 && len == self.shard_len(len) * self.data_shards
    }

    pub fn total(&self) -> usize {
        self.data_shards + self.parity_shards
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    #[error("{data}+{parity} shards are not supported")]
    Unsupported { data: usize, parity: usize },
    #[error("only {have} of the {need} shards needed are present")]
    TooFewShards { have: usize, need: usize },
    #[error("shard {index} is {got} bytes, expected {expected}")]
    ShardSize { index: usize, got: usize, expected: usize },
    #[error("erasure coding failed: {0}")]
    Codec(String),
}

fn codec_error(config: ErasureConfig, error: reed_solomon_simd::Error) -> ErasureError {
    match error {
        reed_solomon_simd::Error::UnsupportedShardCount { .. } => {
            ErasureError::Unsupported { data: config.data_shards, parity: config.parity_shards }
        }
        other => ErasureError::Codec(other.to_string()),
    }
}

/// The `m` parity shards of one segment. The data shards are the segment itself cut in `k`
/// (zero-padded to `k` shard lengths), so a full segment is coded without copying it.
pub fn encode_parity(config: ErasureConfig, segment: &[u8]) -> Result<Vec<Vec<u8>>, ErasureError> {
    if config.data_shards == 0 || config.parity_shards == 0 {
        return Err(ErasureError::Unsupported { data: config.data_shards, parity: config.parity_shards });
    }
    let shard_len = config.shard_len(segment.len());
    let result = if config.fills_shards(segment.len()) {
        reed_solomon_simd::encode(config.data_shards, config.parity_shards, segment.chunks(shard_len))
    } else {
        let mut padded = segment.to_vec();
        padded.resize(shard_len * config.data_shards, 0);
        reed_solomon_simd::encode(config.data_shards, config.parity_shards, padded.chunks(shard_len))
    };
    result.map_err(|e| codec_error(config, e))
}

/// Data shard `index` of a segment (zero-padded at the end).
pub fn data_shard(config: ErasureConfig, segment: &[u8], index: usize) -> Vec<u8> {
    let shard_len = config.shard_len(segment.len());
    let mut shard = segment.get(index * shard_len..).unwrap_or_default().iter().take(shard_len).copied().collect::<Vec<u8>>();
    shard.resize(shard_len, 0);
    shard
}

/// All `k + m` shards of one segment as owned buffers: data shards first, then parity.
pub fn encode_segment(config: ErasureConfig, segment: &[u8]) -> Result<Vec<Vec<u8>>, ErasureError> {
    Ok(segment_shards(config, segment, encode_parity(config, segment)?))
}

/// The segment's `k` data shards followed by its `parity` shards (already coded).
pub fn segment_shards(config: ErasureConfig, segment: &[u8], parity: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut shards: Vec<Vec<u8>> = (0..config.data_shards).map(|i| data_shard(config, segment, i)).collect();
    shards.extend(parity);
    shards
}

/// The segment of `len` bytes back from any `k` of its shards (`None` for a missing one).
pub fn decode_segment(config: ErasureConfig, shards: &[Option<Vec<u8>>], len: usize) -> Result<Vec<u8>, ErasureError> {
    let shard_len = config.shard_len(len);
    let have = shards.iter().filter(|s| s.is_some()).count();
    if shards.len() != config.total() || have < config.data_shards {
        return Err(ErasureError::TooFewShards { have, need: config.data_shards });
    }
    for (index, shard) in shards.iter().enumerate() {
        if let Some(shard) = shard
            && shard.len() != shard_len
        {
            return Err(ErasureError::ShardSize { index, got: shard.len(), expected: shard_len });
        }
    }
    let (data, parity) = shards.split_at(config.data_shards);
    let mut out = Vec::with_capacity(shard_len * config.data_shards);
    let missing_data = data.iter().any(Option::is_none);
    let restored = if missing_data {
        let originals = data.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|s| (i, s)));
        let recovery = parity.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|s| (i, s)));
        reed_solomon_simd::decode(config.data_shards, config.parity_shards, originals, recovery)
            .map_err(|e| ErasureError::Codec(e.to_string()))?
    } else {
        Default::default()
    };
    for (index, shard) in data.iter().enumerate() {
        match shard {
            Some(shard) => out.extend_from_slice(shard),
            None => out.extend_from_slice(restored.get(&index).ok_or_else(|| ErasureError::Codec(format!("shard {index} not restored")))?),
        }
    }
    out.truncate(len);
    Ok(out)
}

/// The parity shards of many segments, coded side by side: the segments that fill their
/// shards, grouped by length, each group in one batch on the GPU when the node has one and the
/// group is big enough; every other segment on the rayon pool.
pub fn encode_segments(config: ErasureConfig, segments: &[&[u8]]) -> Result<Vec<Vec<Vec<u8>>>, ErasureError> {
    encode_segments_on(&crate::erasure::accel::Accelerator::cpu(), config, segments)
}

/// [`encode_segments`], offering each group to `accelerator` (the node's GPU) first.
pub fn encode_segments_on(
    accelerator: &crate::erasure::accel::Accelerator,
    config: ErasureConfig,
    segments: &[&[u8]],
) -> Result<Vec<Vec<Vec<u8>>>, ErasureError> {
    let mut parities: Vec<Option<Vec<Vec<u8>>>> = vec![None; segments.len()];
    let mut by_length: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, segment) in segments.iter().enumerate() {
        if config.fills_shards(segment.len()) {
            by_length.entry(segment.len()).or_default().push(i);
        }
    }
    for (len, members) in by_length {
        if !accelerator.wants(len * members.len()) {
            continue;
        }
        let shard_len = config.shard_len(len);
        let originals = members.iter().map(|i| segments[*i]).collect::<Vec<&[u8]>>().concat();
        if let Some(parity) = accelerator.encode_batch(config.data_shards, config.parity_shards, shard_len, &originals) {
            for (i, coded) in members.iter().zip(parity.chunks(shard_len * config.parity_shards)) {
                parities[*i] = Some(coded.chunks(shard_len).map(<[u8]>::to_vec).collect());
            }
        }
    }
    segments
        .par_iter()
        .zip(parities)
        .map(|(segment, parity)| match parity {
            Some(parity) => Ok(parity),
            None => encode_parity(config, segment),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn any_k_of_k_plus_m_shards_restore_the_segment() {
        let config = ErasureConfig::DEFAULT;
        let original = segment(262_144);
        let shards = encode_segment(config, &original).unwrap();
        assert_eq!(shards.len(), 12);
        assert!(shards.iter().all(|s| s.len() == 32_768));
        // Lose four: two data, two parity.
        let mut partial: Vec<Option<Vec<u8>>> = shards.into_iter().map(Some).collect();
        for lost in [0, 5, 8, 11] {
            partial[lost] = None;
        }
        assert_eq!(decode_segment(config, &partial, original.len()).unwrap(), original);
        partial[3] = None;
        assert_eq!(decode_segment(config, &partial, original.len()), Err(ErasureError::TooFewShards { have: 7, need: 8 }));
    }

    #[test]
    fn bad_shards_and_configs_are_errors() {
        let config = ErasureConfig::DEFAULT;
        let mut shards: Vec<Option<Vec<u8>>> = encode_segment(config, &segment(1000)).unwrap().into_iter().map(Some).collect();
        shards[2] = Some(vec![0; 3]);
        assert!(matches!(decode_segment(config, &shards, 1000), Err(ErasureError::ShardSize { index: 2, .. })));
        assert!(matches!(encode_segment(ErasureConfig { data_shards: 0, parity_shards: 1 }, &[1]), Err(ErasureError::Unsupported { .. })));
        assert!(matches!(decode_segment(config, &shards[..5], 1000), Err(ErasureError::TooFewShards { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Whatever the segment and whichever m shards are lost, decoding gives the segment back.
        #[test]
        fn losing_up_to_m_shards_never_loses_data(len in 1usize..20_000, lost in prop::collection::btree_set(0usize..12, 0..=4)) {
            let config = ErasureConfig::DEFAULT;
            let original = segment(len);
            let mut shards: Vec<Option<Vec<u8>>> = encode_segment(config, &original).unwrap().into_iter().map(Some).collect();
            for index in &lost {
                shards[*index] = None;
            }
            prop_assert_eq!(decode_segment(config, &shards, len).unwrap(), original);
        }
    }
}
