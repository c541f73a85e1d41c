use super::*;

fn world_with_reports() -> (World, Schedule, crossbeam_channel::Sender<(B256, DispersalPhase)>) {
    let mut world = World::new();
    world.init_resource::<DaIndex>();
    world.init_resource::<DaView>();
    let (sender, reports) = crossbeam_channel::unbounded();
    world.insert_resource(DispersalReports(reports));
    let mut schedule = Schedule::default();
    schedule.add_systems((record_dispersal_phases, publish_da_view.after(record_dispersal_phases)));
    (world, schedule, sender)
}

fn on_chain(root: B256) -> DaBlob {
    DaBlob { data_root: root, submitter: [0; 20], epoch: 1, quorum: 0, uploaded_at: 3, confirmed_at: None, status: BlobStatus::Processing }
}

#[test]
fn a_dispersal_is_an_entity_from_its_submission_and_its_phase_is_what_status_reads() {
    let (mut world, mut schedule, reports) = world_with_reports();
    let root = B256::repeat_byte(1);
    reports.send((root, DispersalPhase::Registering)).unwrap();
    schedule.run(&mut world);
    let view = world.resource::<DaView>().clone();
    assert_eq!(view.phase(&root), Some(DispersalPhase::Registering), "before the chain has any record");
    assert_eq!(view.get(&root), None);
    let entity = world.resource::<DaIndex>().0[&root];
    assert_eq!(world.get::<LocalDispersal>(entity).map(|l| l.phase.clone()), Some(DispersalPhase::Registering));

    // The chain's record joins the same entity; later phases update it.
    world.entity_mut(entity).insert(on_chain(root));
    reports.send((root, DispersalPhase::Dispersing)).unwrap();
    reports.send((root, DispersalPhase::Submitted)).unwrap();
    schedule.run(&mut world);
    assert_eq!(world.resource::<DaIndex>().0[&root], entity, "one entity per blob");
    assert_eq!(view.phase(&root), Some(DispersalPhase::Submitted), "the last phase reported wins");
    assert_eq!(view.get(&root).map(|b| b.status), Some(BlobStatus::Processing));
    let report = crate::da::status::blob_report(root, view.get(&root).as_ref(), view.phase(&root).as_ref()).unwrap();
    assert_eq!((report.status, report.epoch), (BlobStatus::Processing, 1));
}

#[test]
fn phases_reported_twice_in_one_tick_before_the_entity_exists_land_on_one_entity() {
    let (mut world, mut schedule, reports) = world_with_reports();
    let root = B256::repeat_byte(2);
    reports.send((root, DispersalPhase::Registering)).unwrap();
    reports.send((root, DispersalPhase::Failed { detail: "reverted".into() })).unwrap();
    schedule.run(&mut world);
    assert_eq!(world.query::<&LocalDispersal>().iter(&world).count(), 1);
    assert_eq!(world.resource::<DaView>().phase(&root), Some(DispersalPhase::Failed { detail: "reverted".into() }));
}

#[test]
fn unregistered_dispersals_that_ended_are_dropped_past_the_bound_and_running_ones_kept() {
    let (mut world, mut schedule, reports) = world_with_reports();
    for n in 0..MAX_UNREGISTERED_DISPERSALS as u64 {
        let phase = if n == 0 { DispersalPhase::Dispersing } else { DispersalPhase::Failed { detail: "x".into() } };
        reports.send((B256::from(alloy_primitives::U256::from(n)), phase)).unwrap();
    }
    schedule.run(&mut world);
    reports.send((B256::repeat_byte(0xee), DispersalPhase::Registering)).unwrap();
    schedule.run(&mut world);
    let left: Vec<DispersalPhase> = world.query::<&LocalDispersal>().iter(&world).map(|l| l.phase.clone()).collect();
    assert!(left.len() <= 3, "the ended ones went: {}", left.len());
    assert!(left.iter().all(DispersalPhase::is_running), "{left:?}");
    assert_eq!(world.resource::<DaIndex>().0.len(), left.len());
    assert_eq!(world.resource::<DaView>().phases.read().unwrap().len(), left.len());
}

#[test]
fn a_restart_marks_accepted_blobs_as_resuming_on_their_entities() {
    let mut world = World::new();
    let registered = B256::repeat_byte(3);
    let unregistered = B256::repeat_byte(4);
    install_blobs(&mut world, HashMap::from([(registered, on_chain(registered))]));
    install_local_phases(&mut world, vec![(registered, DispersalPhase::Resuming), (unregistered, DispersalPhase::Resuming)]);
    let index = &world.resource::<DaIndex>().0;
    assert_eq!(index.len(), 2);
    let entity = index[&registered];
    assert!(world.get::<DaBlob>(entity).is_some() && world.get::<LocalDispersal>(entity).is_some(), "one entity carries both");
    let view = world.resource::<DaView>();
    assert_eq!(view.phase(&unregistered), Some(DispersalPhase::Resuming));
}
