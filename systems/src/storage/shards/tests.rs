use super::*;
use alloy_primitives::{B256, LogData};
use std::sync::Mutex;
use zg_components::chain::{CommittedBlock, TxReceipt};
use zg_components::storage::shard::OwnedShard;
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

/// Four storage nodes, 2+2 shards; this node is the second in the ring; one 3-segment file
/// whose shards here are all on disk.
fn world() -> (World, Arc<Recorder>, crossbeam_channel::Sender<StorageEvent>) {
    let mut world = World::new();
    world.insert_resource(TickClock { tick: 1, now_ms: 10_000 });
    world.init_resource::<NewFiles>();
    world.init_resource::<FileIndex>();
    world.init_resource::<SealedBlocks>();
    world.init_resource::<MinerRecords>();
    let (sender, inbox) = crossbeam_channel::unbounded();
    world.insert_resource(StorageInbox(inbox));
    crate::storage::track_file(&mut world, file(0, 3), 0, false);
    let recorder = Arc::new(Recorder::default());
    let setup = ShardSetup { own: key(2), members: vec![key(1), key(2), key(3), key(4)], data_shards: 2, parity_shards: 2 };
    install_sharding(&mut world, setup, Arc::new(recorder.clone()), |_, _, _| true);
    (world, recorder, sender)
}

fn owned(world: &mut World) -> Vec<(u64, u8, bool)> {
    let mut out: Vec<_> = world.query::<&OwnedShard>().iter(world).map(|s| (s.segment, s.index, s.held)).collect();
    out.sort();
    out
}

fn run_storage_tick(world: &mut World) {
    follow_pora_standing(world);
    bevy_ecs::system::RunSystemOnce::run_system_once(world, schedule_repairs).unwrap();
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
    // (index + segment) mod 4 == 1: segment 0 shard 1, segment 1 shard 0, segment 2 shard 3.
    assert_eq!(owned(&mut world), vec![(0, 1, true), (1, 0, true), (2, 3, true)]);
    run_storage_tick(&mut world);
    assert!(recorder.0.lock().unwrap().is_empty(), "nothing to repair while every shard is held");

    // Holder 1's miner registers, then misses challenges in epoch 5.
    world.resource_mut::<SealedBlocks>().0 = vec![block(vec![registered(0xaa, key(1))])];
    run_storage_tick(&mut world);
    assert_eq!(owned(&mut world).len(), 3, "registering moves nothing");
    world.resource_mut::<SealedBlocks>().0 = vec![block(vec![settled(0xaa, 5, 3)])];
    run_storage_tick(&mut world);
    let recorded = std::mem::take(&mut world.resource_mut::<NewFiles>().miners);
    let record = MinerRecord { miner: [0xaa; 20], node: key(1), settled: Some((5, true)) };
    assert_eq!(recorded.last(), Some(&record), "changed records go to Persist");

    // Its shards ((index + segment) mod 4 == 0) are now this node's, to rebuild.
    assert_eq!(
        owned(&mut world),
        vec![(0, 0, false), (0, 1, true), (1, 0, true), (1, 3, false), (2, 2, false), (2, 3, true)]
    );
    let holder = world.resource::<ShardIndex>().holders[&key(1)];
    assert_eq!(world.get::<ShardHolder>(holder).unwrap().standing, Standing::Penalized { epoch: 5 });
    assert!(world.resource::<PlacementView>().out().contains(&key(1)));
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
    let failed = owned(&mut world);
    assert!(failed.contains(&(0, 0, true)));
    world.resource_mut::<TickClock>().now_ms += repair_backoff_ms(1);
    run_storage_tick(&mut world);
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![ShardWork::Repair { tx_seq: 0, segment: 1, wanted: vec![3], holders: vec![key(2), key(3), key(4), key(2)] }]
    );

    // An older epoch settled late changes nothing.
    world.resource_mut::<SealedBlocks>().0 = vec![block(vec![settled(0xaa, 4, 0)])];
    run_storage_tick(&mut world);
    assert_eq!(world.get::<ShardHolder>(holder).unwrap().standing, Standing::Penalized { epoch: 5 });

    // Passing a later epoch brings the holder back into placement.
    world.resource_mut::<SealedBlocks>().0 = vec![block(vec![settled(0xaa, 6, 0)])];
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
    assert_eq!(held, vec![HeldSegment { tx_seq: 0, index: 2, placed: false }], "a segment entity, not placed yet");
    assert!(recorder.0.lock().unwrap().is_empty());
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut world, place_held_segments).unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![ShardWork::Place { tx_seq: 0, segment: 2, holders: vec![key(3), key(4), key(1), key(2)] }]
    );
    bevy_ecs::system::RunSystemOnce::run_system_once(&mut world, place_held_segments).unwrap();
    assert_eq!(recorder.0.lock().unwrap().len(), 1, "placed once");
    assert!(world.query::<&HeldSegment>().iter(&world).all(|s| s.placed));
}

#[test]
fn shards_of_a_new_file_wait_for_the_upload_before_a_rebuild() {
    let (mut world, recorder, _events) = world();
    world.resource_mut::<NewFiles>().files = vec![file(1, 1)];
    assign_new_files(&mut world);
    let new: Vec<_> = world.query::<&OwnedShard>().iter(&world).filter(|s| s.tx_seq == 1).map(|s| (s.index, s.held, s.retry_at)).collect();
    assert_eq!(new, vec![(1, false, 10_000 + FIRST_REPAIR_DELAY_MS)]);
    run_storage_tick(&mut world);
    assert!(recorder.0.lock().unwrap().is_empty());
    world.resource_mut::<TickClock>().now_ms += FIRST_REPAIR_DELAY_MS;
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
}

#[test]
fn standings_recorded_before_a_restart_hold_at_start() {
    let mut world = World::new();
    world.insert_resource(TickClock { tick: 1, now_ms: 10_000 });
    world.init_resource::<NewFiles>();
    world.init_resource::<FileIndex>();
    let mut records = MinerRecords::default();
    apply_miner_event(&mut records, MinerEvent::Registered { miner: Address::repeat_byte(7), node: key(1) });
    apply_miner_event(&mut records, MinerEvent::Settled { miner: Address::repeat_byte(7), epoch: 3, missed: 1 });
    assert_eq!(apply_miner_event(&mut records, MinerEvent::Settled { miner: Address::repeat_byte(8), epoch: 3, missed: 1 }), None, "unknown miner");
    world.insert_resource(records);
    crate::storage::track_file(&mut world, file(0, 3), 0, false);
    let setup = ShardSetup { own: key(2), members: vec![key(1), key(2), key(3), key(4)], data_shards: 2, parity_shards: 2 };
    // On disk: the shards the plain ring gave this node, (index + segment) mod 4 == 1.
    install_sharding(&mut world, setup, Arc::new(Arc::new(Recorder::default())), |_, segment, index| (index as u64 + segment) % 4 == 1);
    assert_eq!(world.resource::<PlacementView>().out(), BTreeSet::from([key(1)]));
    // Its own three plus key(1)'s three (not on disk yet).
    assert_eq!(owned(&mut world).iter().filter(|(_, _, held)| !held).count(), 3);
    assert_eq!(owned(&mut world).len(), 6);
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
    let (mut world, recorder, _events) = world();
    world.resource_mut::<NewFiles>().files = vec![file(1, 1)];
    assign_new_files(&mut world);
    world.resource_mut::<TickClock>().now_ms += FIRST_REPAIR_DELAY_MS;
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
    world.resource_mut::<TickClock>().now_ms += REPAIR_TIMEOUT_MS - 1;
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 1, "still running");
    world.resource_mut::<TickClock>().now_ms += 1;
    run_storage_tick(&mut world);
    assert_eq!(recorder.0.lock().unwrap().len(), 2, "given up on and started again");
}
