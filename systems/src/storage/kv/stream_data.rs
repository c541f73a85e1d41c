//! The `StreamData` wire format (big-endian): version u64 · read set (count u32; stream id, key
//! length u24, key) · write set (count u32; stream id, key length u24, key, value length u64; then
//! every value's bytes) · access-control set (count u32; op u8, stream id, then a key and/or an
//! address as the op needs). Sets hold at most 65,536 entries; keys are never empty.

use alloy_primitives::{Address, B256};
use zg_components::storage::kv::acl;

/// Most entries a set may hold.
pub const MAX_SET_ENTRIES: u32 = 65_536;
/// Longest key a u24 length can state.
pub const MAX_KEY_BYTES: usize = (1 << 24) - 1;

/// The file's bytes were not all readable here (yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stream data unavailable: {0}")]
pub struct Unavailable(pub String);

/// Where a submission's bytes are read from: `read` is asked only for ranges inside the file.
pub trait StreamBytes {
    fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, Unavailable>;
}

impl StreamBytes for &[u8] {
    fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, Unavailable> {
        let range = usize::try_from(offset).ok().zip(usize::try_from(offset + len).ok());
        range.and_then(|(from, to)| self.get(from..to)).map(<[u8]>::to_vec).ok_or_else(|| Unavailable("range outside the bytes".into()))
    }
}

/// Why the bytes are not a `StreamData` (a `DataParseError` result), or that they could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ParseFailure {
    Invalid(String),
    Unavailable(Unavailable),
}

impl From<Unavailable> for ParseFailure {
    fn from(error: Unavailable) -> Self {
        ParseFailure::Unavailable(error)
    }
}

/// Reads a file front to back without ever asking past its end.
pub(super) struct Cursor<'a, S: StreamBytes> {
    source: &'a mut S,
    pub position: u64,
    size: u64,
}

impl<'a, S: StreamBytes> Cursor<'a, S> {
    pub fn new(source: &'a mut S, size: u64) -> Self {
        Self { source, position: 0, size }
    }

    pub fn take(&mut self, len: u64, what: &str) -> Result<Vec<u8>, ParseFailure> {
        if len > self.size - self.position {
            return Err(ParseFailure::Invalid(format!("{what} runs past the end of the data ({len} bytes at {} of {})", self.position, self.size)));
        }
        let bytes = self.source.read(self.position, len)?;
        self.position += len;
        Ok(bytes)
    }

    pub fn skip(&mut self, len: u64, what: &str) -> Result<(), ParseFailure> {
        if len > self.size - self.position {
            return Err(ParseFailure::Invalid(format!("{what} runs past the end of the data ({len} bytes at {} of {})", self.position, self.size)));
        }
        self.position += len;
        Ok(())
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, ParseFailure> {
        let bytes = self.take(8, what)?;
        Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| ParseFailure::Invalid(format!("{what}: short read")))?))
    }

    pub fn set_len(&mut self, what: &str) -> Result<u32, ParseFailure> {
        let bytes = self.take(4, what)?;
        let len = u32::from_be_bytes(bytes.try_into().map_err(|_| ParseFailure::Invalid(format!("{what}: short read")))?);
        if len > MAX_SET_ENTRIES {
            return Err(ParseFailure::Invalid(format!("{what} holds {len} entries, more than {MAX_SET_ENTRIES}")));
        }
        Ok(len)
    }

    pub fn stream_id(&mut self) -> Result<B256, ParseFailure> {
        Ok(B256::from_slice(&self.take(32, "stream id")?))
    }

    pub fn address(&mut self) -> Result<Address, ParseFailure> {
        Ok(Address::from_slice(&self.take(20, "address")?))
    }

    pub fn key(&mut self) -> Result<Vec<u8>, ParseFailure> {
        let length = self.take(3, "key length")?;
        let len = u64::from(length[0]) << 16 | u64::from(length[1]) << 8 | u64::from(length[2]);
        if len == 0 {
            return Err(ParseFailure::Invalid("empty key".into()));
        }
        self.take(len, "key")
    }

    pub fn op(&mut self) -> Result<u8, ParseFailure> {
        Ok(self.take(1, "access-control op")?[0])
    }
}

/// An access-control entry to encode: (op, stream, key, account), each written where present.
pub type Control = (u8, B256, Option<Vec<u8>>, Option<Address>);

/// Builds `StreamData` bytes (what the SDKs' batchers send): for tests, benches and tools.
#[derive(Clone, Debug, Default)]
pub struct StreamDataBuilder {
    pub version: u64,
    pub reads: Vec<(B256, Vec<u8>)>,
    pub writes: Vec<(B256, Vec<u8>, Vec<u8>)>,
    pub controls: Vec<Control>,
}

impl StreamDataBuilder {
    pub fn new(version: u64) -> Self {
        Self { version, ..Self::default() }
    }

    pub fn read(mut self, stream: B256, key: &[u8]) -> Self {
        self.reads.push((stream, key.to_vec()));
        self
    }

    pub fn write(mut self, stream: B256, key: &[u8], value: &[u8]) -> Self {
        self.writes.push((stream, key.to_vec(), value.to_vec()));
        self
    }

    pub fn control(mut self, op: u8, stream: B256, key: Option<&[u8]>, account: Option<Address>) -> Self {
        self.controls.push((op, stream, key.map(<[u8]>::to_vec), account));
        self
    }

    /// The streams it touches, in first-use order (what its tags list).
    pub fn streams(&self) -> Vec<B256> {
        let mut out: Vec<B256> = Vec::new();
        let all = self.writes.iter().map(|w| w.0).chain(self.controls.iter().map(|c| c.1)).chain(self.reads.iter().map(|r| r.0));
        for stream in all {
            if !out.contains(&stream) {
                out.push(stream);
            }
        }
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        fn key(out: &mut Vec<u8>, key: &[u8]) {
            out.extend_from_slice(&(key.len() as u32).to_be_bytes()[1..]);
            out.extend_from_slice(key);
        }
        let mut out = self.version.to_be_bytes().to_vec();
        out.extend_from_slice(&(self.reads.len() as u32).to_be_bytes());
        for (stream, k) in &self.reads {
            out.extend_from_slice(stream.as_slice());
            key(&mut out, k);
        }
        out.extend_from_slice(&(self.writes.len() as u32).to_be_bytes());
        for (stream, k, value) in &self.writes {
            out.extend_from_slice(stream.as_slice());
            key(&mut out, k);
            out.extend_from_slice(&(value.len() as u64).to_be_bytes());
        }
        for (_, _, value) in &self.writes {
            out.extend_from_slice(value);
        }
        out.extend_from_slice(&(self.controls.len() as u32).to_be_bytes());
        for (op, stream, k, account) in &self.controls {
            out.push(*op);
            out.extend_from_slice(stream.as_slice());
            if let Some(k) = k {
                key(&mut out, k);
            }
            if let Some(account) = account {
                out.extend_from_slice(account.as_slice());
            }
        }
        out
    }
}

/// Whether an op names a key, an account, both (what the parser reads after its stream id);
/// renounce ops name the sender implicitly.
pub(super) fn op_operands(op: u8) -> Option<(bool, bool)> {
    use acl::*;
    match op {
        GRANT_ADMIN_ROLE | GRANT_WRITER_ROLE | REVOKE_WRITER_ROLE => Some((false, true)),
        SET_KEY_TO_NORMAL | SET_KEY_TO_SPECIAL => Some((true, false)),
        GRANT_SPECIAL_WRITER_ROLE | REVOKE_SPECIAL_WRITER_ROLE => Some((true, true)),
        RENOUNCE_ADMIN_ROLE | RENOUNCE_WRITER_ROLE => Some((false, false)),
        RENOUNCE_SPECIAL_WRITER_ROLE => Some((true, false)),
        _ => None,
    }
}
