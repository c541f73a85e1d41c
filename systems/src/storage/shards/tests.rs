use super::*;
use alloy_primitives::{B256, LogData};
use std::sync::Mutex;
use zg_components::chain::{CommittedBlock, TxReceipt};
use zg_components::storage::{FileIndex, StorageEvent, StorageInbox};

/// Records the work the systems hand out instead of doing it.
#[derive(Default)]
struct Recorder(Mutex<Vec<ShardWork>>);

impl ShardExecutor for Arc<Recorder> {
    fn run(&self, work: ShardWork) {
        self.0.lock().unwrap().push(work);
    }
}

fn key(n: u8) -> HolderKey {
    [n; 32]
}

fn file(tx_seq: u64, segments: u64) -> FileRecord {
    FileRecord {
        tx_seq,
        root: [7; 32],
        size: segments * 262_144,
        start_entry_index: 0,
        sectors: segments * 1024,
        nodes: vec![],
        submitter: [0; 20],
        block_number: 1,
        tags: Vec::new(),
        tx_from: [0; 20],
    }
}

fn log(data: LogData) -> Log {
    Log { address: MINE_ADDRESS, data }
}

fn block(logs: Vec<Log>) -> Arc<CommittedBlock> {
    let receipt = TxReceipt {
        tx_hash: B256::ZERO,
        block_hash: B256::ZERO,
        block_number: 1,
        tx_index: 0,
        tx_type: 2,
        from: Address::ZERO,
        to: MINE_ADDRESS,
        contract_address: Address::ZERO,
        success: true,
        gas_used: 0,
        cumulative_gas_used: 0,
        effective_gas_price: 0,
        logs,
    };
    Arc::new(CommittedBlock {
        header: Default::default(),
        hash: B256::ZERO,
        transactions: vec![],
        receipts: vec![receipt],
        changes: vec![],
        decided: None,
    })
}

fn registered(miner: u8, node: HolderKey) -> Log {
    log(IPoraMine::Registered { miner: Address::repeat_byte(miner), stake: U256::from(1), nodeId: node.into() }.encode_log_data())
}

fn settled(miner: u8, epoch: u64, missed: u64) -> Log {
    let event = IPoraMine::Settled { miner: Address::repeat_byte(miner), epoch: U256::from(epoch), missed: U256::from(missed), penalty: U256::from(missed) };
    log(event.encode_log_data())
}

fn setup() -> ShardSetup {
    ShardSetup { own: key(2), members: vec![key(1), key(2), key(3), key(4)], data_shards: 2, parity_shards: 2 }
}

/// The shards the plain ring gives this node: (index + segment) mod 4 == 1.
fn plain_ring(segments: u64) -> BTreeSet<(u64, u8)> {
    (0..segments).flat_map(|s| (0..4u8).filter(move |i| (*i as u64 + s) % 4 == 1).map(move |i| (s, i))).collect()
}

/// Four storage nodes, 2+2 shards; this node is the second in the ring; one 3-segment file
/// whose shards here are all on disk (`held`, answered to audits by [`answer_audits`]).
fn world() -> (World, Arc<Recorder>, crossbeam_channel::Sender<StorageEvent>) {
    let mut world = World::new();
    world.insert_resource(TickClock { tick: 1, now_ms: 10_000 });
    world.init_resource::<Messages<FilePublished>>();
    world.init_resource::<Messages<MinerChanged>>();
    world.init_resource::<FileIndex>();
    world.init_resource::<Messages<SealedBlock>>();
    world.init_resource::<MinerRecords>();
    let (sender, inbox) = crossbeam_channel::unbounded();
    world.insert_resource(StorageInbox(inbox));
    crate::storage::track_file(&mut world, file(0, 3), 0, false);
    let recorder = Arc::new(Recorder::default());
    install_sharding(&mut world, setup(), Arc::new(recorder.clone()));
    (world, recorder, sender)
}

/// Does what the I/O side does with the audits handed out: answers from `held`. Returns the
/// other work handed out meanwhile.
fn answer_audits(world: &mut World, recorder: &Recorder, events: &crossbeam_channel::Sender<StorageEvent>, held: &BTreeSet<(u64, u8)>) -> Vec<ShardWork> {
    let work = std::mem::take(&mut *recorder.0.lock().unwrap());
    let mut other = Vec::new();
    for item in work {
        match item {
            ShardWork::Audit { tx_seq, first, count, out } => {
                let (through, missing) = audit_range(&setup(), &out.into_iter().collect(), held, first, count);
                events.send(StorageEvent::Audited { tx_seq, first, through, missing }).unwrap();
            }
            other_work => other.push(other_work),
        }
    }
    bevy_ecs::system::RunSystemOnce::run_system_once(world, crate::storage::ingest_storage_events).unwrap();
    other
}

/// Segments queued for rebuilding and the shards wanted, in order.
fn queued(world: &World) -> Vec<(u64, u64, Vec<u8>)> {
    world.resource::<RepairQueue>().segments.iter().map(|((seq, segment), r)| (*seq, *segment, r.wanted.clone())).collect()
}

fn run_storage_tick(world: &mut World) {
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut *world, follow_pora_standing).unwrap();
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut *world, schedule_audits).unwrap();
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut *world, schedule_repairs).unwrap();
    // Each run above reads with a fresh cursor: this tick's blocks are done with.
    world.resource_mut::<Messages<SealedBlock>>().clear();
}

/// A block sealed this tick.
fn seal(world: &mut World, block: Arc<CommittedBlock>) {
    world.write_message(SealedBlock(block));
}

/// A file published this tick, its shards assigned.
fn publish(world: &mut World, record: FileRecord) {
    world.write_message(FilePublished(record));
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut *world, assign_new_files).unwrap();
    world.resource_mut::<Messages<FilePublished>>().clear();
}

#[test]
fn shard_i_of_segment_s_goes_to_member_i_plus_s_and_skips_members_out_of_placement() {
    let members = [key(1), key(2), key(3), key(4)];
    let none = BTreeSet::new();
    assert_eq!(holder_for(0, 0, &members, &none), Some(key(1)));
    assert_eq!(holder_for(1, 0, &members, &none), Some(key(2)));
    assert_eq!(holder_for(5, 3, &members, &none), Some(key(1)));
    let out = BTreeSet::from([key(1), key(2)]);
    assert_eq!(holder_for(0, 0, &members, &out), Some(key(3)), "next in ring order that is in");
    assert_eq!(holder_for(0, 3, &members, &out), Some(key(4)));
    assert_eq!(holder_for(3, 1, &members, &out), Some(key(3)), "wraps around the ring");
    let everyone = BTreeSet::from(members);
    assert_eq!(holder_for(2, 1, &members, &everyone), Some(key(4)), "with nobody in, the original holder");
    assert_eq!(holder_for(0, 0, &[], &none), None);
}

#[test]
fn a_penalized_holders_shards_are_taken_over_and_rebuilt_by_the_next_holder() {
    let (mut world, recorder, events) = world();
    let held = plain_ring(3);
    // (index + segment) mod 4 == 1: segment 0 shard 1, segment 1 shard 0, segment 2 shard 3.
    assert_eq!(held, BTreeSet::from([(0, 1), (1, 0), (2, 3)]));
    run_storage_tick(&mut world);
    assert_eq!(*recorder.0.lock().unwrap(), vec![ShardWork::Audit { tx_seq: 0, first: 0, count: 3, out: vec![] }], "the file is audited off the tick");
    assert!(answer_audits(&mut world, &recorder, &events, &held).is_empty());
    run_storage_tick(&mut world);
    assert!(recorder.0.lock().unwrap().is_empty(), "nothing to repair while every shard is held");
    assert!(queued(&world).is_empty());

    // Holder 1's miner registers, then misses challenges in epoch 5.
    seal(&mut world, block(vec![registered(0xaa, key(1))]));
    run_storage_tick(&mut world);
    assert!(recorder.0.lock().unwrap().is_empty(), "registering moves nothing");
    seal(&mut world, block(vec![settled(0xaa, 5, 3)]));
    run_storage_tick(&mut world);
    let recorded: Vec<MinerRecord> = world.resource_mut::<Messages<MinerChanged>>().drain().map(|m| m.0).collect();
    let record = MinerRecord { miner: [0xaa; 20], node: key(1), settled: Some((5, true)) };
    assert_eq!(recorded.last(), Some(&record), "changed records go to Persist");

    // Placement moved: the file is audited again, and key(1)'s shards ((index + segment) mod 4
    // == 0) are now this node's, to rebuild.
    assert_eq!(*recorder.0.lock().unwrap(), vec![ShardWork::Audit { tx_seq: 0, first: 0, count: 3, out: vec![key(1)] }]);
    assert!(answer_audits(&mut world, &recorder, &events, &held).is_empty());
    assert_eq!(queued(&world), vec![(0, 0, vec![0]), (0, 1, vec![3]), (0, 2, vec![2])]);
    let holder = world.resource::<ShardIndex>().holders[&key(1)];
    assert_eq!(world.get::<ShardHolder>(holder).unwrap().standing, Standing::Penalized { epoch: 5 });
    assert!(world.resource::<PlacementView>().out().contains(&key(1)));
    run_storage_tick(&mut world);
    let mut work = std::mem::take(&mut *recorder.0.lock().unwrap());
    work.sort_by_key(|w| format!("{w:?}"));
    assert_eq!(
        work,
        vec![
            ShardWork::Repair { tx_seq: 0, segment: 0, wanted: vec![0], holders: vec![key(2), key(2), key(3), key(4)] },
            ShardWork::Repair { tx_seq: 0, segment: 1, wanted: vec![3], holders: vec![key(2), key(3), key(4), key(2)] },
            ShardWork::Repair { tx_seq: 0, segment: 2, wanted: vec![2], holders: vec![key(3), key(4), key(2), key(2)] },
        ]
    );

    // Running repairs are not started twice; a failed one waits, a finished one is held.
    run_storage_tick(&mut world);
    assert!(recorder.0.lock().unwrap().is_empty());
    events.send(StorageEvent::ShardHeld { tx_seq: 0, segment: 0, index: 0 }).unwrap();
    events.send(StorageEvent::RepairFailed { tx_seq: 0, segment: 1, wanted: vec![3] }).unwrap();
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut world, crate::storage::ingest_storage_events).unwrap();
    run_storage_tick(&mut world);
    assert!(recorder.0.lock().unwrap().is_empty(), "the failed rebuild waits its back-off");
    assert!(!queued(&world).iter().any(|(_, segment, _)| *segment == 0), "segment 0's shard is held");
    world.resource_mut::<TickClock>().now_ms += repair_backoff_ms(1);
    run_storage_tick(&mut world);
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![ShardWork::Repair { tx_seq: 0, segment: 1, wanted: vec![3], holders: vec![key(2), key(3), key(4), key(2)] }]
    );

    // An older epoch settled late changes nothing.
    seal(&mut world, block(vec![settled(0xaa, 4, 0)]));
    run_storage_tick(&mut world);
    assert_eq!(world.get::<ShardHolder>(holder).unwrap().standing, Standing::Penalized { epoch: 5 });

    // Passing a later epoch brings the holder back into placement.
    seal(&mut world, block(vec![settled(0xaa, 6, 0)]));
    run_storage_tick(&mut world);
    assert!(world.resource::<PlacementView>().out().is_empty());
    assert_eq!(world.get::<ShardHolder>(holder).unwrap().standing, Standing::Good);
}

#[test]
fn segments_stored_here_are_handed_out_for_encoding_and_placement() {
    let (mut world, recorder, events) = world();
    events.send(StorageEvent::SegmentStored { tx_seq: 0, index: 2 }).unwrap();
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut world, crate::storage::ingest_storage_events).unwrap();
    let held: Vec<HeldSegment> = world.query::<&HeldSegment>().iter(&world).cloned().collect();
    assert_eq!(held, vec![HeldSegment { tx_seq: 0, index: 2 }], "a segment entity, not placed yet");
    recorder.0.lock().unwrap().clear();
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut world, place_held_segments).unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![ShardWork::Place { tx_seq: 0, segment: 2, holders: vec![key(3), key(4), key(1), key(2)] }]
    );
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut world, place_held_segments).unwrap();
    assert_eq!(recorder.0.lock().unwrap().len(), 1, "placed once");
    assert_eq!(world.query::<&HeldSegment>().iter(&world).count(), 0, "nothing per segment is kept once handed out");
}

#[test]
fn shards_of_a_new_file_wait_for_the_upload_before_a_rebuild() {
    let (mut world, recorder, events) = world();
    run_storage_tick(&mut world);
    answer_audits(&mut world, &recorder, &events, &plain_ring(3));
    publish(&mut world, file(1, 1));
    run_storage_tick(&mut world);
    assert!(recorder.0.lock().unwrap().is_empty(), "no audit before the uploader placed its shards");
    world.resource_mut::<TickClock>().now_ms += FIRST_REPAIR_DELAY_MS;
    run_storage_tick(&mut world);
    assert_eq!(*recorder.0.lock().unwrap(), vec![ShardWork::Audit { tx_seq: 1, first: 0, count: 1, out: vec![] }]);
    answer_audits(&mut world, &recorder, &events, &BTreeSet::new());
    assert_eq!(queued(&world), vec![(1, 0, vec![1])]);
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 1, "one rebuild");
}

#[test]
fn standings_recorded_before_a_restart_hold_at_start() {
    let mut world = World::new();
    world.insert_resource(TickClock { tick: 1, now_ms: 10_000 });
    world.init_resource::<Messages<FilePublished>>();
    world.init_resource::<Messages<MinerChanged>>();
    world.init_resource::<FileIndex>();
    world.init_resource::<Messages<SealedBlock>>();
    let (events, inbox) = crossbeam_channel::unbounded();
    world.insert_resource(StorageInbox(inbox));
    let mut records = MinerRecords::default();
    apply_miner_event(&mut records, MinerEvent::Registered { miner: Address::repeat_byte(7), node: key(1) });
    apply_miner_event(&mut records, MinerEvent::Settled { miner: Address::repeat_byte(7), epoch: 3, missed: 1 });
    assert_eq!(apply_miner_event(&mut records, MinerEvent::Settled { miner: Address::repeat_byte(8), epoch: 3, missed: 1 }), None, "unknown miner");
    world.insert_resource(records);
    crate::storage::track_file(&mut world, file(0, 3), 0, false);
    let recorder = Arc::new(Recorder::default());
    install_sharding(&mut world, setup(), Arc::new(recorder.clone()));
    assert_eq!(world.resource::<PlacementView>().out(), BTreeSet::from([key(1)]));
    run_storage_tick(&mut world);
    // On disk: the shards the plain ring gave this node; key(1)'s three are to be rebuilt.
    answer_audits(&mut world, &recorder, &events, &plain_ring(3));
    assert_eq!(queued(&world).len(), 3);
}

#[test]
fn hostile_pora_logs_are_ignored() {
    // Wrong address, wrong topic, truncated data: no event, no panic.
    let good = registered(1, key(1));
    let elsewhere = Log { address: Address::repeat_byte(9), data: good.data.clone() };
    assert_eq!(decode_miner_event(&elsewhere), None);
    let truncated = Log { address: MINE_ADDRESS, data: LogData::new_unchecked(good.data.topics().to_vec(), vec![1, 2, 3].into()) };
    assert_eq!(decode_miner_event(&truncated), None);
    let no_topic = Log { address: MINE_ADDRESS, data: LogData::new_unchecked(vec![], good.data.data.clone()) };
    assert_eq!(decode_miner_event(&no_topic), None);
    let huge_epoch = IPoraMine::Settled { miner: Address::ZERO, epoch: U256::MAX, missed: U256::from(1), penalty: U256::ZERO };
    assert_eq!(decode_miner_event(&log(huge_epoch.encode_log_data())), None);
    assert_eq!(decode_miner_event(&good), Some(MinerEvent::Registered { miner: Address::repeat_byte(1), node: key(1) }));
}

#[test]
fn a_rebuild_that_never_reports_back_is_started_again() {
    let (mut world, recorder, events) = world();
    run_storage_tick(&mut world);
    answer_audits(&mut world, &recorder, &events, &BTreeSet::from([(0, 1), (1, 0)]));
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
    world.resource_mut::<TickClock>().now_ms += REPAIR_TIMEOUT_MS - 1;
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 1, "still running");
    world.resource_mut::<TickClock>().now_ms += 1;
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 2, "given up on and started again");
}

/// A published file of ten million segments (2.4 TiB the publisher never uploads): one entity
/// and a bounded queue here, audits a range at a time, an idle tick that looks at nothing else.
#[test]
fn a_huge_file_costs_a_bounded_amount_of_tracking() {
    let (mut world, recorder, events) = world();
    run_storage_tick(&mut world);
    answer_audits(&mut world, &recorder, &events, &plain_ring(3));
    publish(&mut world, file(1, 10_000_000));
    assert_eq!(world.query::<&FileShards>().iter(&world).count(), 2, "one entity per file");
    assert!(world.entities().len() < 100, "nothing per segment: {} entities", world.entities().len());
    world.resource_mut::<TickClock>().now_ms += FIRST_REPAIR_DELAY_MS;
    for _ in 0..20 {
        run_storage_tick(&mut world);
        let audits = recorder.0.lock().unwrap().iter().filter(|w| matches!(w, ShardWork::Audit { .. })).count();
        assert!(audits <= MAX_AUDITS_IN_FLIGHT, "{audits} audits at once");
        // Nothing is held: every audited segment lacks its shard.
        answer_audits(&mut world, &recorder, &events, &BTreeSet::new());
        assert!(world.resource::<RepairQueue>().segments.len() <= RepairQueue::CAPACITY);
    }
    assert!(world.resource::<RepairQueue>().is_full(), "audits filled the queue, then stopped");
    let file = world.query::<&FileShards>().iter(&world).find(|f| f.tx_seq == 1).unwrap().clone();
    assert!(file.audited_to < 10_000_000 && !file.auditing, "audit paused at {}", file.audited_to);
    assert!(world.entities().len() < 100, "still nothing per segment: {} entities", world.entities().len());
    // Repairs drain the queue a bounded number per tick; then audits resume where they stopped.
    let resume_at = file.audited_to;
    for index in world.resource::<RepairQueue>().segments.keys().copied().take(100).collect::<Vec<_>>() {
        let wanted = world.resource::<RepairQueue>().segments[&index].wanted.clone();
        for shard in wanted {
            events.send(StorageEvent::ShardHeld { tx_seq: index.0, segment: index.1, index: shard }).unwrap();
        }
    }
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut world, crate::storage::ingest_storage_events).unwrap();
    recorder.0.lock().unwrap().clear();
    run_storage_tick(&mut world);
    let work = std::mem::take(&mut *recorder.0.lock().unwrap());
    assert!(work.iter().any(|w| matches!(w, ShardWork::Audit { tx_seq: 1, first, .. } if *first == resume_at)), "{:?}", work.iter().filter(|w| matches!(w, ShardWork::Audit { .. })).collect::<Vec<_>>());
    assert!(work.iter().filter(|w| matches!(w, ShardWork::Repair { .. })).count() <= MAX_REPAIRS_PER_TICK);
}
