//! The alignment node's tick (`Compute` set): an opened epoch's targets are drawn from the chain's
//! seed and become audit entities; each is ordered to the checker once; checked ones take their
//! verdict; when the chain has moved past an epoch and all its audits are judged, its report
//! (checked, failed, a digest of every verdict) is ordered once and the epoch's audits leave the
//! world. The checks and the report transaction run outside the tick.

use alloy_primitives::{B256, keccak256};
use bevy_ecs::prelude::*;

use zg_components::alignment::{
    Audit, AuditBoard, AuditQuota, AuditState, AuditTarget, AuditUniverse, AuditorOrder, AuditorOrders, AuditorReport, AuditorReports,
    ReportProgress,
};
use zg_components::storage::merkle;

use crate::{NodePlugin, TickSet};

/// The auditor's lifecycle; the I/O side hands it the two channels and the quota.
pub struct AuditorPlugin {
    pub reports: crossbeam_channel::Receiver<AuditorReport>,
    pub orders: crossbeam_channel::Sender<AuditorOrder>,
    pub quota: AuditQuota,
}

impl NodePlugin for AuditorPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.insert_resource(AuditorReports(self.reports.clone()));
        world.insert_resource(AuditorOrders(self.orders.clone()));
        world.insert_resource(self.quota);
        world.init_resource::<AuditBoard>();
        schedule.add_systems((take_auditor_reports, order_checks, order_reports).chain().in_set(TickSet::Compute));
    }
}

/// Word `i` of the draw for `kind`: keccak(seed ‖ kind ‖ i).
fn draw_word(seed: &B256, kind: &[u8], i: usize) -> u64 {
    let mut input = Vec::with_capacity(32 + kind.len() + 8);
    input.extend_from_slice(seed.as_slice());
    input.extend_from_slice(kind);
    input.extend_from_slice(&(i as u64).to_be_bytes());
    let hash = keccak256(input);
    u64::from_be_bytes(hash[24..32].try_into().expect("8 bytes"))
}

/// The epoch's targets: `quota` segments, each of a file drawn uniformly and a data segment of it
/// drawn uniformly, `quota` confirmed blobs, and `quota` distinct providers (those whose
/// keccak with the seed is least) each with an input drawn from the seed, all from `seed`
/// alone. The same seed and universe give the same targets to every auditor; nobody chooses them.
pub fn draw(seed: &B256, universe: &AuditUniverse, quota: &AuditQuota) -> Vec<AuditTarget> {
    let mut targets = Vec::new();
    if !universe.files.is_empty() {
        for i in 0..quota.storage_segments {
            let word = draw_word(seed, b"storage", i);
            let file = universe.files[(word % universe.files.len() as u64) as usize];
            let segments = merkle::data_segments(file.size).max(1);
            let segment = draw_word(seed, b"segment", i) % segments;
            targets.push(AuditTarget::StorageSegment { tx_seq: file.tx_seq, root: file.root, size: file.size, segment });
        }
    }
    if !universe.blobs.is_empty() {
        for i in 0..quota.da_blobs {
            let word = draw_word(seed, b"da", i);
            targets.push(AuditTarget::DaBlob { data_root: universe.blobs[(word % universe.blobs.len() as u64) as usize] });
        }
    }
    for (order, provider) in distinct(seed, b"compute", &universe.providers, |p| p.provider, quota.verified_requests) {
        let input_seed = keccak256([order.as_slice(), b"input"].concat());
        targets.push(AuditTarget::VerifiedResult { provider: provider.provider, url: provider.url.clone(), input_seed });
    }
    for (order, service) in distinct(seed, b"chat", &universe.chat_services, |s| s.provider, quota.chat_records) {
        let prompt_seed = keccak256([order.as_slice(), b"prompt"].concat());
        targets.push(AuditTarget::ChatRecord { provider: service.provider, model: service.model.clone(), prompt_seed });
    }
    targets
}

/// `take` of `items`, distinct, in the order of keccak(seed ‖ kind ‖ address): each with its
/// order word.
fn distinct<'a, T>(seed: &B256, kind: &[u8], items: &'a [T], address: impl Fn(&T) -> alloy_primitives::Address, take: usize) -> Vec<(B256, &'a T)> {
    let mut ordered: Vec<_> = items.iter().map(|item| (keccak256([seed.as_slice(), kind, address(item).as_slice()].concat()), item)).collect();
    ordered.sort_by_key(|(order, _)| *order);
    ordered.truncate(take);
    ordered
}

/// The digest a report carries: every verdict of the epoch, in draw order.
pub fn report_digest(epoch: u64, verdicts: &[(usize, AuditTarget, bool)]) -> B256 {
    let mut input = format!("zgnode alignment report {epoch}").into_bytes();
    for (index, target, passed) in verdicts {
        input.extend_from_slice(&(*index as u64).to_be_bytes());
        input.extend_from_slice(format!("{target:?}").as_bytes());
        input.push(u8::from(*passed));
    }
    keccak256(input)
}

pub fn take_auditor_reports(
    mut commands: Commands,
    reports: Res<AuditorReports>,
    quota: Res<AuditQuota>,
    mut board: ResMut<AuditBoard>,
    mut audits: Query<(&Audit, &mut AuditState)>,
) {
    for report in reports.0.try_iter() {
        match report {
            AuditorReport::EpochOpened { epoch, seed, universe } => {
                if !board.opened.insert(epoch) {
                    continue;
                }
                board.current_epoch = board.current_epoch.max(epoch);
                for (index, target) in draw(&seed, &universe, &quota).into_iter().enumerate() {
                    commands.spawn((Audit { epoch, index, target }, AuditState::Drawn));
                }
            }
            AuditorReport::Checked { epoch, index, passed, detail } => {
                for (audit, mut state) in &mut audits {
                    if audit.epoch == epoch && audit.index == index && *state == AuditState::Checking {
                        *state = if passed { AuditState::Passed } else { AuditState::Failed(detail.clone()) };
                        board.checked += 1;
                        board.failed += u64::from(!passed);
                    }
                }
            }
            AuditorReport::Reported { epoch, sent } => {
                board.reports.insert(epoch, if sent { ReportProgress::Sent } else { ReportProgress::NotSent });
            }
        }
    }
}

pub fn order_checks(orders: Res<AuditorOrders>, mut audits: Query<(&Audit, &mut AuditState)>) {
    for (audit, mut state) in &mut audits {
        if *state == AuditState::Drawn && orders.0.send(AuditorOrder::Check { epoch: audit.epoch, index: audit.index, target: audit.target.clone() }).is_ok() {
            *state = AuditState::Checking;
        }
    }
}

/// An audit of an epoch: its entity, place in the draw, target and verdict (None: not yet).
type Judged = (Entity, usize, AuditTarget, Option<bool>);

/// Orders the report of every epoch the chain has left whose audits are all judged (an epoch
/// with nothing to audit reports zero checks), then lets its audits go.
pub fn order_reports(mut commands: Commands, orders: Res<AuditorOrders>, mut board: ResMut<AuditBoard>, audits: Query<(Entity, &Audit, &AuditState)>) {
    let current = board.current_epoch;
    let mut epochs: std::collections::BTreeMap<u64, Vec<Judged>> = Default::default();
    for (entity, audit, state) in &audits {
        let verdict = match state {
            AuditState::Passed => Some(true),
            AuditState::Failed(_) => Some(false),
            _ => None,
        };
        epochs.entry(audit.epoch).or_default().push((entity, audit.index, audit.target.clone(), verdict));
    }
    // The epoch just left, even when it drew nothing, if this auditor watched it.
    if current > 0 && board.opened.contains(&(current - 1)) {
        epochs.entry(current - 1).or_default();
    }
    for (epoch, mut entries) in epochs {
        if epoch + 1 != current || board.reports.contains_key(&epoch) || entries.iter().any(|(_, _, _, v)| v.is_none()) {
            continue;
        }
        entries.sort_by_key(|(_, index, _, _)| *index);
        let verdicts: Vec<(usize, AuditTarget, bool)> = entries.iter().map(|(_, i, t, v)| (*i, t.clone(), v.unwrap_or(false))).collect();
        let failed = verdicts.iter().filter(|(_, _, passed)| !passed).count() as u64;
        let order = AuditorOrder::Report { epoch, checked: verdicts.len() as u64, failed, digest: report_digest(epoch, &verdicts) };
        if orders.0.send(order).is_ok() {
            board.reports.insert(epoch, ReportProgress::Ordered);
            for (entity, ..) in entries {
                commands.entity(entity).despawn();
            }
        }
    }
    // Epochs already past reporting take their audits with them.
    for (entity, audit, _) in &audits {
        if audit.epoch + 1 < current {
            commands.entity(entity).despawn();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;
    use zg_components::alignment::{ChatService, PublishedFile, ServingProvider};

    fn universe() -> AuditUniverse {
        AuditUniverse {
            files: vec![
                PublishedFile { tx_seq: 0, root: B256::repeat_byte(1), size: 1_000_000 },
                PublishedFile { tx_seq: 1, root: B256::repeat_byte(2), size: 300 },
            ],
            blobs: vec![B256::repeat_byte(9)],
            providers: (1..=3u8).map(|i| ServingProvider { provider: Address::repeat_byte(i), url: format!("http://127.0.0.1:{i}") }).collect(),
            chat_services: vec![ChatService { provider: Address::repeat_byte(7), model: "zg-tiny-llama".into() }],
        }
    }

    const QUOTA: AuditQuota = AuditQuota { storage_segments: 4, da_blobs: 2, verified_requests: 2, chat_records: 1 };

    #[test]
    fn the_draw_is_the_seeds_alone_and_stays_inside_the_files() {
        let a = draw(&B256::repeat_byte(5), &universe(), &QUOTA);
        assert_eq!(a, draw(&B256::repeat_byte(5), &universe(), &QUOTA));
        assert_ne!(a, draw(&B256::repeat_byte(6), &universe(), &QUOTA));
        assert_eq!(a.len(), 9);
        for target in &a {
            if let AuditTarget::StorageSegment { size, segment, .. } = target {
                assert!(*segment < merkle::data_segments(*size));
            }
        }
        // Two distinct providers of three; all three when the quota covers them.
        let providers = |targets: &[AuditTarget]| -> std::collections::BTreeSet<Address> {
            targets.iter().filter_map(|t| if let AuditTarget::VerifiedResult { provider, .. } = t { Some(*provider) } else { None }).collect()
        };
        assert_eq!(providers(&a).len(), 2);
        assert_eq!(providers(&draw(&B256::repeat_byte(5), &universe(), &AuditQuota { verified_requests: 9, ..QUOTA })).len(), 3);
        assert!(draw(&B256::ZERO, &AuditUniverse::default(), &QUOTA).is_empty());
    }

    fn tick_world() -> (World, Schedule, crossbeam_channel::Sender<AuditorReport>, crossbeam_channel::Receiver<AuditorOrder>) {
        let (report_tx, report_rx) = crossbeam_channel::unbounded();
        let (order_tx, order_rx) = crossbeam_channel::unbounded();
        let mut world = World::new();
        let plugin = AuditorPlugin { reports: report_rx, orders: order_tx, quota: QUOTA };
        let schedule = crate::tick_schedule(&mut world, &[&plugin as &dyn NodePlugin]);
        (world, schedule, report_tx, order_rx)
    }

    #[test]
    fn an_epoch_is_reported_once_after_the_chain_leaves_it_and_every_audit_is_judged() {
        let (mut world, mut schedule, reports, orders) = tick_world();
        reports.send(AuditorReport::EpochOpened { epoch: 3, seed: B256::repeat_byte(1), universe: universe() }).unwrap();
        schedule.run(&mut world);
        let checks: Vec<_> = orders.try_iter().collect();
        assert_eq!(checks.len(), 9, "each audit ordered once");
        schedule.run(&mut world);
        assert!(orders.try_iter().next().is_none(), "and only once");
        for order in &checks {
            let AuditorOrder::Check { epoch, index, .. } = order else { panic!("{order:?}") };
            reports.send(AuditorReport::Checked { epoch: *epoch, index: *index, passed: *index != 2, detail: "bad proof".into() }).unwrap();
        }
        schedule.run(&mut world);
        assert!(orders.try_iter().next().is_none(), "epoch 3 is still running");
        reports.send(AuditorReport::EpochOpened { epoch: 4, seed: B256::repeat_byte(2), universe: AuditUniverse::default() }).unwrap();
        schedule.run(&mut world);
        let out: Vec<_> = orders.try_iter().collect();
        assert!(matches!(out.as_slice(), [AuditorOrder::Report { epoch: 3, checked: 9, failed: 1, .. }]), "{out:?}");
        schedule.run(&mut world);
        assert!(orders.try_iter().next().is_none(), "one report per epoch");
        assert_eq!(world.query::<&Audit>().iter(&world).count(), 0, "reported audits leave the world");
        // A stale or repeated epoch draws nothing again.
        reports.send(AuditorReport::EpochOpened { epoch: 4, seed: B256::repeat_byte(2), universe: universe() }).unwrap();
        schedule.run(&mut world);
        assert!(orders.try_iter().next().is_none());
        // An epoch that drew nothing still reports zero checks once the chain leaves it.
        reports.send(AuditorReport::EpochOpened { epoch: 5, seed: B256::repeat_byte(3), universe: AuditUniverse::default() }).unwrap();
        schedule.run(&mut world);
        let out: Vec<_> = orders.try_iter().collect();
        assert!(matches!(out.as_slice(), [AuditorOrder::Report { epoch: 4, checked: 0, failed: 0, .. }]), "{out:?}");
    }
}
