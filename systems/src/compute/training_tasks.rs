//! The fine-tuning task lifecycle in the provider's tick (`Compute` set): reports become task
//! entities and phase changes; the oldest task waiting to train is ordered to the trainer when
//! it is free (one at a time: the provider's CPU or GPU trains one adapter); trained tasks are
//! ordered to the deliverer, delivered ones to settlement, each at most once at a time and, when
//! a step has to wait, not before its wait is over. The work itself (training, uploads, chain
//! calls) runs outside the tick; a tick never waits for it.

use bevy_ecs::prelude::*;

use zg_components::compute::fine_tuning::TaskProgress;
use zg_components::compute::training_tasks::{
    TaskBoard, TaskDeliverable, TaskIndex, TaskOrder, TaskOrders, TaskPhase, TaskPolling, TaskReport, TaskReports, TaskWaitsUntil, TaskWorking, TrainingTask,
};
use zg_components::node::TickClock;

use crate::{NodePlugin, TickSet};

/// The task lifecycle: its resources and systems. The provider hands it the two channels.
pub struct TrainingTasksPlugin {
    pub reports: crossbeam_channel::Receiver<TaskReport>,
    pub orders: TaskOrders,
    pub polling: TaskPolling,
}

impl NodePlugin for TrainingTasksPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.insert_resource(TaskReports(self.reports.clone()));
        world.insert_resource(self.orders.clone());
        world.insert_resource(self.polling);
        world.init_resource::<TaskIndex>();
        world.init_resource::<TaskBoard>();
        world.init_resource::<TickClock>();
        schedule.add_systems((take_task_reports, order_training, order_delivery, count_tasks).chain().in_set(TickSet::Compute));
    }
}

/// Reports become entities and component changes.
pub fn take_task_reports(mut commands: Commands, reports: Res<TaskReports>, mut index: ResMut<TaskIndex>, clock: Res<TickClock>, polling: Res<TaskPolling>) {
    for report in reports.0.try_iter() {
        match report {
            TaskReport::Known { task, phase, deliverable } => {
                let entity = match index.0.get(&task.id) {
                    Some(&entity) => entity,
                    None => {
                        let entity = commands.spawn_empty().id();
                        index.0.insert(task.id.clone(), entity);
                        entity
                    }
                };
                let mut entity = commands.entity(entity);
                entity.insert((task, TaskPhase(phase)));
                if let Some(root) = deliverable {
                    entity.insert(TaskDeliverable(root));
                }
            }
            TaskReport::Moved { id, phase, deliverable } => {
                let Some(&entity) = index.0.get(&id) else { continue };
                let mut entity = commands.entity(entity);
                entity.insert(TaskPhase(phase));
                if let Some(root) = deliverable {
                    entity.insert(TaskDeliverable(root));
                }
            }
            TaskReport::Released { id, wait } => {
                let Some(&entity) = index.0.get(&id) else { continue };
                let mut entity = commands.entity(entity);
                entity.remove::<TaskWorking>();
                if wait {
                    entity.insert(TaskWaitsUntil(clock.now_ms.saturating_add(polling.wait_ms)));
                } else {
                    entity.remove::<TaskWaitsUntil>();
                }
            }
        }
    }
}

fn ready(waits: Option<&TaskWaitsUntil>, now_ms: u64) -> bool {
    waits.is_none_or(|until| until.0 <= now_ms)
}

/// A task as the ordering systems see it.
type TaskView<'a> = (Entity, &'a TrainingTask, &'a TaskPhase, Option<&'a TaskWorking>, Option<&'a TaskWaitsUntil>);

/// When no task trains, the oldest one waiting to goes to the trainer.
pub fn order_training(
    mut commands: Commands,
    tasks: Query<TaskView>,
    orders: Res<TaskOrders>,
    clock: Res<TickClock>,
    mut board: ResMut<TaskBoard>,
) {
    if tasks.iter().any(|(_, _, phase, working, _)| working.is_some() && phase.0.is_with_the_trainer()) {
        return;
    }
    let next = tasks
        .iter()
        .filter(|(_, _, phase, working, waits)| phase.0.is_with_the_trainer() && working.is_none() && ready(*waits, clock.now_ms))
        .min_by(|a, b| (a.1.created_at, &a.1.id).cmp(&(b.1.created_at, &b.1.id)));
    if let Some((entity, task, ..)) = next
        && orders.training.send(TaskOrder::Train(task.id.clone())).is_ok()
    {
        board.ordered += 1;
        commands.entity(entity).insert(TaskWorking);
    }
}

/// Trained tasks go to delivery, delivered ones to settlement, each once at a time.
pub fn order_delivery(
    mut commands: Commands,
    tasks: Query<(Entity, &TrainingTask, &TaskPhase, Option<&TaskWaitsUntil>), Without<TaskWorking>>,
    orders: Res<TaskOrders>,
    clock: Res<TickClock>,
    mut board: ResMut<TaskBoard>,
) {
    for (entity, task, phase, waits) in &tasks {
        if !ready(waits, clock.now_ms) {
            continue;
        }
        let order = match phase.0 {
            TaskProgress::Trained | TaskProgress::Delivering => TaskOrder::Deliver(task.id.clone()),
            TaskProgress::Delivered | TaskProgress::UserAcknowledged => TaskOrder::Settle(task.id.clone()),
            _ => continue,
        };
        if orders.delivery.send(order).is_ok() {
            board.ordered += 1;
            commands.entity(entity).insert(TaskWorking);
        }
    }
}

/// The board: tasks by phase and how many a worker holds.
pub fn count_tasks(tasks: Query<(&TaskPhase, Option<&TaskWorking>)>, mut board: ResMut<TaskBoard>) {
    let mut by_phase: Vec<(TaskProgress, usize)> = Vec::new();
    let mut working = 0;
    for (phase, held) in &tasks {
        working += usize::from(held.is_some());
        match by_phase.iter_mut().find(|(p, _)| *p == phase.0) {
            Some((_, n)) => *n += 1,
            None => by_phase.push((phase.0, 1)),
        }
    }
    by_phase.sort_by_key(|(phase, _)| *phase as u8);
    board.by_phase = by_phase;
    board.working = working;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};
    use crossbeam_channel::{Receiver, Sender};

    struct Harness {
        world: World,
        schedule: Schedule,
        reports: Sender<TaskReport>,
        training: Receiver<TaskOrder>,
        delivery: Receiver<TaskOrder>,
    }

    impl Harness {
        fn new() -> Self {
            let (reports, inbox) = crossbeam_channel::unbounded();
            let (training_tx, training) = crossbeam_channel::unbounded();
            let (delivery_tx, delivery) = crossbeam_channel::unbounded();
            let plugin = TrainingTasksPlugin { reports: inbox, orders: TaskOrders { training: training_tx, delivery: delivery_tx }, polling: TaskPolling { wait_ms: 2_000 } };
            let mut world = World::new();
            let schedule = crate::tick_schedule(&mut world, &[&plugin]);
            Self { world, schedule, reports, training, delivery }
        }

        fn tick(&mut self, now_ms: u64) {
            self.world.resource_mut::<TickClock>().now_ms = now_ms;
            self.schedule.run(&mut self.world);
        }

        fn known(&self, id: &str, created_at: u64, phase: TaskProgress) {
            let task = TrainingTask { id: id.into(), user: Address::repeat_byte(1), created_at };
            self.reports.send(TaskReport::Known { task, phase, deliverable: None }).unwrap();
        }

        fn report(&self, report: TaskReport) {
            self.reports.send(report).unwrap();
        }

        fn phase(&mut self, id: &str) -> TaskProgress {
            let entity = self.world.resource::<TaskIndex>().0[id];
            self.world.get::<TaskPhase>(entity).unwrap().0
        }
    }

    fn drain(orders: &Receiver<TaskOrder>) -> Vec<TaskOrder> {
        orders.try_iter().collect()
    }

    #[test]
    fn one_task_trains_at_a_time_oldest_first_and_a_restored_one_resumes() {
        let mut h = Harness::new();
        h.known("b", 20, TaskProgress::Init);
        h.known("a", 20, TaskProgress::Init);
        h.known("resumed", 10, TaskProgress::Training);
        h.tick(1_000);
        assert_eq!(drain(&h.training), [TaskOrder::Train("resumed".into())]);
        h.tick(1_100);
        assert!(drain(&h.training).is_empty(), "the trainer is busy");
        h.report(TaskReport::Moved { id: "resumed".into(), phase: TaskProgress::Trained, deliverable: None });
        h.report(TaskReport::Released { id: "resumed".into(), wait: false });
        h.tick(1_200);
        assert_eq!(drain(&h.training), [TaskOrder::Train("a".into())], "ties by id");
        assert_eq!(drain(&h.delivery), [TaskOrder::Deliver("resumed".into())]);
        assert_eq!(h.phase("resumed"), TaskProgress::Trained);
        // A cancel of a queued task (the HTTP side wrote Failed) takes it out of the queue.
        h.report(TaskReport::Moved { id: "b".into(), phase: TaskProgress::Failed, deliverable: None });
        h.report(TaskReport::Moved { id: "a".into(), phase: TaskProgress::Trained, deliverable: None });
        h.report(TaskReport::Released { id: "a".into(), wait: false });
        h.tick(1_300);
        assert!(drain(&h.training).is_empty());
        let board = h.world.resource::<TaskBoard>().clone();
        assert_eq!(board.by_phase, [(TaskProgress::Trained, 2), (TaskProgress::Failed, 1)]);
        assert_eq!(board.working, 2, "both trained tasks are with the deliverer");
    }

    #[test]
    fn a_step_that_has_to_wait_comes_back_after_the_poll_and_never_twice_at_once() {
        let mut h = Harness::new();
        h.known("t", 1, TaskProgress::Delivered);
        h.tick(10_000);
        assert_eq!(drain(&h.delivery), [TaskOrder::Settle("t".into())]);
        h.tick(10_100);
        assert!(drain(&h.delivery).is_empty(), "held by the deliverer");
        h.report(TaskReport::Released { id: "t".into(), wait: true });
        h.tick(10_200);
        h.tick(11_999);
        assert!(drain(&h.delivery).is_empty(), "waits 2 s");
        h.tick(12_200);
        assert_eq!(drain(&h.delivery), [TaskOrder::Settle("t".into())]);
        let root = B256::repeat_byte(7);
        h.report(TaskReport::Moved { id: "t".into(), phase: TaskProgress::Finished, deliverable: Some(root) });
        h.report(TaskReport::Released { id: "t".into(), wait: false });
        h.tick(12_300);
        h.tick(99_000);
        assert!(drain(&h.delivery).is_empty() && drain(&h.training).is_empty(), "a finished task is left alone");
        let entity = h.world.resource::<TaskIndex>().0["t"];
        assert_eq!(h.world.get::<TaskDeliverable>(entity), Some(&TaskDeliverable(root)));
    }

    #[test]
    fn reports_about_unknown_tasks_change_nothing_and_a_repeated_known_keeps_one_entity() {
        let mut h = Harness::new();
        h.report(TaskReport::Moved { id: "ghost".into(), phase: TaskProgress::Trained, deliverable: None });
        h.report(TaskReport::Released { id: "ghost".into(), wait: true });
        h.known("x", 1, TaskProgress::Failed);
        h.known("x", 1, TaskProgress::Failed);
        h.tick(1);
        h.tick(2);
        assert_eq!(h.world.resource::<TaskIndex>().0.len(), 1);
        assert_eq!(h.world.query::<&TrainingTask>().iter(&h.world).count(), 1);
        assert!(drain(&h.delivery).is_empty() && drain(&h.training).is_empty());
    }
}
