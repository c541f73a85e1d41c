use super::*;

const ROOT: [u8; 32] = [7; 32];

fn key(n: u8) -> PeerKey {
    [n; 32]
}

fn signature(n: u8) -> [u8; 64] {
    [n; 64]
}

/// Four members of equal stake, a small square.
fn four_members() -> Dispersal {
    let signers = (1..=4).map(|n| (key(n), 100)).collect();
    Dispersal::new(ROOT, SquareLayout { k: 4 }, signers, 1)
}

fn delivered(machine: &mut Dispersal) -> BTreeMap<PeerKey, BTreeSet<(Axis, usize)>> {
    let effects = machine.start(None);
    assert_eq!(effects, vec![DispersalEffect::Phase(DispersalPhase::Registering), DispersalEffect::Register]);
    let effects = machine.step(DispersalInput::Registered { epoch: 3 });
    assert_eq!(effects[0], DispersalEffect::Phase(DispersalPhase::Dispersing));
    match &effects[1] {
        DispersalEffect::Deliver { epoch: 3, members } => members.clone(),
        other => panic!("expected a delivery, got {other:?}"),
    }
}

fn phase_of(effects: &[DispersalEffect]) -> Option<&DispersalPhase> {
    effects.iter().find_map(|effect| match effect {
        DispersalEffect::Phase(phase) => Some(phase),
        _ => None,
    })
}

#[test]
fn all_members_attest_then_the_signatures_go_on_chain_and_it_is_submitted() {
    let mut machine = four_members();
    let members = delivered(&mut machine);
    assert_eq!(members.len(), 4, "every member keeps axes");
    let mut effects = Vec::new();
    for n in 1..=4 {
        effects = machine.step(DispersalInput::Attested { member: key(n), signature: signature(n) });
        if n == 3 {
            assert_eq!(effects, vec![DispersalEffect::StartGrace(STRAGGLER_GRACE)], "3 of 4 is 2/3: the last one gets a grace");
        }
    }
    let expected = DispersalEffect::SubmitSignatures { keys: (1..=4).map(key).collect(), signatures: (1..=4).map(signature).collect() };
    assert_eq!(effects, vec![expected]);
    assert_eq!(machine.phase(), &DispersalPhase::Dispersing, "not submitted until the transaction lands");
    assert!(!machine.is_over());
    assert_eq!(phase_of(&machine.step(DispersalInput::SignaturesLanded)), Some(&DispersalPhase::Submitted));
    assert!(machine.is_over());
    assert_eq!(machine.tally(), Tally { signed_slots: machine.tally().total_slots, total_slots: machine.tally().total_slots, members: 4 });
}

#[test]
fn a_straggler_is_cut_off_after_the_grace_and_the_rest_are_submitted() {
    let mut machine = four_members();
    delivered(&mut machine);
    for n in 1..=3 {
        machine.step(DispersalInput::Attested { member: key(n), signature: signature(n) });
    }
    let effects = machine.step(DispersalInput::GraceOver);
    assert_eq!(effects[0], DispersalEffect::StopDeliveries);
    assert!(matches!(&effects[1], DispersalEffect::SubmitSignatures { keys, .. } if keys.len() == 3));
    // The straggler's late answer changes nothing.
    assert!(machine.step(DispersalInput::Attested { member: key(4), signature: signature(4) }).is_empty());
}

#[test]
fn too_many_refusals_stop_it_short_with_the_reasons() {
    let mut machine = four_members();
    delivered(&mut machine);
    machine.step(DispersalInput::Attested { member: key(1), signature: signature(1) });
    machine.step(DispersalInput::Refused { member: key(2), why: "refused the pieces".into() });
    machine.step(DispersalInput::Refused { member: key(3), why: "would not attest".into() });
    let effects = machine.step(DispersalInput::Refused { member: key(4), why: "not connected".into() });
    match phase_of(&effects) {
        Some(DispersalPhase::Insufficient { detail }) => {
            assert!(detail.contains("would not attest") && detail.contains("not connected"), "{detail}");
        }
        other => panic!("expected insufficient, got {other:?}"),
    }
    assert!(machine.is_over());
}

#[test]
fn the_deadline_without_two_thirds_is_insufficient() {
    let mut machine = four_members();
    delivered(&mut machine);
    machine.step(DispersalInput::Attested { member: key(1), signature: signature(1) });
    let effects = machine.step(DispersalInput::DeadlineReached);
    assert_eq!(effects[0], DispersalEffect::StopDeliveries);
    assert!(matches!(phase_of(&effects), Some(DispersalPhase::Insufficient { detail }) if detail.contains("did not answer in time")));
}

#[test]
fn a_failed_registration_or_submission_fails_it() {
    let mut machine = four_members();
    machine.start(None);
    let effects = machine.step(DispersalInput::RegistrationFailed("reverted".into()));
    assert_eq!(phase_of(&effects), Some(&DispersalPhase::Failed { detail: "reverted".into() }));
    assert!(machine.step(DispersalInput::Registered { epoch: 1 }).is_empty(), "over is over");

    let mut machine = four_members();
    delivered(&mut machine);
    for n in 1..=4 {
        machine.step(DispersalInput::Attested { member: key(n), signature: signature(n) });
    }
    let effects = machine.step(DispersalInput::SignaturesFailed("out of gas".into()));
    assert!(matches!(phase_of(&effects), Some(DispersalPhase::Failed { detail }) if detail.contains("out of gas")));
}

#[test]
fn a_blob_the_chain_has_skips_registration() {
    let mut machine = four_members();
    let effects = machine.start(Some(9));
    assert!(!effects.contains(&DispersalEffect::Register));
    assert!(effects.iter().any(|e| matches!(e, DispersalEffect::Deliver { epoch: 9, .. })));
}

#[test]
fn answers_from_strangers_or_twice_count_once_at_most() {
    let mut machine = four_members();
    delivered(&mut machine);
    assert!(machine.step(DispersalInput::Attested { member: key(9), signature: signature(9) }).is_empty(), "not a member");
    machine.step(DispersalInput::Attested { member: key(1), signature: signature(1) });
    assert!(machine.step(DispersalInput::Attested { member: key(1), signature: signature(1) }).is_empty(), "a second answer");
    assert!(machine.step(DispersalInput::Refused { member: key(1), why: "changed its mind".into() }).is_empty());
    assert_eq!(machine.tally().signed_slots * 4, machine.tally().total_slots, "one member's slots");
}

#[test]
fn stake_decides_not_heads_one_big_signer_is_enough() {
    // One member with 3/4 of the stake attests: 2/3 of the slots, whatever the others do.
    let signers = vec![(key(1), 300), (key(2), 50), (key(3), 50)];
    let mut machine = Dispersal::new(ROOT, SquareLayout { k: 4 }, signers, 1);
    delivered(&mut machine);
    let effects = machine.step(DispersalInput::Attested { member: key(1), signature: signature(1) });
    assert_eq!(effects, vec![DispersalEffect::StartGrace(STRAGGLER_GRACE)]);
    let effects = machine.step(DispersalInput::GraceOver);
    assert!(matches!(&effects[1], DispersalEffect::SubmitSignatures { keys, .. } if keys == &vec![key(1)]));
}
