//! Local validator networks: `zgnode init --validators N` writes one genesis and a directory per
//! node (config, consensus key, operator key); `zgnode testnet` starts one process per node on
//! 127.0.0.1 and stops them together.
//!
//! Layout of `DIR`:
//! ```text
//! genesis.json            chain id, the 0G distribution, dev accounts, staking contract
//! node<i>/config.toml     RPC 127.0.0.1:<rpc_port+i>, QUIC 127.0.0.1:<p2p_port+i>, peers = the others
//! node<i>/node_key        ed25519 consensus and network identity (hex seed, 0600)
//! node<i>/operator.key    the EVM account that operates the validator and receives its rewards
//! node<i>/data/           the node's database (created on first start)
//! ```

use alloy_primitives::{Address, U256, hex};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

use zg_components::chain::{ConsensusGenesis, Genesis};
use zg_systems::consensus::staking::GenesisValidator;

use crate::config::CONFIG_TEMPLATE;
use crate::net::PeerAddress;
use crate::net::identity::Identity;

pub use crate::governance::STAKING_ARTIFACT;
/// Each genesis validator's stake, in whole 0G, out of the AI-alignment-nodes allocation.
pub const GENESIS_STAKE_TOKENS: u64 = 1_000_000;
/// Minimum self-stake to create a validator, in whole 0G.
pub const MIN_SELF_STAKE_TOKENS: u64 = 1_000;
pub const DEFAULT_EPOCH_LENGTH: u64 = 20;
pub const UNBONDING_BLOCKS: u64 = 100;
pub const SLASH_PERCENT: u64 = 10;
/// Block reward in whole 0G, out of the community allocation.
pub const BLOCK_REWARD_TOKENS: u64 = 1;

/// The staking contract's creation code.
pub fn staking_creation_code() -> anyhow::Result<Vec<u8>> {
    crate::governance::creation_code(STAKING_ARTIFACT)
}

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A genesis for a chain run by these validators: the dev genesis (dev accounts funded), the
/// staking contract holding each validator's stake, and the consensus parameters.
pub fn validator_genesis(chain_id: u64, validators: &[GenesisValidator], epoch_length: u64) -> anyhow::Result<Genesis> {
    let mut genesis = crate::dev::dev_genesis(chain_id);
    add_validators(&mut genesis, validators, epoch_length)?;
    // Its validators are the DA signers.
    genesis.accounts.insert(
        zg_systems::da::entrance::DA_ENTRANCE_ADDRESS,
        crate::da::genesis::entrance_account(&crate::da::genesis::network_params()),
    );
    genesis.validate()?;
    Ok(genesis)
}

/// Makes `genesis` a chain run by `validators`: the staking contract holding their stake (paid
/// from the alignment allocation, replacing the dev stakers'), governance voting with that stake,
/// and the consensus parameters.
pub fn add_validators(genesis: &mut Genesis, validators: &[GenesisValidator], epoch_length: u64) -> anyhow::Result<()> {
    crate::governance::install(
        genesis,
        validators,
        tokens(MIN_SELF_STAKE_TOKENS),
        UNBONDING_BLOCKS,
        SLASH_PERCENT,
        &crate::governance::network_params(),
    )?;
    genesis.consensus = Some(ConsensusGenesis {
        epoch_length,
        block_reward: tokens(BLOCK_REWARD_TOKENS),
        reward_allocation: "community".into(),
    });
    Ok(())
}

#[derive(Clone, Debug)]
pub struct NetworkPlan {
    pub chain_id: u64,
    /// One per node; 0 lets the OS choose (the node prints what it got).
    pub rpc_ports: Vec<u16>,
    pub p2p_ports: Vec<u16>,
    pub block_time_ms: u64,
    pub epoch_length: u64,
    /// How many of the nodes are validators at genesis (the first ones); the rest start as
    /// followers and may stake later. None: all of them.
    pub genesis_validators: Option<usize>,
    /// Node i serves the storage JSON-RPC on `storage_port + i`, erasure-coding uploads across
    /// the network (see [`erasure_shape`]). None: the storage role stays off.
    pub storage_port: Option<u16>,
}

/// The storage URLs of the network's nodes other than `own`, quoted for TOML.
fn other_storage_urls(base: u16, count: usize, own: usize) -> Vec<String> {
    (0..count).filter(|i| *i != own).map(|i| format!("\"http://127.0.0.1:{}\"", base as usize + i)).collect()
}

/// Data + parity shards for a network of `nodes` storage nodes: one shard per node, and any
/// half of the nodes (rounded down) may be away.
pub fn erasure_shape(nodes: usize) -> (usize, usize) {
    let parity = nodes / 2;
    (nodes - parity, parity)
}

impl NetworkPlan {
    /// Node i on `rpc_port + i` and `p2p_port + i`.
    pub fn consecutive(validators: usize, chain_id: u64, rpc_port: u16, p2p_port: u16) -> anyhow::Result<Self> {
        let ports = |base: u16| -> anyhow::Result<Vec<u16>> {
            (0..validators)
                .map(|i| u16::try_from(base as usize + i).map_err(|_| anyhow::anyhow!("{validators} nodes do not fit above port {base}")))
                .collect()
        };
        Ok(Self {
            chain_id,
            rpc_ports: ports(rpc_port)?,
            p2p_ports: ports(p2p_port)?,
            block_time_ms: 250,
            epoch_length: DEFAULT_EPOCH_LENGTH,
            genesis_validators: None,
            storage_port: None,
        })
    }

    pub fn validators(&self) -> usize {
        self.p2p_ports.len()
    }
}

/// One node of a written network.
#[derive(Clone, Debug)]
pub struct NodeLayout {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub rpc_url: String,
    pub peer: PeerAddress,
    pub operator: Address,
}

pub fn node_dir(out: &Path, index: usize) -> PathBuf {
    out.join(format!("node{index}"))
}

/// Writes keys, configs and the genesis for `plan` into `out`.
pub fn write_network(out: &Path, plan: &NetworkPlan, force: bool) -> anyhow::Result<Vec<NodeLayout>> {
    let count = plan.validators();
    if count == 0 {
        bail!("--validators must be at least 1");
    }
    if plan.rpc_ports.len() != count {
        bail!("{} RPC ports for {count} nodes", plan.rpc_ports.len());
    }
    let genesis_path = out.join("genesis.json");
    if genesis_path.exists() && !force {
        bail!("{} exists; pass --force to overwrite the network there", genesis_path.display());
    }
    let identities: Vec<Identity> = (0..count).map(|_| Identity::generate()).collect();
    let operators: Vec<alloy_signer_local::PrivateKeySigner> =
        (0..count).map(|_| alloy_signer_local::PrivateKeySigner::random()).collect();
    let in_genesis = plan.genesis_validators.unwrap_or(count).min(count);
    if in_genesis == 0 {
        bail!("a network needs at least one genesis validator");
    }
    let validators: Vec<GenesisValidator> = identities
        .iter()
        .zip(&operators)
        .take(in_genesis)
        .map(|(identity, operator)| GenesisValidator {
            operator: operator.address(),
            consensus_key: identity.public(),
            stake: tokens(GENESIS_STAKE_TOKENS),
        })
        .collect();
    let mut genesis = validator_genesis(plan.chain_id, &validators, plan.epoch_length)?;
    if count >= 2 {
        // PoRA challenges each storage node on the data shards it keeps: the ring is every
        // node's key in order, with the shape `[storage]` is written with.
        let mut ring: Vec<[u8; 32]> = identities.iter().map(Identity::public).collect();
        ring.sort();
        let params = zg_systems::storage::pora::MineParams { ring, data_shards: erasure_shape(count).0 as u64, ..crate::storage::dev_mine_params() };
        let account = crate::storage::mine_account(&params).map_err(|e| anyhow::anyhow!("PoraMine genesis: {e}"))?;
        genesis.accounts.insert(zg_systems::storage::pora::MINE_ADDRESS, account);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let peers: Vec<PeerAddress> = identities
        .iter()
        .enumerate()
        .map(|(i, identity)| PeerAddress {
            key: identity.public(),
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], plan.p2p_ports[i])),
        })
        .collect();
    let mut layout = Vec::new();
    for (i, (identity, operator)) in identities.iter().zip(&operators).enumerate() {
        let dir = node_dir(out, i);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        identity.write(&dir.join("node_key"))?;
        let operator_key = format!("{}\n", hex::encode_prefixed(operator.to_bytes()));
        crate::local_files::write_file(&dir.join("operator.key"), operator_key.as_bytes(), true)?;
        let others: Vec<String> = peers.iter().filter(|p| p.key != identity.public()).map(|p| format!("\"{p}\"")).collect();
        let rpc_port = plan.rpc_ports[i];
        let config = CONFIG_TEMPLATE
            .replace("genesis = \"genesis.json\"", "genesis = \"../genesis.json\"")
            .replace("addr = \"127.0.0.1:8545\"", &format!("addr = \"127.0.0.1:{rpc_port}\""))
            .replace("block_time_ms = 250", &format!("block_time_ms = {}", plan.block_time_ms))
            .replace("listen = \"127.0.0.1:30300\"", &format!("listen = \"{}\"", peers[i].addr))
            .replace("peers = []", &format!("peers = [{}]", others.join(", ")))
            .replace("# key_file = \"data/node_key\"", "key_file = \"node_key\"")
            .replace("addr = \"127.0.0.1:9615\"", &format!("addr = \"127.0.0.1:{}\"", 9615 + i))
            // Each DA node claims its sampling rewards with its operator account.
            .replace("# sampler_key = \"0x...\"", &format!("sampler_key = \"{}\"", operator_key.trim()));
        let config = match plan.storage_port {
            Some(base) if count >= 2 => {
                let port = u16::try_from(base as usize + i).map_err(|_| anyhow::anyhow!("{count} nodes do not fit above storage port {base}"))?;
                let (data, parity) = erasure_shape(count);
                config
                    .replace("[storage]\n# Serve 0G's storage JSON-RPC (zgs_*) for files published on the Flow contract.\nenabled = false\naddr = \"127.0.0.1:5678\"",
                        &format!("[storage]\n# Serve 0G's storage JSON-RPC (zgs_*) for files published on the Flow contract.\nenabled = true\naddr = \"127.0.0.1:{port}\""))
                    .replace("erasure_data_shards = 0\nerasure_parity_shards = 0", &format!("erasure_data_shards = {data}\nerasure_parity_shards = {parity}"))
                    .replace("indexer_nodes = []", &format!("indexer_nodes = [{}]", other_storage_urls(base, count, i).join(", ")))
            }
            _ => config,
        };
        let config_path = dir.join("config.toml");
        crate::local_files::write_file(&config_path, config.as_bytes(), false)?;
        layout.push(NodeLayout {
            dir,
            config: config_path,
            rpc_url: format!("http://127.0.0.1:{rpc_port}"),
            peer: peers[i],
            operator: operator.address(),
        });
    }
    crate::local_files::write_file(&genesis_path, genesis.to_json().as_bytes(), false)?;
    Ok(layout)
}

/// The layout of a network written before (for `zgnode testnet` on an existing directory).
pub fn read_network(out: &Path, nodes: usize) -> anyhow::Result<Vec<NodeLayout>> {
    (0..nodes)
        .map(|i| {
            let dir = node_dir(out, i);
            let config_path = dir.join("config.toml");
            let config = crate::config::NodeConfig::load(&config_path)?;
            let identity = Identity::load_or_create(&config.key_file())?;
            Ok(NodeLayout {
                rpc_url: format!("http://{}", config.rpc.addr),
                peer: PeerAddress { key: identity.public(), addr: config.network.listen },
                dir,
                config: config_path,
                operator: Address::ZERO,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_network_loads_and_its_genesis_names_the_validators() {
        let dir = tempfile::tempdir().unwrap();
        let plan = NetworkPlan { epoch_length: 5, storage_port: Some(25678), ..NetworkPlan::consecutive(3, 777, 18545, 31300).unwrap() };
        assert!(NetworkPlan::consecutive(3, 777, 65534, 31300).is_err());
        let layout = write_network(dir.path(), &plan, false).unwrap();
        assert_eq!(layout.len(), 3);
        assert!(write_network(dir.path(), &plan, false).is_err(), "refuses to overwrite");
        for (i, node) in layout.iter().enumerate() {
            let config = crate::config::NodeConfig::load(&node.config).unwrap();
            assert_eq!(config.rpc.addr.port(), 18545 + i as u16);
            assert_eq!(config.peers().len(), 2);
            assert!(config.peers().iter().all(|p| p.key != node.peer.key));
            assert!(config.storage.enabled);
            assert_eq!(config.storage.addr.port(), 25678 + i as u16);
            assert_eq!((config.storage.erasure_data_shards, config.storage.erasure_parity_shards), (2, 1));
            let others: Vec<String> = (0..3).filter(|j| *j != i).map(|j| format!("http://127.0.0.1:{}", 25678 + j)).collect();
            assert_eq!(config.storage.indexer_nodes, others, "the indexer lists the other nodes");
        }
        let genesis = crate::local_files::load_genesis(&dir.path().join("genesis.json")).unwrap();
        let mut world = bevy_ecs::world::World::new();
        world.insert_resource(zg_components::chain::ChainSpec::dev(777, Address::ZERO));
        let _ = zg_systems::tick_schedule(&mut world, &[&zg_systems::chain::ChainPlugin as &dyn zg_systems::NodePlugin]);
        zg_systems::chain::genesis::build_genesis(&mut world, &genesis).unwrap();
        let set = zg_systems::consensus::staking::current_validator_set(&world).unwrap();
        assert_eq!(set.validators().len(), 3);
        assert_eq!(set.total_power(), 3 * GENESIS_STAKE_TOKENS);
        let sum: U256 = genesis.balances().unwrap().values().copied().sum();
        assert_eq!(sum, genesis.max_supply_wei());
    }
}
