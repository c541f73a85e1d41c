//! Proving inferences off the tick: proof requests become job entities (`Compute` set), each
//! job is handed to a rayon pool of its own ([`ProverPool`]) and the tick goes on; a later
//! tick collects the proof and answers the job's requester. A tick never waits for a proof.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use bevy_ecs::prelude::*;

use zg_components::node::TickClock;
use zg_components::verifiable::QuantizedModel;
use zg_components::verifiable::jobs::{
    ModelId, ProofError, ProofInbox, ProofJob, ProofOutcome, ProofRequest, ProofResults, ProofRunning, ProofStats, ProofStatsView, ProvedInference,
};

use super::circuit::{self, ModelKeys};
use super::precompile::field_to_word;
use crate::{NodePlugin, TickSet};

/// Where proofs and key derivations run: a rayon pool of their own, not the global one. Sealing
/// a block joins on the global pool (roots in parallel); a proof holds every worker of the pool
/// it runs on for seconds, and would hold the seal behind it. The node makes one and hands it
/// to whatever proves or derives keys (a resource of its world, and in every [`ProverHandle`]).
/// Its threads start with its first job: a node (or a game's embedded chain) that never proves
/// or derives a key holds none.
#[derive(Resource, Clone)]
pub struct ProverPool(Arc<std::sync::OnceLock<rayon::ThreadPool>>);

impl ProverPool {
    /// A pool with a thread per core, once it has work.
    pub fn new() -> Self {
        Self(Arc::default())
    }

    fn pool(&self) -> &rayon::ThreadPool {
        self.0.get_or_init(|| crate::pools::per_core("prover-"))
    }

    pub fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        self.pool().spawn(work);
    }

    /// Runs `work` on the pool and waits for it.
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        self.pool().install(work)
    }
}

impl Default for ProverPool {
    fn default() -> Self {
        Self::new()
    }
}

/// The proving keys jobs may use, by model id; shared with whoever makes keys (slow: seconds).
#[derive(Clone, Default)]
pub struct KeyRing(Arc<RwLock<HashMap<ModelId, ModelAndKeys>>>);

/// A model and its proving keys.
pub type ModelAndKeys = (Arc<QuantizedModel>, Arc<ModelKeys>);

impl KeyRing {
    pub fn insert(&self, id: ModelId, model: Arc<QuantizedModel>, keys: Arc<ModelKeys>) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(id, (model, keys));
    }

    pub fn get(&self, id: &ModelId) -> Option<ModelAndKeys> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    pub fn contains(&self, id: &ModelId) -> bool {
        self.0.read().unwrap_or_else(|e| e.into_inner()).contains_key(id)
    }
}

#[derive(Resource, Clone, Default)]
pub struct ProvingKeys(pub KeyRing);

/// The sending side: submit a job, wait on the returned receiver for its outcome. Also kept as
/// a resource of the world whose tick runs the jobs, for whoever assembles that world.
#[derive(Resource, Clone)]
pub struct ProverHandle {
    pub requests: crossbeam_channel::Sender<ProofRequest>,
    pub keys: KeyRing,
    /// The pool the jobs run on: key generation for the same models belongs there too.
    pub pool: ProverPool,
    /// The jobs' counts as of the last tick.
    pub stats: ProofStatsView,
}

impl ProverHandle {
    pub fn submit(&self, model: ModelId, input: Vec<i8>) -> crossbeam_channel::Receiver<ProofOutcome> {
        let (reply, outcome) = crossbeam_channel::bounded(1);
        if let Err(error) = self.requests.send(ProofRequest { model, input, reply }) {
            let _ = error.0.reply.send(Err(ProofError::Stopped));
        }
        outcome
    }
}

/// Adds proving to a tick: the inbox, the keys, the three systems. Returns the handle.
pub struct ProvingPlugin {
    pub handle: ProverHandle,
    inbox: crossbeam_channel::Receiver<ProofRequest>,
}

impl ProvingPlugin {
    /// Proving on a pool of its own.
    pub fn new() -> Self {
        Self::with_pool(ProverPool::new())
    }

    /// Proving on `pool` (the node's, shared with key warming).
    pub fn with_pool(pool: ProverPool) -> Self {
        let (requests, inbox) = crossbeam_channel::unbounded();
        Self { handle: ProverHandle { requests, keys: KeyRing::default(), pool, stats: ProofStatsView::default() }, inbox }
    }
}

impl Default for ProvingPlugin {
    fn default() -> Self {
        Self::new()
    }
}

/// The verifiable-compute domain's steps: other domains (and embedding hosts) order against
/// these.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComputeSet {
    /// Registered models' keys handed to the pool to derive (Compute).
    WarmKeys,
    /// Proof jobs admitted, started on the pool and finished (Compute).
    Prove,
}

impl NodePlugin for ProvingPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.insert_resource(ProofInbox(self.inbox.clone()));
        world.insert_resource(ProvingKeys(self.handle.keys.clone()));
        world.insert_resource(self.handle.clone());
        world.insert_resource(self.handle.pool.clone());
        world.init_resource::<ProofResults>();
        world.init_resource::<ProofStats>();
        world.insert_resource(self.handle.stats.clone());
        world.init_resource::<TickClock>();
        schedule.add_systems(
            (admit_proof_jobs, start_proof_jobs, finish_proof_jobs, publish_proof_stats).chain().in_set(TickSet::Compute).in_set(ComputeSet::Prove),
        );
    }
}

/// Requests waiting in the inbox become job entities.
pub fn admit_proof_jobs(mut commands: Commands, inbox: Res<ProofInbox>, clock: Res<TickClock>, mut stats: ResMut<ProofStats>) {
    for request in inbox.0.try_iter() {
        commands.spawn(admit(&mut stats, request, clock.tick));
    }
}

/// A request as the job entity that carries it, counted.
fn admit(stats: &mut ProofStats, request: ProofRequest, tick: u64) -> ProofJob {
    stats.admitted += 1;
    ProofJob { model: request.model, input: request.input, reply: request.reply, arrived_tick: tick }
}

fn prove(model: &Arc<QuantizedModel>, keys: &ModelKeys, input: &[i8]) -> ProofOutcome {
    let started = Instant::now();
    let (proof, public) = circuit::prove(keys, model, input).map_err(|e| ProofError::Prover(e.to_string()))?;
    let logits = super::inference::infer(model, input).map_err(|e| ProofError::Prover(e.to_string()))?.logits.iter().map(|l| i64::from(*l)).collect();
    Ok(ProvedInference { proof, public: public.iter().map(field_to_word).collect(), logits, prove_micros: started.elapsed().as_micros() as u64 })
}

/// New jobs go to the rayon pool (or fail at once for a model without keys).
pub fn start_proof_jobs(
    mut commands: Commands,
    jobs: Query<(Entity, &ProofJob), Without<ProofRunning>>,
    keys: Res<ProvingKeys>,
    results: Res<ProofResults>,
    pool: Res<ProverPool>,
    mut stats: ResMut<ProofStats>,
) {
    for (entity, job) in &jobs {
        let Some((model, model_keys)) = keys.0.get(&job.model) else {
            let _ = job.reply.send(Err(ProofError::NoKeys));
            stats.failed += 1;
            commands.entity(entity).despawn();
            continue;
        };
        let (input, sender) = (job.input.clone(), results.sender.clone());
        pool.spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prove(&model, &model_keys, &input)))
                .unwrap_or(Err(ProofError::Panicked));
            let _ = sender.send((entity, outcome));
        });
        stats.in_flight += 1;
        commands.entity(entity).insert(ProofRunning);
    }
}

/// Finished proofs answer their jobs; the job entities go.
pub fn finish_proof_jobs(mut commands: Commands, results: Res<ProofResults>, jobs: Query<&ProofJob>, mut stats: ResMut<ProofStats>) {
    if stats.in_flight > 0 {
        stats.ticks_while_proving += 1;
    }
    for (entity, outcome) in results.receiver.try_iter() {
        stats.in_flight = stats.in_flight.saturating_sub(1);
        match &outcome {
            Ok(_) => stats.proved += 1,
            Err(_) => stats.failed += 1,
        }
        if let Ok(job) = jobs.get(entity) {
            let _ = job.reply.send(outcome);
        }
        commands.entity(entity).despawn();
    }
}

/// Copies the counts for the I/O side when a tick changed them.
pub fn publish_proof_stats(stats: Res<ProofStats>, view: Res<ProofStatsView>) {
    if stats.is_changed()
        && let Ok(mut published) = view.0.write()
    {
        *published = *stats;
    }
}

/// A world that only proves, ticked on its own thread every `period` (for a provider that is
/// not also a node). Stops when the returned handle's requests side and every clone are gone.
pub fn spawn_prover_thread(period: std::time::Duration) -> ProverHandle {
    let plugin = ProvingPlugin::new();
    let handle = plugin.handle.clone();
    let mut world = World::new();
    let mut schedule = crate::tick_schedule(&mut world, &[&plugin]);
    // The world must not hold a sender to its own inbox, or the thread would never see the
    // last outside handle go.
    world.remove_resource::<ProverHandle>();
    let inbox = plugin.inbox.clone();
    drop(plugin);
    std::thread::Builder::new()
        .name("prover-tick".into())
        .spawn(move || {
            loop {
                world.resource_mut::<TickClock>().tick += 1;
                schedule.run(&mut world);
                let idle = world.resource::<ProofStats>().in_flight == 0;
                // Wait for a request (or a proof to collect); leave when no sender is left.
                match inbox.recv_timeout(if idle { period * 20 } else { period }) {
                    Ok(request) => {
                        let tick = world.resource::<TickClock>().tick;
                        let job = admit(&mut world.resource_mut::<ProofStats>(), request, tick);
                        world.spawn(job);
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) if idle => return,
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => std::thread::sleep(period),
                }
            }
        })
        .expect("spawning the prover thread");
    handle
}

#[cfg(test)]
mod tests {
    use super::*;
    use zg_components::verifiable::ModelFile;

    /// A proof takes seconds; the tick keeps running meanwhile, and the job's outcome is the
    /// same proof a direct call makes (it verifies for the same public inputs).
    #[test]
    fn ticks_go_on_while_a_proof_is_made_off_the_tick() {
        let file: ModelFile = serde_json::from_str(include_str!("../../../assets/models/digits/digits-small.json")).unwrap();
        let model = Arc::new(file.model);
        let keys = Arc::new(circuit::setup(&model).unwrap());
        let plugin = ProvingPlugin::new();
        let mut world = World::new();
        let mut schedule = crate::tick_schedule(&mut world, &[&plugin]);
        plugin.handle.keys.insert([1; 32], model.clone(), keys.clone());
        let outcome = plugin.handle.submit([1; 32], file.test.inputs[0].clone());
        let missing = plugin.handle.submit([2; 32], file.test.inputs[0].clone());
        let mut ticks = 0u64;
        let proved = loop {
            world.resource_mut::<TickClock>().tick += 1;
            schedule.run(&mut world);
            ticks += 1;
            if let Ok(outcome) = outcome.try_recv() {
                break outcome.unwrap();
            }
            assert!(ticks < 1_000_000, "the proof never came back");
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(matches!(missing.try_recv(), Ok(Err(_))), "a model without keys fails at once");
        let stats = *world.resource::<ProofStats>();
        assert!(stats.ticks_while_proving >= 10, "ticks ran while proving: {stats:?}");
        assert_eq!((stats.admitted, stats.proved, stats.failed, stats.in_flight), (2, 1, 1, 0));
        assert_eq!(plugin.handle.stats.read(), stats, "the I/O side's copy is the tick's counts");
        assert_eq!(world.query::<&ProofJob>().iter(&world).count(), 0, "finished jobs are gone");
        let public: Vec<_> = proved.public.iter().map(|w| super::super::precompile::field_from_word(w).unwrap()).collect();
        assert_eq!(public, circuit::public_inputs(&model, &file.test.inputs[0]).unwrap());
        circuit::verify(&keys.params, keys.vk(), &public, &proved.proof).unwrap();
    }
}
