//! What a tick costs: idle, and with a system touching every account entity.

use super::*;

#[derive(Debug, Clone)]
pub struct TickReport {
    pub idle_us: f64,
    pub accounts: usize,
    pub touching_us: f64,
    /// Mean µs per run of each system in the touching node: the per-system profile.
    pub systems_us: Vec<(&'static str, f64)>,
    /// The tick schedule of each role: its systems, those that take the whole world
    /// (`&mut World`, so nothing runs beside them), and its steps (systems of one step may run
    /// side by side).
    pub roles: Vec<(&'static str, zg_systems::shape::ScheduleShape)>,
}

/// Marks every account entity changed, in parallel: the cost of a system touching them all.
fn touch_every_account(
    mut accounts: bevy_ecs::prelude::Query<&mut zg_components::chain::AccountInfo>,
    profile: bevy_ecs::prelude::Res<zg_components::node::TickProfile>,
) {
    use bevy_ecs::change_detection::DetectChangesMut;
    let _timer = zg_systems::profile::SystemTimer::of(&profile, "touch_every_account");
    accounts.par_iter_mut().for_each(|mut info| {
        info.set_changed();
    });
}

/// A node whose genesis holds `accounts` extra accounts and which never seals a block; with
/// `touching`, its tick also runs a system that touches every account entity.
pub fn tick_node(accounts: usize, touching: bool) -> Node {
    use bevy_ecs::prelude::IntoScheduleConfigs;
    let mut genesis = Genesis::zero_gravity(BENCH_CHAIN_ID);
    genesis.grants = (0..accounts as u64)
        .map(|i| GrantEntry {
            address: Address::from_word(alloy_primitives::keccak256(i.to_be_bytes())),
            tokens: 1,
            from: "ecosystem".into(),
        })
        .collect();
    let mut spec = bench_spec(&genesis);
    spec.block_time_ms = u64::MAX / 4;
    let mut node = Node::new(spec, &genesis, ChainStore::in_memory().expect("memory db")).expect("node");
    if touching {
        node.schedule_mut().add_systems(touch_every_account.in_set(zg_systems::TickSet::Execute));
    }
    for warmup in 0..10 {
        node.tick(1_000 + warmup).expect("tick");
    }
    node
}

/// Mean tick time of an idle node, and of one whose tick touches `accounts` account entities.
pub fn tick(accounts: usize, ticks: usize) -> TickReport {
    let measure = |node: &mut Node| {
        let started = Instant::now();
        for i in 0..ticks as u64 {
            node.tick(2_000 + i).expect("tick");
        }
        started.elapsed().as_secs_f64() * 1e6 / ticks.max(1) as f64
    };
    let mut idle = tick_node(accounts, false);
    let idle_us = measure(&mut idle);
    let mut touching = tick_node(accounts, true);
    let touching_us = measure(&mut touching);
    let profile = touching.world().resource::<zg_components::node::TickProfile>().snapshot();
    let systems_us = profile
        .totals
        .iter()
        .map(|(name, (runs, total))| (*name, total.as_secs_f64() * 1e6 / (*runs).max(1) as f64))
        .collect();
    TickReport { idle_us, accounts, touching_us, systems_us, roles: zg_systems::shape::role_shapes() }
}
