//! The storage role: published files restored into the world, the storage JSON-RPC service,
//! erasure-coded shard placement over the validator network, and the PoRA miner.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bevy_ecs::prelude::*;
use zg_components::chain::{ChainHead, Genesis};
use zg_systems::storage::erasure::ErasureConfig;
use zg_systems::storage::flow;

use super::{INBOX_CAPACITY, Node, NodeError};
use crate::config::NodeConfig;
use crate::store::ChainStore;

/// The storage service a running node serves.
pub(super) struct StorageService {
    pub addr: SocketAddr,
    pub handle: jsonrpsee::server::ServerHandle,
    /// The erasure coding of placed shards, when shards are placed over the network.
    pub shards: Option<ErasureConfig>,
}

/// Wires the storage inbox (and, on a network with erasure coding configured, shard placement)
/// into the node and starts the storage JSON-RPC service.
pub(super) async fn start(
    config: &NodeConfig,
    chain_id: u64,
    node: &mut Node,
    network: Option<&crate::net::NetHandle>,
    accelerator: zg_systems::erasure::accel::Accelerator,
) -> Result<StorageService, NodeError> {
    let (sender, inbox) = crossbeam_channel::bounded(INBOX_CAPACITY);
    node.world_mut().insert_resource(zg_components::storage::StorageInbox(inbox));
    let shards = match (network, config.storage.erasure_data_shards, config.storage.erasure_parity_shards) {
        (Some(network), data, parity) if data > 0 && parity > 0 => {
            let setup = zg_components::storage::shard::ShardSetup {
                own: network.own_key(),
                members: network.members().to_vec(),
                data_shards: data,
                parity_shards: parity,
            };
            let coding = ErasureConfig { data_shards: data, parity_shards: parity };
            network.serve_shards(Arc::new(crate::storage::StoredShards { store: node.store().clone(), coding, events: sender.clone() }));
            let view = zg_components::storage::shard::PlacementView::default();
            node.world_mut().insert_resource(view.clone());
            let placement = crate::storage::ShardPlacement {
                network: network.clone(),
                setup: setup.clone(),
                view,
                runtime: tokio::runtime::Handle::current(),
            };
            let worker = crate::storage::ShardWorker {
                placement: placement.clone(),
                store: node.store().clone(),
                events: sender.clone(),
                place_queue: None,
                accelerator,
            }
                .with_batched_placement();
            zg_systems::storage::shards::install_sharding(node.world_mut(), setup, Arc::new(worker));
            Some(placement)
        }
        _ => None,
    };
    let rebuilt = crate::storage::RebuiltSegments::with_budget(config.storage.rebuilt_cache_mib.saturating_mul(1 << 20));
    let context =
        crate::storage::StorageContext { chain_id, store: node.store().clone(), events: sender, shards, rebuilt, network: network.cloned() };
    let shards = context.shards.as_ref().map(crate::storage::ShardPlacement::config);
    let (addr, handle) =
        crate::storage::start(&config.storage, context).await.map_err(|source| NodeError::Rpc { addr: config.storage.addr, source })?;
    Ok(StorageService { addr, handle, shards })
}

/// Starts the PoRA miner when a miner key is configured and the chain has the mine contract;
/// returns the account it answers challenges with.
#[allow(clippy::too_many_arguments)]
pub(super) fn start_miner(
    config: &NodeConfig,
    genesis: &Genesis,
    rpc_addr: SocketAddr,
    store: ChainStore,
    node_key: Option<malachite_ed25519::PrivateKey>,
    shards: Option<ErasureConfig>,
    chain_id: u64,
    stop: Arc<AtomicBool>,
) -> Result<Option<alloy_primitives::Address>, NodeError> {
    let Some(key) = &config.storage.miner_key else { return Ok(None) };
    if !genesis.accounts.contains_key(&zg_systems::storage::pora::MINE_ADDRESS) {
        return Ok(None);
    }
    let key: alloy_signer_local::PrivateKeySigner =
        key.trim().parse().map_err(|e| NodeError::Config(format!("storage.miner_key: {e}")))?;
    // The miner registers this node's network key (signed by it), so its standing moves the
    // node's shards; only a node that keeps shards has one to register.
    let node_key = node_key.filter(|_| shards.is_some());
    let miner = crate::storage::miner::Miner::new(&format!("http://{rpc_addr}"), store, key, node_key, shards, chain_id, stop)
        .map_err(NodeError::MinerClient)?;
    let address = miner.address();
    tokio::spawn(miner.run());
    Ok(Some(address))
}

/// Loads the published files and PoRA miner records into the world, and reads the `Submit` and
/// PoRA events of blocks persisted after they were last recorded (a crash between the two writes
/// loses nothing).
pub(super) fn restore_files(world: &mut World, store: &ChainStore) -> Result<(), NodeError> {
    let head = world.resource::<ChainHead>().number();
    let indexed = store.storage_indexed()?;
    let snapshot = store.reader().snapshot()?;
    let mut miners = store.miner_records()?;
    let mut late = Vec::new();
    let mut changed = Vec::new();
    for number in indexed.map(|n| n + 1).unwrap_or(0)..=head {
        for receipt in snapshot.block_receipts(number)? {
            late.extend(receipt.logs.iter().filter_map(|log| flow::decode_submit(log, number)));
            let events = receipt.logs.iter().filter_map(zg_systems::storage::shards::decode_miner_event);
            changed.extend(events.filter_map(|event| zg_systems::storage::shards::apply_miner_event(&mut miners, event)));
        }
    }
    if indexed != Some(head) {
        store.write_files(&late, &changed, head)?;
    }
    world.insert_resource(miners);
    let files = store.files()?;
    for record in files {
        let held = store.segment_count(record.tx_seq)?;
        let finalized = held >= record.data_segments();
        // Segments held before a restart were handed out for placement then (audits and repair
        // cover any shard that did not arrive): nothing per segment is restored.
        zg_systems::storage::track_file(world, record, held, finalized);
    }
    Ok(())
}
