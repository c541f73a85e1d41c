//! The provider's tick for fine-tuning: a world of its own (a provider may run apart from any
//! node) with the task lifecycle of `zg_systems::compute::training_tasks` in its `Compute` set,
//! run every [`TICK`] while a task is open or a report waits, else every [`IDLE_TICK`]. At
//! start the stored tasks come back as entities in the phase they had; the trainer and the
//! deliverer take the tick's orders on threads of their own and report back.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bevy_ecs::world::World;
use tokio::sync::watch;

use super::FineTuningService;
use zg_components::compute::training_tasks::{TaskBoard, TaskOrders, TaskPolling, TaskReport};
use zg_components::node::TickClock;
use zg_systems::compute::training_tasks::TrainingTasksPlugin;

/// How often the tick runs: a report waits at most this long to be acted on.
pub const TICK: Duration = Duration::from_millis(50);

/// How often the tick runs while no task is open and no report waits (a new task arrives as a
/// report, which the next [`TICK`] sees).
pub const IDLE_TICK: Duration = Duration::from_secs(1);

/// Restores the stored tasks into a new world and starts the tick, the trainer and the
/// deliverer; all three end when `stopped` turns true.
pub fn start(
    ft: Arc<FineTuningService>,
    reports: crossbeam_channel::Receiver<TaskReport>,
    poll: Duration,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let (training, training_orders) = crossbeam_channel::unbounded();
    let (delivery, delivery_orders) = crossbeam_channel::unbounded();
    let plugin = TrainingTasksPlugin { reports, orders: TaskOrders { training, delivery }, polling: TaskPolling { wait_ms: poll.as_millis() as u64 } };
    let mut world = World::new();
    let mut schedule = zg_systems::tick_schedule(&mut world, &[&plugin]);
    // Four small systems in a chain: the multi-threaded executor's wake-ups would cost more
    // than they run.
    schedule.set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
    let waiting = world.resource::<zg_components::compute::training_tasks::TaskReports>().0.clone();
    let records = ft.store.all().context("reading the stored fine-tuning tasks")?;
    let open = records.iter().filter(|r| !r.task.progress.is_terminal()).count();
    for record in &records {
        ft.report_known(record);
    }
    if open > 0 {
        tracing::info!(tasks = records.len(), open, "restored the fine-tuning tasks");
    }
    let trainer = {
        let (ft, stopped) = (ft.clone(), stopped.clone());
        tokio::task::spawn_blocking(move || super::train::run(&ft, &training_orders, &stopped))
    };
    let deliverer = {
        let (ft, stopped, runtime) = (ft.clone(), stopped.clone(), tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || super::deliver::run(&ft, &delivery_orders, &runtime, &stopped))
    };
    let board = ft.board.clone();
    let mut stopped = stopped;
    let tick = tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_run = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            let idle = waiting.is_empty() && !has_open_tasks(world.resource::<TaskBoard>());
            if idle && last_run.elapsed() < IDLE_TICK {
                continue;
            }
            last_run = tokio::time::Instant::now();
            run_once(&mut world, &mut schedule);
            let now = world.resource::<TaskBoard>();
            let mut kept = board.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if (&kept.by_phase, kept.working) != (&now.by_phase, now.working) {
                record_metrics(now);
            }
            *kept = now.clone();
        }
    });
    Ok(vec![tick, trainer, deliverer])
}

/// Whether a task is held by a worker or in a phase the tick still moves on.
fn has_open_tasks(board: &TaskBoard) -> bool {
    board.working > 0 || board.by_phase.iter().any(|(phase, count)| *count > 0 && !phase.is_terminal())
}

/// `compute_fine_tuning_tasks{phase}` (every phase, 0 when none) and
/// `compute_fine_tuning_tasks_working`, in the process's Prometheus exporter.
fn record_metrics(board: &TaskBoard) {
    use zg_components::compute::fine_tuning::TaskProgress::*;
    for phase in [Init, SettingUp, Training, Trained, Delivering, Delivered, UserAcknowledged, Finished, Failed] {
        let count = board.by_phase.iter().find(|(p, _)| *p == phase).map_or(0, |(_, n)| *n);
        metrics::gauge!("compute_fine_tuning_tasks", "phase" => format!("{phase:?}")).set(count as f64);
    }
    metrics::gauge!("compute_fine_tuning_tasks_working").set(board.working as f64);
}

fn run_once(world: &mut World, schedule: &mut bevy_ecs::schedule::Schedule) {
    {
        let mut clock = world.resource_mut::<TickClock>();
        clock.tick += 1;
        clock.now_ms = crate::wall_clock::now_ms();
    }
    schedule.run(world);
}
