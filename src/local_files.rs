//! Files a node's directory holds that the CLI and the network writer read and write: the
//! genesis JSON, configs, keys.

use anyhow::Context;
use std::path::Path;

use zg_components::chain::Genesis;

pub fn load_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read genesis {}", path.display()))?;
    Genesis::from_json(&text).with_context(|| format!("invalid genesis {}", path.display()))
}

/// Writes a whole file durably (temporary file, fsync, rename, folder fsync); a secret is
/// owner-only from its first byte.
pub fn write_file(path: &Path, contents: &[u8], secret: bool) -> anyhow::Result<()> {
    let mode = if secret { 0o600 } else { 0o644 };
    crate::store::durable::write_atomically(path, contents, mode).with_context(|| format!("cannot write {}", path.display()))
}
