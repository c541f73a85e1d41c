//! The durable "last signed" record beside a validator key (CometBFT's `priv_validator_state`):
//! `<key file>.signed` holds the height, round and step of the last signature and a hash of the
//! bytes signed. It is written (temporary file, fsync, rename, directory fsync) before a
//! signature leaves the engine, so a node whose data dir was wiped or restored from a backup
//! cannot sign a second, different vote for a step it already signed.

use alloy_primitives::{B256, keccak256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zg_systems::consensus::engine::{SignGuard, SignRefusal, SignStep};

#[derive(Debug, thiserror::Error)]
pub enum SignGuardError {
    #[error("cannot read the signing record {path}: {message}")]
    Read { path: String, message: String },
    #[error(
        "the signing record {path} is damaged ({message}); it guards against double signing, so the node will not start. \
         Restore it, or remove it only if this key has signed nothing at or above the chain's current height"
    )]
    Damaged { path: String, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LastSigned {
    height: u64,
    round: u32,
    step: u8,
    bytes: B256,
}

impl LastSigned {
    fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [height, round, step, bytes] = fields.as_slice() else {
            return Err(format!("expected 4 fields, found {}", fields.len()));
        };
        let step: u8 = step.parse().map_err(|e| format!("step: {e}"))?;
        if !(1..=3).contains(&step) {
            return Err(format!("step {step} is not 1, 2 or 3"));
        }
        Ok(Self {
            height: height.parse().map_err(|e| format!("height: {e}"))?,
            round: round.parse().map_err(|e| format!("round: {e}"))?,
            step,
            bytes: bytes.parse().map_err(|e| format!("hash: {e}"))?,
        })
    }

    fn render(&self) -> String {
        format!("{} {} {} {:#x}\n", self.height, self.round, self.step, self.bytes)
    }
}

/// The file-backed guard.
pub struct FileSignGuard {
    path: PathBuf,
    last: Mutex<Option<LastSigned>>,
}

impl FileSignGuard {
    /// Opens the record (none yet is fine: nothing was signed with this key here).
    pub fn open(path: &Path) -> Result<Self, SignGuardError> {
        let last = match std::fs::read_to_string(path) {
            Ok(text) => Some(
                LastSigned::parse(&text).map_err(|message| SignGuardError::Damaged { path: path.display().to_string(), message })?,
            ),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(SignGuardError::Read { path: path.display().to_string(), message: error.to_string() }),
        };
        Ok(Self { path: path.to_path_buf(), last: Mutex::new(last) })
    }

    /// Where the record for a key file lives.
    pub fn path_for(key_file: &Path) -> PathBuf {
        let mut name = key_file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".signed");
        key_file.with_file_name(name)
    }

    fn persist(&self, record: &LastSigned) -> std::io::Result<()> {
        crate::store::durable::write_atomically(&self.path, record.render().as_bytes(), 0o600)
    }
}

impl SignGuard for FileSignGuard {
    fn permit(&self, height: u64, round: u32, step: SignStep, sign_bytes: &[u8]) -> Result<(), SignRefusal> {
        let next = LastSigned { height, round, step: step as u8, bytes: keccak256(sign_bytes) };
        let mut last = self.last.lock().map_err(|_| SignRefusal::Poisoned)?;
        if let Some(previous) = *last {
            let order = (next.height, next.round, next.step).cmp(&(previous.height, previous.round, previous.step));
            match order {
                std::cmp::Ordering::Less => {
                    return Err(SignRefusal::EarlierStep {
                        signed_height: previous.height,
                        signed_round: previous.round,
                        signed_step: previous.step,
                        height,
                        round,
                        step: next.step,
                    });
                }
                std::cmp::Ordering::Equal if previous.bytes == next.bytes => return Ok(()),
                std::cmp::Ordering::Equal => {
                    return Err(SignRefusal::OtherBytes { height, round, step: next.step });
                }
                std::cmp::Ordering::Greater => {}
            }
        }
        self.persist(&next).map_err(|e| {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the signing record");
            SignRefusal::Record(std::sync::Arc::new(e))
        })?;
        *last = Some(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_later_steps_or_the_same_bytes_are_signed_and_it_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = FileSignGuard::path_for(&dir.path().join("node_key"));
        assert!(path.ends_with("node_key.signed"));
        let guard = FileSignGuard::open(&path).unwrap();
        guard.permit(5, 0, SignStep::Prevote, b"a").unwrap();
        guard.permit(5, 0, SignStep::Prevote, b"a").expect("the same vote again");
        assert!(guard.permit(5, 0, SignStep::Prevote, b"b").is_err(), "another vote for the same step");
        guard.permit(5, 0, SignStep::Precommit, b"c").unwrap();
        assert!(guard.permit(5, 0, SignStep::Prevote, b"a").is_err(), "an earlier step");
        drop(guard);
        // The data dir's WAL is gone; the record is not.
        let reopened = FileSignGuard::open(&path).unwrap();
        assert!(reopened.permit(5, 0, SignStep::Precommit, b"d").is_err(), "a different precommit after restart");
        assert!(reopened.permit(4, 9, SignStep::Proposal, b"e").is_err(), "a lower height");
        reopened.permit(5, 0, SignStep::Precommit, b"c").expect("the same precommit");
        reopened.permit(5, 1, SignStep::Proposal, b"f").unwrap();
        reopened.permit(6, 0, SignStep::Prevote, b"g").unwrap();
    }

    #[test]
    fn a_damaged_record_stops_the_node_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node_key.signed");
        for text in ["", "5 0", "5 0 9 0x00", "x 0 1 0x00", "5 0 1 nothex"] {
            std::fs::write(&path, text).unwrap();
            let error = FileSignGuard::open(&path).err().expect(text).to_string();
            assert!(error.contains("damaged") && error.contains("double signing"), "{error}");
        }
    }
}
