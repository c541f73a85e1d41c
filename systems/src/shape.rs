//! The shape of a built tick schedule: how many systems it runs, how many of them take the whole
//! world (nothing runs beside an exclusive system), and how many can run at once. The last is the
//! figure that says whether domains (Storage, Da, Compute) really run side by side.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};

use bevy_ecs::schedule::{ApplyDeferred, NodeId, Schedule, SystemKey};

/// What [`schedule_shape`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleShape {
    /// Systems the tick runs (command sync points not counted).
    pub systems: usize,
    /// The names of those taking `&mut World`.
    pub exclusive_names: Vec<String>,
    /// Command sync points bevy inserted between systems that defer work and their readers.
    pub sync_points: usize,
    /// The systems of each step, in order: those of one step have no order among them (the
    /// steps are the systems grouped by their depth in the dependency graph).
    pub steps: Vec<Vec<String>>,
}

impl ScheduleShape {
    /// Systems taking `&mut World`.
    pub fn exclusive(&self) -> usize {
        self.exclusive_names.len()
    }

    /// The largest step (the earliest of equals): the most systems that can run at once.
    pub fn widest_step(&self) -> &[String] {
        self.steps.iter().rev().max_by_key(|step| step.len()).map_or(&[], Vec::as_slice)
    }

    pub fn widest(&self) -> usize {
        self.widest_step().len()
    }

    /// Steps the tick takes at the least: the longest chain of ordered systems.
    pub fn depth(&self) -> usize {
        self.steps.len()
    }
}

/// The shape of `schedule`, or `None` before it was built (run or initialized once).
pub fn schedule_shape(schedule: &Schedule) -> Option<ScheduleShape> {
    let systems = schedule.systems_with_access().ok()?;
    let mut exclusive_names = Vec::new();
    let mut sync_points = 0;
    let mut names: BTreeMap<SystemKey, String> = BTreeMap::new();
    for (key, system) in systems {
        if system.system().system_type() == TypeId::of::<ApplyDeferred>() {
            sync_points += 1;
            continue;
        }
        let name = short_name(&system.system().name().to_string());
        if system.access().is_exclusive() {
            exclusive_names.push(name.clone());
        }
        names.insert(key, name);
    }
    let graph = schedule.graph();
    // Each set becomes two points, its start and its end, with its members between them; an
    // order between two nodes runs from the first one's end to the second one's start. Sets
    // with no system (Consensus on the dev chain) still pass order through.
    let mut before: HashMap<Point, Vec<Point>> = HashMap::new();
    let (starts, ends) = (Point::start, Point::end);
    let hierarchy = graph.hierarchy().graph();
    for node in hierarchy.nodes() {
        if let NodeId::Set(_) = node {
            before.entry(ends(node)).or_default().push(starts(node));
            for member in hierarchy.neighbors(node) {
                before.entry(starts(member)).or_default().push(starts(node));
                before.entry(ends(node)).or_default().push(ends(member));
            }
        }
    }
    let dependency = graph.dependency().graph();
    for from in dependency.nodes() {
        for to in dependency.neighbors(from) {
            before.entry(starts(to)).or_default().push(ends(from));
        }
    }
    let mut memo: HashMap<Point, usize> = HashMap::new();
    let mut levels: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (key, name) in &names {
        let level = steps_to(Point::System(*key), &before, &mut memo);
        levels.entry(level).or_default().push(name.clone());
    }
    let steps: Vec<Vec<String>> = levels
        .into_values()
        .map(|mut step| {
            step.sort();
            step
        })
        .collect();
    Some(ScheduleShape { systems: names.len(), exclusive_names, sync_points, steps })
}

/// The tick schedule of each role a node can take, built on a scratch world: (role, shape).
pub fn role_shapes() -> Vec<(&'static str, ScheduleShape)> {
    use crate::{NodePlugin, chain::ChainPlugin, consensus::ConsensusPlugin, storage::StoragePlugin, tick_schedule};
    let roles: [(&'static str, &[&dyn NodePlugin]); 3] = [
        ("dev chain", &[&ChainPlugin]),
        ("dev chain + storage", &[&ChainPlugin, &StoragePlugin]),
        ("validator + storage", &[&ChainPlugin, &ConsensusPlugin, &StoragePlugin]),
    ];
    roles
        .into_iter()
        .filter_map(|(role, plugins)| {
            let mut world = bevy_ecs::world::World::new();
            world.insert_resource(zg_components::chain::ChainSpec::dev(1, Default::default()));
            let mut schedule = tick_schedule(&mut world, plugins);
            schedule.initialize(&mut world).ok()?;
            Some((role, schedule_shape(&schedule)?))
        })
        .collect()
}

/// A point of the order: a system, or where a set starts or ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Point {
    System(SystemKey),
    SetStart(bevy_ecs::schedule::SystemSetKey),
    SetEnd(bevy_ecs::schedule::SystemSetKey),
}

impl Point {
    fn start(node: NodeId) -> Self {
        match node {
            NodeId::System(key) => Point::System(key),
            NodeId::Set(key) => Point::SetStart(key),
        }
    }

    fn end(node: NodeId) -> Self {
        match node {
            NodeId::System(key) => Point::System(key),
            NodeId::Set(key) => Point::SetEnd(key),
        }
    }
}

/// Systems on the longest ordered path ending at `point` (itself included when a system).
fn steps_to(point: Point, before: &HashMap<Point, Vec<Point>>, memo: &mut HashMap<Point, usize>) -> usize {
    if let Some(steps) = memo.get(&point) {
        return *steps;
    }
    let prior = before.get(&point).map_or(0, |points| points.iter().map(|p| steps_to(*p, before, memo)).max().unwrap_or(0));
    let steps = prior + usize::from(matches!(point, Point::System(_)));
    memo.insert(point, steps);
    steps
}

/// `zg_systems::chain::io::ingest_requests` → `ingest_requests`;
/// `zg_systems::age_messages<zg_components::chain::block::SealedBlock>` → `age_messages<SealedBlock>`.
fn short_name(full: &str) -> String {
    let last = |path: &str| path.rsplit("::").next().unwrap_or(path).to_string();
    match full.split_once('<') {
        Some((base, args)) => format!("{}<{}>", last(base), last(args.trim_end_matches('>'))),
        None => last(full),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_ecs::prelude::*;

    fn a() {}
    fn b() {}
    fn c() {}
    fn whole(_: &mut World) {}

    #[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
    enum Phase {
        First,
        Second,
    }

    #[test]
    fn unordered_systems_count_as_running_together_and_ordered_ones_do_not() {
        let mut world = World::new();
        let mut schedule = Schedule::default();
        schedule.configure_sets((Phase::First, Phase::Second).chain());
        schedule.add_systems(((a, b).in_set(Phase::First), (c, whole).chain().in_set(Phase::Second)));
        schedule.initialize(&mut world).expect("builds");
        let shape = schedule_shape(&schedule).expect("built");
        assert_eq!(shape.systems, 4);
        assert_eq!(shape.exclusive(), 1);
        assert_eq!(shape.widest(), 2);
        assert_eq!(shape.widest_step(), ["a".to_string(), "b".to_string()]);
        assert_eq!(shape.depth(), 3, "a|b, then c, then whole");
        assert_eq!(shape.steps, vec![vec!["a".to_string(), "b".to_string()], vec!["c".to_string()], vec!["whole".to_string()]]);
        assert_eq!(short_name("zg_systems::age_messages<zg_components::chain::block::SealedBlock>"), "age_messages<SealedBlock>");
    }

    #[test]
    fn every_role_has_a_shape() {
        let shapes = role_shapes();
        assert_eq!(shapes.len(), 3);
        for (role, shape) in shapes {
            eprintln!("{role}: {shape:?}");
            assert!(shape.systems > 0 && shape.widest() >= 1, "{role}");
        }
    }

    /// No Storage system takes the whole world, so Da and Compute systems run beside them: a
    /// probe in each set lands in the same step as the first Storage systems, and the schedule
    /// still has no ambiguous order.
    #[test]
    fn storage_leaves_room_for_da_and_compute_beside_it() {
        use crate::{NodePlugin, TickSet, chain::ChainPlugin, storage::StoragePlugin, tick_schedule};
        use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings};
        fn da_probe() {}
        fn compute_probe() {}
        let mut world = World::new();
        world.insert_resource(zg_components::chain::ChainSpec::dev(1, Default::default()));
        let mut schedule = tick_schedule(&mut world, &[&ChainPlugin as &dyn NodePlugin, &StoragePlugin]);
        schedule.add_systems((da_probe.in_set(TickSet::Da), compute_probe.in_set(TickSet::Compute)));
        schedule.set_build_settings(ScheduleBuildSettings { ambiguity_detection: LogLevel::Error, ..Default::default() });
        if let Err(error) = schedule.initialize(&mut world) {
            panic!("{}", error.to_string(schedule.graph(), &world));
        }
        let shape = schedule_shape(&schedule).expect("built");
        let step = shape.steps.iter().find(|step| step.contains(&"da_probe".to_string())).expect("da_probe runs");
        for beside in ["compute_probe", "index_submissions", "follow_pora_standing"] {
            assert!(step.contains(&beside.to_string()), "{beside} not beside da_probe: {:?}", shape.steps);
        }
    }

    #[test]
    fn an_unbuilt_schedule_has_no_shape() {
        assert!(schedule_shape(&Schedule::default()).is_none());
    }
}
