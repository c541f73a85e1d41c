//! The node's configuration: a TOML file with every option documented (see
//! [`CONFIG_TEMPLATE`]), overridden by command-line flags.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::peer_address::PeerAddress;

/// Where block fees go unless `chain.coinbase` says otherwise.
pub const DEFAULT_COINBASE: Address = alloy_primitives::address!("0x00000000000000000000000000000000000000c0");

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct NodeConfig {
    pub node: NodeSection,
    pub chain: ChainSection,
    pub rpc: RpcSection,
    pub metrics: MetricsSection,
    pub txpool: TxPoolSection,
    pub network: NetworkSection,
    pub consensus: ConsensusSection,
    pub storage: StorageSection,
    pub da: DaSection,
    pub gpu: GpuSection,
}

/// Whether and how the node uses a CUDA GPU (see `crate::gpu`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuSection {
    pub enabled: bool,
    pub device: usize,
    /// Erasure-coding batches below this many KiB stay on the CPU.
    pub min_erasure_kib: usize,
    /// Built-in LLM weight matrices below this many elements stay on the CPU.
    pub min_matrix_elements: usize,
    /// One erasure batch in this many coded on the GPU is coded again on the CPU and compared
    /// (besides the first of every shape); a difference retires the GPU. At least 1.
    pub spot_check_every: u64,
}

impl Default for GpuSection {
    fn default() -> Self {
        Self { enabled: true, device: 0, min_erasure_kib: 4096, min_matrix_elements: 1 << 20, spot_check_every: 64 }
    }
}

/// The DA node role (needs the DA entrance in the genesis): keeps and attests pieces, serves
/// `da_*` on the JSON-RPC port and, with a disperser account, accepts blobs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaSection {
    pub enabled: bool,
    /// 0G's disperser gRPC service (DisperseBlob, GetBlobStatus, RetrieveBlob); None: off.
    pub grpc_addr: Option<SocketAddr>,
    /// Pays blob fees and submits attestations (hex private key). None: accept no blobs.
    pub disperser_key: Option<String>,
    /// Sends this node's sampling responses and receives their rewards (hex private key; the
    /// responses are signed with the node's DA key). None: the disperser key's account.
    pub sampler_key: Option<String>,
    /// A dispersal gives up collecting attestations after this many seconds.
    pub attest_timeout_secs: u64,
    /// Serve paid writes (da_submitBlob, DisperseBlob: fees from disperser_key) on listeners
    /// that are not loopback. Off: only callers on this machine can spend the account.
    pub public_submissions: bool,
    /// Dispersals running at once; more submissions are refused as busy until one ends.
    pub max_concurrent_dispersals: usize,
    /// Keys that open paid writes on any listener (JSON-RPC: da_submitBlob's second parameter;
    /// gRPC: the `x-api-key` metadata); each key is a client with its own quota.
    pub api_keys: Vec<String>,
    /// Blobs one client (a key, or the open listeners together) may submit an hour.
    pub blobs_per_client_hour: usize,
}

impl Default for DaSection {
    fn default() -> Self {
        Self { enabled: true, grpc_addr: None, disperser_key: None, sampler_key: None, attest_timeout_secs: 120, public_submissions: false, max_concurrent_dispersals: 4, api_keys: Vec::new(), blobs_per_client_hour: 600 }
    }
}

/// The storage node role: 0G's storage JSON-RPC (needs the Flow contract in the genesis).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    pub enabled: bool,
    pub addr: SocketAddr,
    /// Largest request (and response): an upload call carries whole 256 KiB segments.
    pub max_request_bytes: u32,
    pub max_connections: u32,
    /// Answer PoRA challenges with this account (hex private key); it stakes the minimum
    /// storage stake on first start. None: do not mine.
    pub miner_key: Option<String>,
    /// Erasure-code each uploaded segment into this many data + parity shards placed on the
    /// validator network's members (this node and `network.peers`); 0 turns it off.
    pub erasure_data_shards: usize,
    pub erasure_parity_shards: usize,
    /// Segments rebuilt from shards for downloads are kept in memory up to this many MiB, so a
    /// popular file is not rebuilt (and its shards fetched) on every read. 0: no cache.
    pub rebuilt_cache_mib: usize,
    /// The other storage nodes (their `zgs_*` URLs) this node's indexer lists beside itself:
    /// 0G's clients given this node as `--indexer` then upload to and download from them too.
    pub indexer_nodes: Vec<String>,
    /// The KV streams (32-byte hex ids) replayed and served as `kv_*`; empty: every stream.
    pub kv_streams: Vec<String>,
    /// Fault drills only: serve every segment with its first byte flipped (signed, when mining),
    /// so alignment audits and their penalty run end to end. Never set on a real node.
    pub fault_drill_corrupt_segments: bool,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            enabled: false, addr: "127.0.0.1:5678".parse().expect("valid literal"), max_request_bytes: 64 * 1024 * 1024, max_connections: 1_000,
            miner_key: None, erasure_data_shards: 0, erasure_parity_shards: 0, rebuilt_cache_mib: 64, indexer_nodes: Vec::new(),
            kv_streams: Vec::new(), fault_drill_corrupt_segments: false,
        }
    }
}

/// Most storage nodes an indexer lists beside itself (each is asked about a file's location).
pub const MAX_INDEXER_NODES: usize = 64;

/// Most KV streams a node may be configured to follow (empty follows every stream).
pub const MAX_KV_STREAMS: usize = 4096;

/// The validator network (used when the genesis has a staking contract and consensus params).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    /// QUIC listen address.
    pub listen: SocketAddr,
    /// Peers to dial, as "<64-hex ed25519 key>@<ip:port>".
    pub peers: Vec<String>,
    /// The node's ed25519 identity (hex seed); created on first start. Default: <data_dir>/node_key.
    pub key_file: Option<PathBuf>,
    /// Test networks only: serve `zgnode_setNetFaults` on the JSON-RPC port, which cuts links and
    /// delays frames (the fault campaign's transport faults). Never on a real node.
    pub fault_injection: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusSection {
    /// How long a round waits for the proposal, then for prevotes and precommits (round 0;
    /// each later round adds half as much again).
    pub timeout_propose_ms: u64,
    pub timeout_prevote_ms: u64,
    pub timeout_precommit_ms: u64,
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self { listen: "127.0.0.1:30300".parse().expect("valid literal"), peers: Vec::new(), key_file: None, fault_injection: false }
    }
}

impl Default for ConsensusSection {
    fn default() -> Self {
        Self { timeout_propose_ms: 1_500, timeout_prevote_ms: 500, timeout_precommit_ms: 500 }
    }
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
    /// At rest a single-producer node ticks this often, waking at once for work (0: off).
    pub idle_tick_ms: u64,
    /// Keep the state of every block (eth_getBalance, eth_call... at any block).
    pub archive: bool,
    /// Without `archive`: how many blocks behind the head stay readable.
    pub state_history_blocks: u64,
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
    /// Serve the dev chain's conveniences: eth_sendTransaction from the unlocked dev accounts,
    /// evm_mine, evm_increaseTime, anvil_setBalance... (`zgnode dev` turns this on). Never on a
    /// validator network.
    pub dev_methods: bool,
    /// The read-only status page (`GET /status`, `crate::status`) on this port.
    pub status_page: bool,
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
        Self {
            data_dir: PathBuf::from("zgnode-data"),
            ephemeral: false,
            tick_ms: 5,
            idle_tick_ms: 100,
            archive: false,
            state_history_blocks: crate::store::HistoryPolicy::DEFAULT_KEEP_BLOCKS,
        }
    }
}

impl Default for ChainSection {
    fn default() -> Self {
        Self {
            genesis: None,
            block_time_ms: 250,
            seal_empty_blocks: true,
            coinbase: DEFAULT_COINBASE,
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
            dev_methods: false,
            status_page: true,
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
    /// The state history the store keeps.
    pub fn history_policy(&self) -> crate::store::HistoryPolicy {
        if self.node.archive {
            crate::store::HistoryPolicy::archive()
        } else {
            crate::store::HistoryPolicy::recent(self.node.state_history_blocks)
        }
    }

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
        if let Some(key_file) = config.network.key_file.as_mut().filter(|k| k.is_relative()) {
            *key_file = base.join(&*key_file);
        }
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string().trim().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Every rule, as for a node that may take part in consensus (`zgnode run`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_dev()?;
        let consensus = &self.consensus;
        if consensus.timeout_propose_ms <= self.chain.block_time_ms {
            return Err(ConfigError::Invalid(format!(
                "consensus.timeout_propose_ms ({}) must exceed chain.block_time_ms ({}): the proposer waits a block time first",
                consensus.timeout_propose_ms, self.chain.block_time_ms
            )));
        }
        Ok(())
    }

    /// The rules for a chain without consensus (`zgnode dev`, embedded dev nodes): any block time.
    pub fn validate_dev(&self) -> Result<(), ConfigError> {
        if self.node.state_history_blocks == 0 && !self.node.archive {
            return Err(ConfigError::Invalid("node.state_history_blocks must be at least 1 (or set node.archive)".into()));
        }
        if self.rpc.get_logs_max_blocks == 0 {
            return Err(ConfigError::Invalid("rpc.get_logs_max_blocks must be at least 1".into()));
        }
        if self.txpool.max_size == 0 {
            return Err(ConfigError::Invalid("txpool.max_size must be at least 1".into()));
        }
        if self.da.max_concurrent_dispersals == 0 {
            return Err(ConfigError::Invalid("da.max_concurrent_dispersals must be at least 1".into()));
        }
        if self.da.blobs_per_client_hour == 0 {
            return Err(ConfigError::Invalid("da.blobs_per_client_hour must be at least 1".into()));
        }
        if self.da.api_keys.iter().any(|key| key.len() < 16) {
            return Err(ConfigError::Invalid("da.api_keys: each key must be at least 16 characters".into()));
        }
        if self.gpu.spot_check_every == 0 {
            return Err(ConfigError::Invalid("gpu.spot_check_every must be at least 1 (1: every GPU batch checked on the CPU)".into()));
        }
        if let Some(key) = &self.storage.miner_key {
            key.trim().parse::<alloy_signer_local::PrivateKeySigner>()
                .map_err(|e| ConfigError::Invalid(format!("storage.miner_key is not a private key: {e}")))?;
        }
        if let Some(key) = &self.da.disperser_key {
            key.trim().parse::<alloy_signer_local::PrivateKeySigner>()
                .map_err(|e| ConfigError::Invalid(format!("da.disperser_key is not a private key: {e}")))?;
        }
        if let Some(key) = &self.da.sampler_key {
            key.trim().parse::<alloy_signer_local::PrivateKeySigner>()
                .map_err(|e| ConfigError::Invalid(format!("da.sampler_key is not a private key: {e}")))?;
        }
        if self.da.attest_timeout_secs == 0 {
            return Err(ConfigError::Invalid("da.attest_timeout_secs must be at least 1".into()));
        }
        let (data, parity) = (self.storage.erasure_data_shards, self.storage.erasure_parity_shards);
        if (data == 0) != (parity == 0) || data + parity > 255 {
            return Err(ConfigError::Invalid(
                "storage.erasure_data_shards and erasure_parity_shards must both be 0 or both positive (at most 255 shards)".into(),
            ));
        }
        if self.storage.indexer_nodes.len() > MAX_INDEXER_NODES {
            return Err(ConfigError::Invalid(format!("storage.indexer_nodes: at most {MAX_INDEXER_NODES} nodes")));
        }
        for url in &self.storage.indexer_nodes {
            let well_formed = (url.starts_with("http://") || url.starts_with("https://")) && url.len() <= 200 && !url.contains(char::is_whitespace);
            if !well_formed {
                return Err(ConfigError::Invalid(format!("storage.indexer_nodes: {url:.80} is not an http(s) URL")));
            }
        }
        if self.storage.kv_streams.len() > MAX_KV_STREAMS {
            return Err(ConfigError::Invalid(format!("storage.kv_streams: at most {MAX_KV_STREAMS} streams")));
        }
        for id in &self.storage.kv_streams {
            if id.parse::<alloy_primitives::B256>().is_err() {
                return Err(ConfigError::Invalid(format!("storage.kv_streams: {id:.80} is not a 32-byte hex stream id")));
            }
        }
        for peer in &self.network.peers {
            peer.parse::<PeerAddress>().map_err(|e| ConfigError::Invalid(format!("network.peers: {e}")))?;
        }
        let consensus = &self.consensus;
        if consensus.timeout_propose_ms == 0 || consensus.timeout_prevote_ms == 0 || consensus.timeout_precommit_ms == 0 {
            return Err(ConfigError::Invalid("consensus timeouts must be at least 1 ms".into()));
        }
        Ok(())
    }

    /// The peers to dial, parsed (validated at load).
    pub fn peers(&self) -> Vec<PeerAddress> {
        self.network.peers.iter().filter_map(|p| p.parse().ok()).collect()
    }

    pub fn key_file(&self) -> PathBuf {
        self.network.key_file.clone().unwrap_or_else(|| self.node.data_dir.join("node_key"))
    }

    pub fn timeouts(&self) -> malachite_types::LinearTimeouts {
        let ms = std::time::Duration::from_millis;
        let c = &self.consensus;
        malachite_types::LinearTimeouts {
            propose: ms(c.timeout_propose_ms),
            propose_delta: ms(c.timeout_propose_ms / 2),
            prevote: ms(c.timeout_prevote_ms),
            prevote_delta: ms(c.timeout_prevote_ms / 2),
            precommit: ms(c.timeout_precommit_ms),
            precommit_delta: ms(c.timeout_precommit_ms / 2),
            rebroadcast: ms(c.timeout_propose_ms + c.timeout_prevote_ms + c.timeout_precommit_ms),
            max_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The config `zgnode init` writes: every option, its default and what it does.
pub const CONFIG_TEMPLATE: &str = include_str!("config_template.toml");

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
        let error = NodeConfig::from_toml("[node]\nstate_history_blocks = 0\n").unwrap_err().to_string();
        assert!(error.contains("state_history_blocks"), "{error}");
        assert!(NodeConfig::from_toml("[chain]\nblock_time_ms = 0\n").is_ok(), "0 is automine");
        assert!(NodeConfig::from_toml("this is = = not toml").is_err());
        let error = NodeConfig::from_toml("[gpu]\nenabled = \"yes\"\n").unwrap_err().to_string();
        assert!(error.contains("invalid type"), "{error}");
        let config = NodeConfig::from_toml("[gpu]\nenabled = false\ndevice = 1\n").expect("parses");
        assert!(!config.gpu.enabled && config.gpu.device == 1 && config.gpu.min_erasure_kib == 4096);
    }

    #[test]
    fn indexer_nodes_must_be_a_few_http_urls() {
        let config = NodeConfig::from_toml("[storage]\nindexer_nodes = [\"http://127.0.0.1:5679\", \"https://n.example\"]\n").expect("parses");
        assert_eq!(config.storage.indexer_nodes.len(), 2);
        for bad in ["\"ftp://x\"", "\"127.0.0.1:5679\"", "\"http://a b\"", "7"] {
            let error = NodeConfig::from_toml(&format!("[storage]\nindexer_nodes = [{bad}]\n")).unwrap_err().to_string();
            assert!(error.contains("indexer_nodes") || error.contains("invalid type"), "{bad}: {error}");
        }
        let many: Vec<String> = (0..=MAX_INDEXER_NODES).map(|i| format!("\"http://127.0.0.1:{}\"", 6000 + i)).collect();
        let error = NodeConfig::from_toml(&format!("[storage]\nindexer_nodes = [{}]\n", many.join(", "))).unwrap_err().to_string();
        assert!(error.contains("at most"), "{error}");
    }

    #[test]
    fn kv_streams_are_32_byte_hex_ids() {
        let id = format!("0x{}", "ab".repeat(32));
        let config = NodeConfig::from_toml(&format!("[storage]\nkv_streams = [\"{id}\"]\n")).expect("parses");
        assert_eq!(config.storage.kv_streams, vec![id]);
        assert!(NodeConfig::default().storage.kv_streams.is_empty(), "every stream by default");
        for bad in ["\"0x1234\"", "\"zz\"", "1"] {
            let error = NodeConfig::from_toml(&format!("[storage]\nkv_streams = [{bad}]\n")).unwrap_err().to_string();
            assert!(error.contains("kv_streams") || error.contains("invalid type"), "{bad}: {error}");
        }
    }
}
