//! The node's configuration: a TOML file with every option documented (see
//! [`CONFIG_TEMPLATE`]), overridden by command-line flags.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct NodeConfig {
    pub node: NodeSection,
    pub chain: ChainSection,
    pub rpc: RpcSection,
    pub metrics: MetricsSection,
    pub txpool: TxPoolSection,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// Where the database lives. Relative paths are relative to the config file.
    pub data_dir: PathBuf,
    /// Keep everything in memory; nothing survives a restart.
    pub ephemeral: bool,
    /// Milliseconds between ticks; 0 runs ticks back to back.
    pub tick_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainSection {
    /// A genesis JSON file; none uses the shipped `assets/genesis/zgnode.json` (chain id 16600).
    pub genesis: Option<PathBuf>,
    pub block_time_ms: u64,
    /// Seal blocks on schedule even when no transaction waits.
    pub seal_empty_blocks: bool,
    /// Receives gas fees of the blocks this node seals.
    pub coinbase: Address,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcSection {
    /// HTTP and WebSocket JSON-RPC, on one port.
    pub addr: SocketAddr,
    pub max_connections: u32,
    pub max_request_bytes: u32,
    pub max_response_bytes: u32,
    /// Widest block range one eth_getLogs may scan.
    pub get_logs_max_blocks: u64,
    /// Most logs one eth_getLogs may return.
    pub get_logs_max_results: usize,
    /// Most requests in one JSON-RPC batch.
    pub max_batch: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    pub enabled: bool,
    /// Prometheus scrape endpoint.
    pub addr: SocketAddr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TxPoolSection {
    pub max_size: usize,
    pub max_nonce_gap: u64,
}

impl Default for NodeSection {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("zgnode-data"), ephemeral: false, tick_ms: 5 }
    }
}

impl Default for ChainSection {
    fn default() -> Self {
        Self {
            genesis: None,
            block_time_ms: 250,
            seal_empty_blocks: true,
            coinbase: crate::dev::DEFAULT_COINBASE,
        }
    }
}

impl Default for RpcSection {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8545".parse().expect("valid literal"),
            max_connections: 1_000,
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 50 * 1024 * 1024,
            get_logs_max_blocks: 10_000,
            get_logs_max_results: 10_000,
            max_batch: 1_000,
        }
    }
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self { enabled: false, addr: "127.0.0.1:9615".parse().expect("valid literal") }
    }
}

impl Default for TxPoolSection {
    fn default() -> Self {
        Self { max_size: 100_000, max_nonce_gap: 1_024 }
    }
}


#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl NodeConfig {
    /// Reads a config file; relative paths in it are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut config = Self::from_toml(&text).map_err(|e| {
            let message = match e {
                ConfigError::Invalid(message) => message,
                other => other.to_string(),
            };
            ConfigError::Parse { path: path.display().to_string(), message }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if config.node.data_dir.is_relative() {
            config.node.data_dir = base.join(&config.node.data_dir);
        }
        if let Some(genesis) = config.chain.genesis.as_mut().filter(|g| g.is_relative()) {
            *genesis = base.join(&*genesis);
        }
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string().trim().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.chain.block_time_ms == 0 {
            return Err(ConfigError::Invalid("chain.block_time_ms must be at least 1".into()));
        }
        if self.rpc.get_logs_max_blocks == 0 {
            return Err(ConfigError::Invalid("rpc.get_logs_max_blocks must be at least 1".into()));
        }
        if self.txpool.max_size == 0 {
            return Err(ConfigError::Invalid("txpool.max_size must be at least 1".into()));
        }
        Ok(())
    }
}

/// The config `zgnode init` writes: every option, its default and what it does.
pub const CONFIG_TEMPLATE: &str = r#"# zgnode configuration. Every option is shown with its default.
# Flags given on the command line override what is here.

[node]
# Where the database lives (relative to this file).
data_dir = "data"
# Keep all state in memory; nothing survives a restart.
ephemeral = false
# Milliseconds between ticks of the ECS schedule; 0 runs ticks back to back.
tick_ms = 5

[chain]
# Genesis file (relative to this file).
genesis = "genesis.json"
# Milliseconds between blocks.
block_time_ms = 250
# Seal a block every block_time_ms even when no transaction is pending.
seal_empty_blocks = true
# Receives the gas fees of the blocks this node seals.
coinbase = "0x00000000000000000000000000000000000000c0"

[rpc]
# Ethereum JSON-RPC over HTTP and WebSocket, on one port.
addr = "127.0.0.1:8545"
max_connections = 1000
max_request_bytes = 10485760
max_response_bytes = 52428800
# Widest block range and most results one eth_getLogs may cover.
get_logs_max_blocks = 10000
get_logs_max_results = 10000
# Most requests in one JSON-RPC batch.
max_batch = 1000

[metrics]
# Prometheus metrics: tick time, per-system time, blocks, transactions.
enabled = false
addr = "127.0.0.1:9615"

[txpool]
# Most transactions waiting in the pool.
max_size = 100000
# How far ahead of its account nonce a sender may queue transactions.
max_nonce_gap = 1024
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_to_the_defaults_but_paths() {
        let config = NodeConfig::from_toml(CONFIG_TEMPLATE).expect("template parses");
        let mut expected = NodeConfig::default();
        expected.node.data_dir = "data".into();
        expected.chain.genesis = Some("genesis.json".into());
        assert_eq!(config, expected);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let error = NodeConfig::from_toml("[node]\ntick = 3\n").unwrap_err().to_string();
        assert!(error.contains("unknown field `tick`"), "{error}");
        let error = NodeConfig::from_toml("[rpc]\naddr = \"nowhere\"\n").unwrap_err().to_string();
        assert!(error.contains("invalid"), "{error}");
        let error = NodeConfig::from_toml("[chain]\nblock_time_ms = 0\n").unwrap_err().to_string();
        assert!(error.contains("block_time_ms"), "{error}");
        assert!(NodeConfig::from_toml("this is = = not toml").is_err());
    }
}
