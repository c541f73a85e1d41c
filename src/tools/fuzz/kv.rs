//! The KV layer's external input: a Flow submission's bytes as `StreamData`, replayed against a
//! stream that already has an admin, a writer, a special key and some values.

use alloy_primitives::{Address, B256};
use std::sync::OnceLock;

use zg_components::storage::kv::{FollowedStreams, KvIndex, KvTransaction, ReplayOutcome, acl};
use zg_systems::storage::kv::{self, Replay, StreamDataBuilder};

const OWNER: Address = Address::repeat_byte(0x11);
const WRITER: Address = Address::repeat_byte(0x22);

fn stream() -> B256 {
    B256::repeat_byte(0x5a)
}

/// The stream before the fuzzed submission: seq 0 by the owner (values, a writer, a special key).
fn history() -> &'static KvIndex {
    static INDEX: OnceLock<KvIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = KvIndex::new(FollowedStreams::All);
        let bytes = seed_writes().encode();
        let tx = KvTransaction { seq: 0, stream_ids: vec![stream()], sender: OWNER, size: bytes.len() as u64 };
        let replay = kv::replay(&tx, &index, &mut &bytes[..]).expect("in memory");
        kv::apply(&mut index, 0, &replay);
        index
    })
}

fn seed_writes() -> StreamDataBuilder {
    StreamDataBuilder::new(u64::MAX)
        .write(stream(), b"alpha", b"one")
        .write(stream(), b"beta", &[7; 300])
        .control(acl::GRANT_WRITER_ROLE, stream(), None, Some(WRITER))
        .control(acl::SET_KEY_TO_SPECIAL, stream(), Some(b"vault"), None)
}

/// Any bytes, sent by the owner or the writer: an outcome, never a panic; a commit's values lie
/// inside the data, and replaying again gives the same outcome.
pub fn stream_data(data: &[u8]) {
    let index = history();
    for sender in [OWNER, WRITER] {
        let tx = KvTransaction { seq: 1, stream_ids: vec![stream()], sender, size: data.len() as u64 };
        let Ok(first) = kv::replay(&tx, index, &mut &data[..]) else { panic!("bytes in memory are always readable") };
        if let Replay::Outcome(ReplayOutcome::Commit(commit)) = &first {
            for write in &commit.writes {
                assert!(write.offset.checked_add(write.len).is_some_and(|end| end <= data.len() as u64), "a value outside the data");
                assert!(!write.key.is_empty(), "an empty key committed");
            }
        }
        assert_eq!(kv::replay(&tx, index, &mut &data[..]), Ok(first), "replay is deterministic");
    }
}

pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let s = stream();
    let builders = [
        seed_writes(),
        StreamDataBuilder::new(0).read(s, b"alpha").write(s, b"gamma", b"three"),
        StreamDataBuilder::new(u64::MAX).write(s, b"vault", b"x").write(s, b"alpha", b""),
        StreamDataBuilder::new(u64::MAX)
            .control(acl::GRANT_SPECIAL_WRITER_ROLE, s, Some(b"vault"), Some(WRITER))
            .control(acl::REVOKE_WRITER_ROLE, s, None, Some(WRITER))
            .control(acl::RENOUNCE_ADMIN_ROLE, s, None, None)
            .control(acl::RENOUNCE_SPECIAL_WRITER_ROLE, s, Some(b"vault"), None)
            .control(acl::GRANT_ADMIN_ROLE, s, None, Some(Address::repeat_byte(3))),
    ];
    builders.iter().map(|b| ("stream_data", b.encode())).collect()
}
