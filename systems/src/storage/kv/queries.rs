//! What a stream holds at a version (every query sees the transactions with seq ≤ `at`): keys'
//! values, neighbours, and the access-control questions 0G's store answers.

use alloy_primitives::{Address, B256};
use std::ops::Bound;

use zg_components::storage::kv::{KvCommit, KvIndex, StreamState, ValueAt, acl};

/// A key and the version of it a query found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub key: Vec<u8>,
    pub value: ValueAt,
}

fn latest(versions: &[ValueAt], at: u64) -> Option<ValueAt> {
    let seen = versions.partition_point(|v| v.version <= at);
    seen.checked_sub(1).map(|i| versions[i])
}

/// The controls applied at or before `at`, newest first.
fn controls_at(stream: &StreamState, at: u64) -> impl Iterator<Item = &zg_components::storage::kv::AccessControl> {
    let seen = stream.controls.partition_point(|(version, _)| *version <= at);
    stream.controls[..seen].iter().rev().map(|(_, control)| control)
}

/// The newest of `ops` matching `filter` at `at`.
fn newest_op(index: &KvIndex, stream: &B256, at: u64, ops: &[u8], filter: impl Fn(&zg_components::storage::kv::AccessControl) -> bool) -> Option<u8> {
    let stream = index.streams.get(stream)?;
    controls_at(stream, at).find(|c| ops.contains(&c.op) && filter(c)).map(|c| c.op)
}

/// The version of `key` newest at `at`, 0 when it has none.
pub fn latest_version(index: &KvIndex, stream: &B256, key: &[u8], at: u64) -> u64 {
    index.streams.get(stream).and_then(|s| s.keys.get(key)).and_then(|v| latest(v, at)).map(|v| v.version).unwrap_or(0)
}

/// No access control applied to the stream yet: its first writer becomes its admin.
pub fn is_new_stream(index: &KvIndex, stream: &B256, at: u64) -> bool {
    index.streams.get(stream).is_none_or(|s| controls_at(s, at).next().is_none())
}

pub fn is_admin(index: &KvIndex, account: &Address, stream: &B256, at: u64) -> bool {
    newest_op(index, stream, at, &[acl::GRANT_ADMIN_ROLE, acl::RENOUNCE_ADMIN_ROLE], |c| c.account == account.0.0)
        == Some(acl::GRANT_ADMIN_ROLE)
}

pub fn is_special_key(index: &KvIndex, stream: &B256, key: &[u8], at: u64) -> bool {
    newest_op(index, stream, at, &[acl::SET_KEY_TO_SPECIAL, acl::SET_KEY_TO_NORMAL], |c| c.key == key) == Some(acl::SET_KEY_TO_SPECIAL)
}

pub fn is_writer_of_key(index: &KvIndex, account: &Address, stream: &B256, key: &[u8], at: u64) -> bool {
    let ops = [acl::GRANT_SPECIAL_WRITER_ROLE, acl::REVOKE_SPECIAL_WRITER_ROLE, acl::RENOUNCE_SPECIAL_WRITER_ROLE];
    newest_op(index, stream, at, &ops, |c| c.key == key && c.account == account.0.0) == Some(acl::GRANT_SPECIAL_WRITER_ROLE)
}

pub fn is_writer_of_stream(index: &KvIndex, account: &Address, stream: &B256, at: u64) -> bool {
    let ops = [acl::GRANT_WRITER_ROLE, acl::REVOKE_WRITER_ROLE, acl::RENOUNCE_WRITER_ROLE];
    newest_op(index, stream, at, &ops, |c| c.account == account.0.0) == Some(acl::GRANT_WRITER_ROLE)
}

/// Whether `account` may write some special key of the stream.
fn writes_some_special_key(index: &KvIndex, account: &Address, stream: &B256, at: u64) -> bool {
    let Some(state) = index.streams.get(stream) else { return false };
    let mut decided: Vec<&[u8]> = Vec::new();
    for control in controls_at(state, at) {
        let special_writer_op = control.op >> 4 == acl::GRANT_SPECIAL_WRITER_ROLE >> 4;
        if !special_writer_op || control.account != account.0.0 || decided.contains(&control.key.as_slice()) {
            continue;
        }
        if control.op == acl::GRANT_SPECIAL_WRITER_ROLE {
            return true;
        }
        decided.push(&control.key);
    }
    false
}

/// Whether `account` may send writes to the stream at all (0G's `can_write`).
pub fn can_write(index: &KvIndex, account: &Address, stream: &B256, at: u64) -> bool {
    is_new_stream(index, stream, at)
        || is_admin(index, account, stream, at)
        || is_writer_of_stream(index, account, stream, at)
        || writes_some_special_key(index, account, stream, at)
}

/// Whether `account` may write `key` (a special key only by its own writers).
pub fn has_write_permission(index: &KvIndex, account: &Address, stream: &B256, key: &[u8], at: u64) -> bool {
    if is_new_stream(index, stream, at) || is_admin(index, account, stream, at) {
        return true;
    }
    if is_special_key(index, stream, key, at) {
        is_writer_of_key(index, account, stream, key, at)
    } else {
        is_writer_of_stream(index, account, stream, at)
    }
}

/// `key`'s newest version at `at` (deleted or not).
pub fn value_of(index: &KvIndex, stream: &B256, key: &[u8], at: u64) -> Option<ValueAt> {
    index.streams.get(stream)?.keys.get(key).and_then(|versions| latest(versions, at))
}

/// The first key after `key` (or at it, when `inclusive`) holding a value at `at`; deleted keys
/// are passed over.
pub fn next_key(index: &KvIndex, stream: &B256, key: &[u8], inclusive: bool, at: u64) -> Option<Found> {
    let state = index.streams.get(stream)?;
    let from = if inclusive { Bound::Included(key) } else { Bound::Excluded(key) };
    state.keys.range::<[u8], _>((from, Bound::Unbounded)).find_map(|(k, versions)| live(k, versions, at))
}

/// The last key before `key` (or at it, when `inclusive`) holding a value at `at`.
pub fn prev_key(index: &KvIndex, stream: &B256, key: &[u8], inclusive: bool, at: u64) -> Option<Found> {
    let state = index.streams.get(stream)?;
    let to = if inclusive { Bound::Included(key) } else { Bound::Excluded(key) };
    state.keys.range::<[u8], _>((Bound::Unbounded, to)).rev().find_map(|(k, versions)| live(k, versions, at))
}

pub fn first_key(index: &KvIndex, stream: &B256, at: u64) -> Option<Found> {
    index.streams.get(stream)?.keys.iter().find_map(|(k, versions)| live(k, versions, at))
}

pub fn last_key(index: &KvIndex, stream: &B256, at: u64) -> Option<Found> {
    index.streams.get(stream)?.keys.iter().rev().find_map(|(k, versions)| live(k, versions, at))
}

fn live(key: &[u8], versions: &[ValueAt], at: u64) -> Option<Found> {
    latest(versions, at).filter(|v| v.len > 0).map(|value| Found { key: key.to_vec(), value })
}

/// The streams the index holds (written or controlled), ascending.
pub fn holding_streams(index: &KvIndex) -> Vec<B256> {
    let mut streams: Vec<B256> = match &index.followed {
        zg_components::storage::kv::FollowedStreams::All => index.streams.keys().copied().collect(),
        zg_components::storage::kv::FollowedStreams::Only(set) => set.iter().copied().collect(),
    };
    streams.sort();
    streams
}

/// Applies a committed transaction (its version is `seq`).
pub fn apply_commit(index: &mut KvIndex, seq: u64, commit: &KvCommit) {
    for write in &commit.writes {
        let state = index.streams.entry(B256::from(write.stream)).or_default();
        state.keys.entry(write.key.clone()).or_default().push(ValueAt { version: seq, offset: write.offset, len: write.len });
    }
    for control in &commit.controls {
        index.streams.entry(B256::from(control.stream)).or_default().controls.push((seq, control.clone()));
    }
}
