//! 0G's key-value layer (`0g-storage-kv`) as data: a stream write is an ordinary Flow submission
//! tagged `sha256("STREAM")` + stream ids whose bytes are a `StreamData`; replaying submissions in
//! order gives every stream its keys (each version a byte range of the file that wrote it) and its
//! access control (`../shared/0g/storage-today.md`, "KV layer").

use alloy_primitives::{Address, B256, b256};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `sha256("STREAM")`: the first 32 bytes of a KV submission's tags.
pub const STREAM_DOMAIN: B256 = b256!("df2ff3bb0af36c6384e6206552a4ed807f6f6a26e7d0aa6bff772ddc9d4307aa");

/// Access-control operation codes (the high nibble is the category: admin, special key, writer,
/// special writer).
pub mod acl {
    pub const GRANT_ADMIN_ROLE: u8 = 0x00;
    pub const RENOUNCE_ADMIN_ROLE: u8 = 0x01;
    pub const SET_KEY_TO_SPECIAL: u8 = 0x10;
    pub const SET_KEY_TO_NORMAL: u8 = 0x11;
    pub const GRANT_WRITER_ROLE: u8 = 0x20;
    pub const REVOKE_WRITER_ROLE: u8 = 0x21;
    pub const RENOUNCE_WRITER_ROLE: u8 = 0x22;
    pub const GRANT_SPECIAL_WRITER_ROLE: u8 = 0x30;
    pub const REVOKE_SPECIAL_WRITER_ROLE: u8 = 0x31;
    pub const RENOUNCE_SPECIAL_WRITER_ROLE: u8 = 0x32;

    /// The name 0G's node prints in a transaction result.
    pub fn name(op: u8) -> &'static str {
        match op {
            GRANT_ADMIN_ROLE => "GRANT_ADMIN_ROLE",
            RENOUNCE_ADMIN_ROLE => "RENOUNCE_ADMIN_ROLE",
            SET_KEY_TO_SPECIAL => "SET_KEY_TO_SPECIAL",
            SET_KEY_TO_NORMAL => "SET_KEY_TO_NORMAL",
            GRANT_WRITER_ROLE => "GRANT_WRITER_ROLE",
            REVOKE_WRITER_ROLE => "REVOKE_WRITER_ROLE",
            RENOUNCE_WRITER_ROLE => "RENOUNCE_WRITER_ROLE",
            GRANT_SPECIAL_WRITER_ROLE => "GRANT_SPECIAL_WRITER_ROLE",
            REVOKE_SPECIAL_WRITER_ROLE => "REVOKE_SPECIAL_WRITER_ROLE",
            RENOUNCE_SPECIAL_WRITER_ROLE => "RENOUNCE_SPECIAL_WRITER_ROLE",
            _ => "UNKNOWN",
        }
    }
}

/// A Flow submission as the KV layer replays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvTransaction {
    pub seq: u64,
    pub stream_ids: Vec<B256>,
    /// `tx.from` of the submitting transaction.
    pub sender: Address,
    /// The file's exact size in bytes.
    pub size: u64,
}

/// One version of a key: bytes `[offset, offset + len)` of the file submitted at `version` (its
/// tx seq). An empty range is a deleted key.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueAt {
    pub version: u64,
    pub offset: u64,
    pub len: u64,
}

/// A key written by a committed transaction.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct StreamWrite {
    pub stream: [u8; 32],
    pub key: Vec<u8>,
    pub offset: u64,
    pub len: u64,
}

/// An access-control operation a committed transaction applied.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct AccessControl {
    pub op: u8,
    pub stream: [u8; 32],
    /// Empty for operations on accounts only.
    pub key: Vec<u8>,
    /// Zero for operations on keys only.
    pub account: [u8; 20],
    /// Who sent it (zero for the admin grant a new stream's first writer receives).
    pub operator: [u8; 20],
}

/// What a committed transaction changes; its version is its tx seq.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct KvCommit {
    pub writes: Vec<StreamWrite>,
    pub controls: Vec<AccessControl>,
}

/// How replaying one transaction ended (0G's `ReplayResult`; its text is what
/// `kv_getTransactionResult` answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayOutcome {
    Commit(KvCommit),
    DataParseError(String),
    VersionConfliction,
    TagsMismatch,
    SenderNoWritePermission,
    WritePermissionDenied { stream: B256, key: Vec<u8> },
    AccessControlPermissionDenied { op: u8, stream: B256, key: Vec<u8>, account: Address },
    DataUnavailable,
}

/// A key as 0G's results print it: "NONE" when empty, at most 32 characters, "UNKNOWN" when not
/// UTF-8.
fn printed_key(key: &[u8]) -> String {
    if key.is_empty() {
        return "NONE".to_owned();
    }
    match std::str::from_utf8(key) {
        Ok(text) => text.chars().take(32).collect(),
        Err(_) => "UNKNOWN".to_owned(),
    }
}

impl std::fmt::Display for ReplayOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayOutcome::Commit(_) => write!(f, "Commit"),
            ReplayOutcome::DataParseError(error) => write!(f, "DataParseError: {error}"),
            ReplayOutcome::VersionConfliction => write!(f, "VersionConfliction"),
            ReplayOutcome::TagsMismatch => write!(f, "TagsMismatch"),
            ReplayOutcome::SenderNoWritePermission => write!(f, "SenderNoWritePermission"),
            ReplayOutcome::WritePermissionDenied { stream, key } => {
                write!(f, "WritePermissionDenied: stream: {stream:?}, key: {}", printed_key(key))
            }
            ReplayOutcome::AccessControlPermissionDenied { op, stream, key, account } => write!(
                f,
                "AccessControlPermissionDenied: operation: {}, stream: {stream:?}, key: {}, account: {account:#x}",
                acl::name(*op),
                printed_key(key)
            ),
            ReplayOutcome::DataUnavailable => write!(f, "DataUnavailable"),
        }
    }
}

/// One stream as replayed so far.
#[derive(Clone, Debug, Default)]
pub struct StreamState {
    /// Every key's versions, oldest first.
    pub keys: BTreeMap<Vec<u8>, Vec<ValueAt>>,
    /// Access-control operations with the version that applied them, oldest first.
    pub controls: Vec<(u64, AccessControl)>,
}

/// Which streams a node replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowedStreams {
    All,
    Only(BTreeSet<B256>),
}

impl FollowedStreams {
    pub fn follows(&self, stream: &B256) -> bool {
        match self {
            FollowedStreams::All => true,
            FollowedStreams::Only(set) => set.contains(stream),
        }
    }
}

/// Every stream a node replayed, and how far.
#[derive(Clone, Debug)]
pub struct KvIndex {
    pub streams: HashMap<B256, StreamState>,
    pub followed: FollowedStreams,
    /// The next tx seq to replay (every earlier one is applied, refused or not a KV write).
    pub next_seq: u64,
}

impl KvIndex {
    pub fn new(followed: FollowedStreams) -> Self {
        Self { streams: HashMap::new(), followed, next_seq: 0 }
    }
}
