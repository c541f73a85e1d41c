use alloy_primitives::{Address, B256};
use proptest::prelude::*;

use zg_components::storage::kv::{FollowedStreams, KvIndex, KvTransaction, ReplayOutcome, acl};

use super::*;

const OWNER: Address = Address::repeat_byte(0x11);
const WRITER: Address = Address::repeat_byte(0x22);
const STRANGER: Address = Address::repeat_byte(0x33);

fn stream(n: u8) -> B256 {
    B256::repeat_byte(n)
}

/// A node replaying every stream, with the submissions so far and their bytes.
struct Chain {
    index: KvIndex,
    seq: u64,
}

impl Chain {
    fn new() -> Self {
        Self { index: KvIndex::new(FollowedStreams::All), seq: 0 }
    }

    fn submit_tagged(&mut self, sender: Address, tags: Vec<B256>, bytes: &[u8]) -> Replay {
        let tx = KvTransaction { seq: self.seq, stream_ids: tags, sender, size: bytes.len() as u64 };
        let outcome = replay(&tx, &self.index, &mut &bytes[..]).expect("bytes in memory");
        apply(&mut self.index, self.seq, &outcome);
        self.seq += 1;
        outcome
    }

    fn submit(&mut self, sender: Address, data: StreamDataBuilder) -> ReplayOutcome {
        let tags = data.streams();
        match self.submit_tagged(sender, tags, &data.encode()) {
            Replay::Outcome(outcome) => outcome,
            Replay::NotFollowed => panic!("followed"),
        }
    }
}

fn committed(outcome: &ReplayOutcome) -> bool {
    matches!(outcome, ReplayOutcome::Commit(_))
}

#[test]
fn the_first_writer_of_a_stream_is_its_admin_and_a_stranger_cannot_write_it() {
    let mut chain = Chain::new();
    assert!(committed(&chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(stream(1), b"k", b"v"))));
    assert!(is_admin(&chain.index, &OWNER, &stream(1), u64::MAX));
    // The attacker: overwrite the owner's key, then make itself admin.
    assert_eq!(chain.submit(STRANGER, StreamDataBuilder::new(u64::MAX).write(stream(1), b"k", b"stolen")), ReplayOutcome::SenderNoWritePermission);
    let grab = StreamDataBuilder::new(u64::MAX).control(acl::GRANT_ADMIN_ROLE, stream(1), None, Some(STRANGER));
    assert_eq!(chain.submit(STRANGER, grab), ReplayOutcome::SenderNoWritePermission);
    assert_eq!(value_of(&chain.index, &stream(1), b"k", u64::MAX).map(|v| v.version), Some(0));
    assert!(!is_admin(&chain.index, &STRANGER, &stream(1), u64::MAX));
}

#[test]
fn a_writer_granted_by_the_admin_writes_until_revoked_and_cannot_grant_admin() {
    let mut chain = Chain::new();
    let s = stream(2);
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(s, b"a", b"1").control(acl::GRANT_WRITER_ROLE, s, None, Some(WRITER)));
    assert!(is_writer_of_stream(&chain.index, &WRITER, &s, u64::MAX));
    assert!(committed(&chain.submit(WRITER, StreamDataBuilder::new(u64::MAX).write(s, b"b", b"2"))));
    // Admin for an accomplice is refused; admin for itself is dropped unapplied (0G's rule).
    let escalate = StreamDataBuilder::new(u64::MAX).control(acl::GRANT_ADMIN_ROLE, s, None, Some(STRANGER));
    assert!(matches!(chain.submit(WRITER, escalate), ReplayOutcome::AccessControlPermissionDenied { op: acl::GRANT_ADMIN_ROLE, .. }));
    chain.submit(WRITER, StreamDataBuilder::new(u64::MAX).control(acl::GRANT_ADMIN_ROLE, s, None, Some(WRITER)));
    assert!(!is_admin(&chain.index, &WRITER, &s, u64::MAX));
    // A writer may pass the writer role on (0G's rule) but not revoke anyone.
    let revoke = StreamDataBuilder::new(u64::MAX).control(acl::REVOKE_WRITER_ROLE, s, None, Some(OWNER));
    assert!(matches!(chain.submit(WRITER, revoke), ReplayOutcome::AccessControlPermissionDenied { .. }));
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).control(acl::REVOKE_WRITER_ROLE, s, None, Some(WRITER)));
    assert_eq!(chain.submit(WRITER, StreamDataBuilder::new(u64::MAX).write(s, b"c", b"3")), ReplayOutcome::SenderNoWritePermission);
    assert!(is_writer_of_stream(&chain.index, &WRITER, &s, 2), "the role held at version 2");
}

#[test]
fn a_special_key_is_written_only_by_its_own_writers() {
    let mut chain = Chain::new();
    let s = stream(3);
    chain.submit(
        OWNER,
        StreamDataBuilder::new(u64::MAX)
            .write(s, b"open", b"x")
            .control(acl::SET_KEY_TO_SPECIAL, s, Some(b"vault"), None)
            .control(acl::GRANT_SPECIAL_WRITER_ROLE, s, Some(b"vault"), Some(WRITER))
            .control(acl::GRANT_WRITER_ROLE, s, None, Some(STRANGER)),
    );
    assert!(is_special_key(&chain.index, &s, b"vault", u64::MAX));
    // A stream writer cannot touch the special key; its special writer can, and only it.
    assert!(matches!(chain.submit(STRANGER, StreamDataBuilder::new(u64::MAX).write(s, b"vault", b"no")), ReplayOutcome::WritePermissionDenied { .. }));
    assert!(committed(&chain.submit(WRITER, StreamDataBuilder::new(u64::MAX).write(s, b"vault", b"yes"))));
    assert!(matches!(chain.submit(WRITER, StreamDataBuilder::new(u64::MAX).write(s, b"open", b"no")), ReplayOutcome::WritePermissionDenied { .. }));
    chain.submit(WRITER, StreamDataBuilder::new(u64::MAX).control(acl::RENOUNCE_SPECIAL_WRITER_ROLE, s, Some(b"vault"), None));
    assert!(!is_writer_of_key(&chain.index, &WRITER, &s, b"vault", u64::MAX));
    assert_eq!(chain.submit(WRITER, StreamDataBuilder::new(u64::MAX).write(s, b"vault", b"late")), ReplayOutcome::SenderNoWritePermission);
}

#[test]
fn an_admin_who_renounces_is_admin_no_more() {
    let mut chain = Chain::new();
    let s = stream(4);
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(s, b"k", b"v"));
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).control(acl::RENOUNCE_ADMIN_ROLE, s, None, None));
    assert!(!is_admin(&chain.index, &OWNER, &s, u64::MAX));
    assert!(is_admin(&chain.index, &OWNER, &s, 0));
    assert_eq!(chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(s, b"k", b"w")), ReplayOutcome::SenderNoWritePermission);
}

#[test]
fn writes_and_reads_older_than_the_key_conflict() {
    let mut chain = Chain::new();
    let s = stream(5);
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(s, b"k", b"v0")); // seq 0
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(s, b"k", b"v1")); // seq 1
    assert_eq!(chain.submit(OWNER, StreamDataBuilder::new(0).write(s, b"k", b"stale")), ReplayOutcome::VersionConfliction);
    assert_eq!(chain.submit(OWNER, StreamDataBuilder::new(0).read(s, b"k").write(s, b"other", b"x")), ReplayOutcome::VersionConfliction);
    assert!(committed(&chain.submit(OWNER, StreamDataBuilder::new(1).read(s, b"k").write(s, b"k", b"v4"))));
    // Reads at versions before and after each write.
    assert_eq!(value_of(&chain.index, &s, b"k", 0).map(|v| v.version), Some(0));
    assert_eq!(value_of(&chain.index, &s, b"k", 3).map(|v| v.version), Some(1));
    assert_eq!(value_of(&chain.index, &s, b"k", u64::MAX).map(|v| v.version), Some(4));
}

#[test]
fn a_write_to_an_untagged_stream_is_a_tags_mismatch() {
    let mut chain = Chain::new();
    let data = StreamDataBuilder::new(u64::MAX).write(stream(6), b"k", b"v").write(stream(7), b"k", b"v");
    let outcome = chain.submit_tagged(OWNER, vec![stream(6)], &data.encode());
    assert_eq!(outcome, Replay::Outcome(ReplayOutcome::TagsMismatch));
    assert!(value_of(&chain.index, &stream(6), b"k", u64::MAX).is_none(), "nothing of a refused write lands");
}

#[test]
fn streams_not_followed_and_untagged_files_are_passed_over() {
    let mut index = KvIndex::new(FollowedStreams::Only([stream(1)].into()));
    let bytes = StreamDataBuilder::new(u64::MAX).write(stream(2), b"k", b"v").encode();
    let tx = KvTransaction { seq: 0, stream_ids: vec![stream(2)], sender: OWNER, size: bytes.len() as u64 };
    assert_eq!(replay(&tx, &index, &mut &bytes[..]), Ok(Replay::NotFollowed));
    let untagged = KvTransaction { stream_ids: vec![], ..tx };
    assert_eq!(replay(&untagged, &index, &mut &bytes[..]), Ok(Replay::NotFollowed));
    apply(&mut index, 0, &Replay::NotFollowed);
    assert_eq!(index.next_seq, 1);
}

#[test]
fn malformed_stream_data_is_a_parse_error_naming_what_is_wrong() {
    let s = stream(8);
    let good = StreamDataBuilder::new(u64::MAX).write(s, b"key", b"value").encode();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..good.len() - 1].to_vec(), "past the end"),
        (good[..5].to_vec(), "version"),
        ([&u64::MAX.to_be_bytes()[..], &0u32.to_be_bytes(), &1u32.to_be_bytes(), s.as_slice(), &[0xff, 0xff, 0xff], b"k"].concat(), "key runs past"),
        ([&u64::MAX.to_be_bytes()[..], &0u32.to_be_bytes(), &1u32.to_be_bytes(), s.as_slice(), &[0, 0, 0]].concat(), "empty key"),
        ([&u64::MAX.to_be_bytes()[..], &70_000u32.to_be_bytes()].concat(), "more than 65536"),
        ([&u64::MAX.to_be_bytes()[..], &0u32.to_be_bytes(), &0u32.to_be_bytes(), &1u32.to_be_bytes(), &[0x77], s.as_slice()].concat(), "unknown access-control op"),
    ];
    for (bytes, expected) in cases {
        let mut chain = Chain::new();
        match chain.submit_tagged(OWNER, vec![s], &bytes) {
            Replay::Outcome(ReplayOutcome::DataParseError(error)) => assert!(error.contains(expected), "{error} lacks {expected}"),
            other => panic!("{other:?} for {expected}"),
        }
    }
    // A value length past the end, and lengths that overflow u64 together.
    let mut huge = StreamDataBuilder::new(u64::MAX).write(s, b"a", b"").write(s, b"b", b"").encode();
    let first_len = 8 + 4 + 4 + 32 + 3 + 1;
    huge[first_len..first_len + 8].copy_from_slice(&u64::MAX.to_be_bytes());
    let second_len = first_len + 8 + 32 + 3 + 1;
    huge[second_len..second_len + 8].copy_from_slice(&2u64.to_be_bytes());
    assert!(matches!(Chain::new().submit_tagged(OWNER, vec![s], &huge), Replay::Outcome(ReplayOutcome::DataParseError(_))));
}

#[test]
fn bytes_not_readable_yet_leave_the_submission_to_retry() {
    struct Missing;
    impl StreamBytes for Missing {
        fn read(&mut self, _: u64, _: u64) -> Result<Vec<u8>, Unavailable> {
            Err(Unavailable("segment 0 not held".into()))
        }
    }
    let index = KvIndex::new(FollowedStreams::All);
    let tx = KvTransaction { seq: 0, stream_ids: vec![stream(1)], sender: OWNER, size: 100 };
    assert!(replay(&tx, &index, &mut Missing).is_err());
}

#[test]
fn deleted_keys_are_passed_over_by_range_queries() {
    let mut chain = Chain::new();
    let s = stream(9);
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(s, b"a", b"1").write(s, b"b", b"2").write(s, b"c", b"3"));
    chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(s, b"b", b""));
    let key_of = |found: Option<Found>| found.map(|f| f.key);
    assert_eq!(key_of(next_key(&chain.index, &s, b"a", false, u64::MAX)), Some(b"c".to_vec()));
    assert_eq!(key_of(next_key(&chain.index, &s, b"a", false, 0)), Some(b"b".to_vec()), "before the delete");
    assert_eq!(key_of(next_key(&chain.index, &s, b"a", true, u64::MAX)), Some(b"a".to_vec()));
    assert_eq!(key_of(prev_key(&chain.index, &s, b"c", false, u64::MAX)), Some(b"a".to_vec()));
    assert_eq!(key_of(first_key(&chain.index, &s, u64::MAX)), Some(b"a".to_vec()));
    assert_eq!(key_of(last_key(&chain.index, &s, u64::MAX)), Some(b"c".to_vec()));
    assert_eq!(value_of(&chain.index, &s, b"b", u64::MAX).map(|v| v.len), Some(0));
}

#[test]
fn results_read_as_0g_prints_them() {
    let denied = ReplayOutcome::WritePermissionDenied { stream: stream(1), key: b"vault".to_vec() };
    assert_eq!(denied.to_string(), format!("WritePermissionDenied: stream: {:?}, key: vault", stream(1)));
    let acl_denied = ReplayOutcome::AccessControlPermissionDenied { op: acl::GRANT_ADMIN_ROLE, stream: stream(1), key: vec![], account: WRITER };
    assert!(acl_denied.to_string().starts_with("AccessControlPermissionDenied: operation: GRANT_ADMIN_ROLE, stream: 0x0101"));
    assert!(acl_denied.to_string().ends_with("key: NONE, account: 0x2222222222222222222222222222222222222222"));
    assert_eq!(tags_for(&[stream(1)]).len(), 64);
    assert_eq!(stream_ids_of(&tags_for(&[stream(1), stream(2)])), vec![stream(1), stream(2)]);
    assert!(stream_ids_of(&[0u8; 64]).is_empty());
    assert!(stream_ids_of(&tags_for(&[stream(1)])[..50]).is_empty());
}

proptest! {
    /// Whatever the bytes, replay answers (a result or unavailable) and never panics; a refused
    /// submission changes nothing.
    #[test]
    fn any_bytes_replay_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..400), seed in any::<u8>()) {
        let mut chain = Chain::new();
        chain.submit(OWNER, StreamDataBuilder::new(u64::MAX).write(stream(1), b"k", b"v"));
        let before = chain.index.streams.get(&stream(1)).map(|s| (s.keys.clone(), s.controls.len()));
        let sender = if seed % 2 == 0 { OWNER } else { STRANGER };
        let outcome = chain.submit_tagged(sender, vec![stream(1)], &bytes);
        if !matches!(outcome, Replay::Outcome(ReplayOutcome::Commit(_))) {
            prop_assert_eq!(chain.index.streams.get(&stream(1)).map(|s| (s.keys.clone(), s.controls.len())), before);
        }
    }
}
