//! Deriving registered models' verifying keys ahead of time, off the tick: the precompile's
//! price covers verifying, not deriving (seconds), so every node derives a model's key when
//! its registration is executed (the bytes ride in the `ModelRegistered` event) and, after a
//! restart, for every model the registry holds. A verification that comes first derives it on
//! the spot: slower, the same answer.

use alloy_sol_types::{SolCall, SolEvent};
use bevy_ecs::prelude::*;

use zg_components::chain::SealedBlock;

use super::contracts::{IModelRegistry, MODEL_REGISTRY_ADDRESS};
use crate::{NodePlugin, TickSet};

/// Adds [`warm_registered_keys`] (a node whose chain has the ModelRegistry).
pub struct KeyWarmingPlugin;

impl NodePlugin for KeyWarmingPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        crate::add_message::<SealedBlock>(world, schedule);
        world.init_resource::<super::jobs::ProverPool>();
        schedule.add_systems(warm_registered_keys.in_set(TickSet::Compute).in_set(super::jobs::ComputeSet::WarmKeys));
    }
}

/// Hands each model registered in this tick's blocks to the background pool to derive its key.
pub fn warm_registered_keys(mut blocks: MessageReader<SealedBlock>, pool: Res<super::jobs::ProverPool>) {
    for SealedBlock(block) in blocks.read() {
        for receipt in &block.receipts {
            for log in receipt.logs.iter().filter(|log| log.address == MODEL_REGISTRY_ADDRESS) {
                if let Ok(event) = IModelRegistry::ModelRegistered::decode_log_data(&log.data) {
                    warm_in_background(vec![event.model.to_vec()], &pool);
                }
            }
        }
    }
}

/// Every model the registry holds, as canonical bytes.
pub fn registered_models(world: &World) -> Vec<Vec<u8>> {
    let view = |data: Vec<u8>| crate::consensus::staking::call_view(world, MODEL_REGISTRY_ADDRESS, data).ok();
    let Some(count) = view(IModelRegistry::modelCountCall {}.abi_encode()).and_then(|out| IModelRegistry::modelCountCall::abi_decode_returns(&out).ok())
    else {
        return Vec::new();
    };
    (0..count.saturating_to::<u64>())
        .filter_map(|index| {
            let id = view(IModelRegistry::modelIdAtCall { index: alloy_primitives::U256::from(index) }.abi_encode())
                .and_then(|out| IModelRegistry::modelIdAtCall::abi_decode_returns(&out).ok())?;
            view(IModelRegistry::modelBytesCall { modelId: id }.abi_encode())
                .and_then(|out| IModelRegistry::modelBytesCall::abi_decode_returns(&out).ok())
                .map(|bytes| bytes.to_vec())
        })
        .collect()
}

/// Derives the keys of `models` on the background pool (never the pool block sealing joins
/// on); returns at once.
pub fn warm_in_background(models: Vec<Vec<u8>>, pool: &super::jobs::ProverPool) {
    for model in models {
        // Registered before the job runs: a verification that comes first then waits for
        // (or does) the derivation instead of being refused.
        super::precompile::mark_registered(&model);
        pool.spawn(move || {
            let started = std::time::Instant::now();
            match super::precompile::warm(&model) {
                Some((k, _)) => tracing::info!(k, took_ms = started.elapsed().as_millis() as u64, "verifying key of a registered model derived"),
                None => tracing::warn!("a registered model is not one this node proves; its verifications answer no"),
            }
        });
    }
}
