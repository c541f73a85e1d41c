//! The key-value layer's behaviour: reading a `StreamData`, replaying a submission against what
//! earlier ones left (0G's `StreamReplayer`), and answering what a stream holds at a version.
//! Pure: the bytes come through [`StreamBytes`], the state is a [`KvIndex`].

mod queries;
mod replay;
pub mod stream_data;

pub use queries::*;
pub use replay::{Replay, apply, replay};
pub use stream_data::{StreamBytes, StreamDataBuilder, Unavailable};

use alloy_primitives::B256;
use zg_components::storage::kv::STREAM_DOMAIN;

/// The stream ids a submission's tags name: none unless the tags are `STREAM_DOMAIN` followed by
/// whole 32-byte ids (0G's `submission_topic_to_stream_ids`).
pub fn stream_ids_of(tags: &[u8]) -> Vec<B256> {
    if tags.is_empty() || !tags.len().is_multiple_of(32) || tags[..32] != STREAM_DOMAIN[..] {
        return Vec::new();
    }
    tags[32..].chunks_exact(32).map(B256::from_slice).collect()
}

/// The tags a write to these streams carries.
pub fn tags_for(streams: &[B256]) -> Vec<u8> {
    let mut tags = STREAM_DOMAIN.to_vec();
    for stream in streams {
        tags.extend_from_slice(stream.as_slice());
    }
    tags
}

#[cfg(test)]
mod tests;
