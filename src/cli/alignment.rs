//! `zgnode alignment --config F`: an alignment node's auditor against a node's JSON-RPC, and
//! `zgnode dev`'s built-in one (licence 6, held and operated by dev account 5).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use zg_components::alignment::AuditQuota;

use crate::alignment::auditor::{self, AuditorSettings};

/// The auditor's file: what it watches, who it is, how much it checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignmentFile {
    /// The node's Ethereum JSON-RPC (chain, `da_sample`, reports).
    pub rpc_url: String,
    /// The storage node (and indexer) asked which nodes hold a file; each is asked for the
    /// audited segment. None: no storage audits.
    #[serde(default)]
    pub storage_url: Option<String>,
    /// The operator's key (0x…): bonds, reports.
    pub operator_key: String,
    /// The licences it reports for (token ids).
    pub licences: Vec<u64>,
    /// The licence holder's key, when the holder runs its own auditor (names the operator).
    #[serde(default)]
    pub holder_key: Option<String>,
    #[serde(default = "default_segments")]
    pub storage_segments_per_epoch: usize,
    #[serde(default = "default_blobs")]
    pub da_blobs_per_epoch: usize,
    #[serde(default = "default_samples")]
    pub da_samples: usize,
    /// Verifiable providers asked for a result each epoch (paid from a deposit the auditor tops up).
    #[serde(default = "default_verified")]
    pub verified_requests_per_epoch: usize,
    /// Chat providers (on a model this node can re-run) asked and re-run each epoch (paid from a
    /// ledger the auditor opens with 3 0G and 1 0G per provider).
    #[serde(default = "default_chat")]
    pub chat_records_per_epoch: usize,
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
}

fn default_segments() -> usize {
    crate::alignment::DEFAULT_QUOTA.storage_segments
}
fn default_blobs() -> usize {
    crate::alignment::DEFAULT_QUOTA.da_blobs
}
fn default_chat() -> usize {
    crate::alignment::DEFAULT_QUOTA.chat_records
}
fn default_verified() -> usize {
    crate::alignment::DEFAULT_QUOTA.verified_requests
}
fn default_samples() -> usize {
    crate::alignment::DEFAULT_DA_SAMPLES
}
fn default_poll() -> u64 {
    crate::alignment::DEFAULT_POLL.as_millis() as u64
}

impl AlignmentFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid alignment config", path.display()))
    }

    pub fn settings(&self) -> anyhow::Result<AuditorSettings> {
        anyhow::ensure!(!self.licences.is_empty(), "licences: name at least one licence (token id)");
        anyhow::ensure!(self.poll_ms > 0 && self.poll_ms <= 60_000, "poll_ms must be 1..=60000");
        anyhow::ensure!(self.da_samples > 0 && self.da_samples <= 256, "da_samples must be 1..=256");
        anyhow::ensure!(
            self.storage_segments_per_epoch <= 1_000 && self.da_blobs_per_epoch <= 100 && self.verified_requests_per_epoch <= 100
                && self.chat_records_per_epoch <= 100,
            "too many audits per epoch (at most 1,000 segments, 100 blobs, 100 verifiable requests and 100 chat records)"
        );
        let key = |text: &str, what: &str| text.parse::<alloy_signer_local::PrivateKeySigner>().map_err(|e| anyhow::anyhow!("{what}: not a private key ({e})"));
        Ok(AuditorSettings {
            rpc_url: self.rpc_url.clone(),
            storage_url: self.storage_url.clone(),
            operator_key: key(&self.operator_key, "operator_key")?,
            licences: self.licences.clone(),
            holder_key: self.holder_key.as_deref().map(|k| key(k, "holder_key")).transpose()?,
            quota: AuditQuota {
                storage_segments: self.storage_segments_per_epoch,
                da_blobs: self.da_blobs_per_epoch,
                verified_requests: self.verified_requests_per_epoch,
                chat_records: self.chat_records_per_epoch,
            },
            da_samples: self.da_samples,
            poll: Duration::from_millis(self.poll_ms),
        })
    }
}

pub(super) async fn alignment(args: super::AlignmentArgs) -> anyhow::Result<()> {
    let settings = AlignmentFile::load(&args.config)?.settings()?;
    println!("Alignment auditor for licences {:?}, operator {}, chain {}", settings.licences, settings.operator_key.address(), settings.rpc_url);
    let running = auditor::start(settings, tokio::runtime::Handle::current())?;
    let mut last = running.stats();
    loop {
        tokio::select! {
            _ = super::serve::shutdown_signal() => break,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        let now = running.stats();
        if now != last {
            println!(
                "epochs {} · checks {} ({} failed) · accusations {} ({} upheld) · reports {} · {} bytes fetched · report gas {}",
                now.epochs_opened, now.checks, now.failed, now.accusations, now.upheld, now.reports_sent, now.bytes_fetched, now.report_gas
            );
            if now.last_failure != last.last_failure && let Some(failure) = &now.last_failure {
                println!("  last failure: {failure}");
            }
            last = now;
        }
    }
    tokio::task::spawn_blocking(move || running.stop()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<AuditorSettings> {
        toml::from_str::<AlignmentFile>(text).map_err(anyhow::Error::from)?.settings()
    }

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn a_good_file_parses_and_bad_ones_are_clear_errors() {
        let ok = parse(&format!("rpc_url = \"http://127.0.0.1:8545\"\noperator_key = \"{KEY}\"\nlicences = [1, 2]\n")).unwrap();
        assert_eq!(ok.licences, vec![1, 2]);
        assert_eq!(ok.quota.storage_segments, 8);
        let err = |text: String| format!("{:#}", parse(&text).unwrap_err());
        assert!(err(format!("rpc_url = \"x\"\noperator_key = \"{KEY}\"\nlicences = []\n")).contains("at least one licence"));
        assert!(err(format!("rpc_url = \"x\"\noperator_key = \"{KEY}\"\nlicences = [1]\nchat_records_per_epoch = 101\n")).contains("too many audits"));
        assert!(err(format!("rpc_url = \"x\"\noperator_key = \"{KEY}\"\nlicences = [1]\nverified_requests_per_epoch = 101\n")).contains("too many audits"));
        assert!(err("rpc_url = \"x\"\noperator_key = \"nope\"\nlicences = [1]\n".into()).contains("operator_key: not a private key"));
        assert!(err(format!("rpc_url = \"x\"\noperator_key = \"{KEY}\"\nlicences = [1]\nsurprise = 1\n")).contains("unknown field"));
        assert!(err(format!("rpc_url = \"x\"\noperator_key = \"{KEY}\"\nlicences = [1]\nda_samples = 0\n")).contains("da_samples"));
        assert!(err(format!("rpc_url = \"x\"\noperator_key = \"{KEY}\"\nlicences = [-1]\n")).contains("licences"));
    }
}
