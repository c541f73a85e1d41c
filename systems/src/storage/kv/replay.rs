//! Replaying one submission against what earlier ones left, in 0G's order of checks: the sender
//! may write some tagged stream; the read set (every key at most `version`); the write set
//! (tagged streams, versions, write permission); the access-control set (tagged streams, the
//! sender's roles). Only a `Commit` changes anything.

use alloy_primitives::{Address, B256};
use std::collections::{BTreeMap, BTreeSet};

use zg_components::storage::kv::{AccessControl, KvCommit, KvIndex, KvTransaction, ReplayOutcome, StreamWrite, acl};

use super::queries::{apply_commit, can_write, has_write_permission, is_admin, is_new_stream, is_writer_of_key, is_writer_of_stream, latest_version};
use super::stream_data::{Cursor, ParseFailure, StreamBytes, Unavailable, op_operands};

/// What replaying a submission came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Untagged, or tagged with a stream this node does not follow: no result is recorded.
    NotFollowed,
    Outcome(ReplayOutcome),
}

/// Replays `tx` (whose bytes `source` reads) against `index`; Err when its bytes cannot be read
/// here yet. Changes nothing: [`apply`] records the result.
pub fn replay(tx: &KvTransaction, index: &KvIndex, source: &mut impl StreamBytes) -> Result<Replay, Unavailable> {
    if tx.stream_ids.is_empty() || !tx.stream_ids.iter().all(|stream| index.followed.follows(stream)) {
        return Ok(Replay::NotFollowed);
    }
    if !tx.stream_ids.iter().any(|stream| can_write(index, &tx.sender, stream, tx.seq)) {
        return Ok(Replay::Outcome(ReplayOutcome::SenderNoWritePermission));
    }
    let mut cursor = Cursor::new(source, tx.size);
    match replay_data(tx, index, &mut cursor) {
        Ok(outcome) => Ok(Replay::Outcome(outcome)),
        Err(ParseFailure::Invalid(error)) => Ok(Replay::Outcome(ReplayOutcome::DataParseError(error))),
        Err(ParseFailure::Unavailable(error)) => Err(error),
    }
}

/// Records a replayed submission: its commit (if any) applied, the next seq up.
pub fn apply(index: &mut KvIndex, seq: u64, replay: &Replay) {
    if let Replay::Outcome(ReplayOutcome::Commit(commit)) = replay {
        apply_commit(index, seq, commit);
    }
    index.next_seq = index.next_seq.max(seq + 1);
}

fn replay_data<S: StreamBytes>(tx: &KvTransaction, index: &KvIndex, cursor: &mut Cursor<'_, S>) -> Result<ReplayOutcome, ParseFailure> {
    let at = tx.seq;
    let version = cursor.u64("version")?;
    let reads = cursor.set_len("read set")?;
    let mut read_keys = Vec::new();
    for _ in 0..reads {
        read_keys.push((cursor.stream_id()?, cursor.key()?));
    }
    for (stream, key) in &read_keys {
        if !index.followed.follows(stream) {
            return Ok(ReplayOutcome::TagsMismatch);
        }
        if latest_version(index, stream, key, at) > version {
            return Ok(ReplayOutcome::VersionConfliction);
        }
    }

    let writes = parse_writes(cursor)?;
    let tagged: BTreeSet<B256> = tx.stream_ids.iter().copied().collect();
    for write in writes.values() {
        let stream = B256::from(write.stream);
        if !tagged.contains(&stream) {
            return Ok(ReplayOutcome::TagsMismatch);
        }
        if latest_version(index, &stream, &write.key, at) > version {
            return Ok(ReplayOutcome::VersionConfliction);
        }
        if !has_write_permission(index, &tx.sender, &stream, &write.key, at) {
            return Ok(ReplayOutcome::WritePermissionDenied { stream, key: write.key.clone() });
        }
    }

    let (controls, admin_of) = parse_controls(tx, index, cursor)?;
    for control in controls.values() {
        let stream = B256::from(control.stream);
        if !tagged.contains(&stream) {
            return Ok(ReplayOutcome::TagsMismatch);
        }
        let allowed = match control.op {
            acl::GRANT_ADMIN_ROLE | acl::SET_KEY_TO_NORMAL | acl::SET_KEY_TO_SPECIAL | acl::REVOKE_WRITER_ROLE | acl::REVOKE_SPECIAL_WRITER_ROLE => {
                admin_of.contains(&stream)
            }
            acl::GRANT_WRITER_ROLE => admin_of.contains(&stream) || is_writer_of_stream(index, &tx.sender, &stream, at),
            acl::GRANT_SPECIAL_WRITER_ROLE => admin_of.contains(&stream) || is_writer_of_key(index, &tx.sender, &stream, &control.key, at),
            _ => true,
        };
        if !allowed {
            return Ok(ReplayOutcome::AccessControlPermissionDenied {
                op: control.op,
                stream,
                key: control.key.clone(),
                account: Address::from(control.account),
            });
        }
    }
    Ok(ReplayOutcome::Commit(KvCommit { writes: writes.into_values().collect(), controls: controls.into_values().collect() }))
}

/// The write set: each key's last write in the set, with where its value lies in the file.
fn parse_writes<S: StreamBytes>(cursor: &mut Cursor<'_, S>) -> Result<BTreeMap<(B256, Vec<u8>), StreamWrite>, ParseFailure> {
    let count = cursor.set_len("write set")?;
    let mut metadata = Vec::new();
    for _ in 0..count {
        let stream = cursor.stream_id()?;
        let key = cursor.key()?;
        let len = cursor.u64("value length")?;
        metadata.push((stream, key, len));
    }
    let mut offset = cursor.position;
    let mut writes = BTreeMap::new();
    for (stream, key, len) in metadata {
        let end = offset.checked_add(len).ok_or_else(|| ParseFailure::Invalid("value lengths overflow".into()))?;
        writes.insert((stream, key.clone()), StreamWrite { stream: stream.0, key, offset, len });
        offset = end;
    }
    cursor.skip(offset - cursor.position, "values")?;
    Ok(writes)
}

type Controls = BTreeMap<(u8, B256, Vec<u8>, Address), AccessControl>;

/// The access-control set, one operation per (category, stream, key, account) (the last), with
/// the admin grant a new stream's first writer receives; and the tagged streams the sender
/// administers.
fn parse_controls<S: StreamBytes>(tx: &KvTransaction, index: &KvIndex, cursor: &mut Cursor<'_, S>) -> Result<(Controls, BTreeSet<B256>), ParseFailure> {
    let at = tx.seq;
    let sender = tx.sender;
    let mut controls = Controls::new();
    let mut admin_of = BTreeSet::new();
    for stream in &tx.stream_ids {
        if is_new_stream(index, stream, at) {
            let grant = AccessControl { op: acl::GRANT_ADMIN_ROLE, stream: stream.0, key: Vec::new(), account: sender.0.0, operator: [0; 20] };
            controls.insert((acl::GRANT_ADMIN_ROLE, *stream, Vec::new(), sender), grant);
            admin_of.insert(*stream);
        } else if is_admin(index, &sender, stream, at) {
            admin_of.insert(*stream);
        }
    }
    let count = cursor.set_len("access-control set")?;
    for _ in 0..count {
        let op = cursor.op()?;
        let stream = cursor.stream_id()?;
        let Some((has_key, has_account)) = op_operands(op) else {
            return Err(ParseFailure::Invalid(format!("unknown access-control op {op:#04x}")));
        };
        let key = if has_key { cursor.key()? } else { Vec::new() };
        let renounces = matches!(op, acl::RENOUNCE_ADMIN_ROLE | acl::RENOUNCE_WRITER_ROLE | acl::RENOUNCE_SPECIAL_WRITER_ROLE);
        let account = if has_account {
            cursor.address()?
        } else if renounces {
            sender
        } else {
            Address::ZERO
        };
        let meta = (op & 0xf0, stream, key.clone(), account);
        if op != acl::GRANT_ADMIN_ROLE || (!controls.contains_key(&meta) && account != sender) {
            controls.insert(meta, AccessControl { op, stream: stream.0, key, account: account.0.0, operator: sender.0.0 });
        }
    }
    Ok((controls, admin_of))
}
