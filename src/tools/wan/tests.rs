use super::*;

fn plan(validators: usize) -> WanPlan {
    WanPlan { validators, seconds: 4, warmup_s: 3, seed: 7, loss: 0.0, jitter: 0.1, tx_per_s: 20, block_time_ms: 250 }
}

#[test]
fn plans_out_of_range_are_refused_with_the_flag_named() {
    type Breaks = fn(&mut WanPlan);
    let cases: [(Breaks, &str); 6] = [
        (|p| p.validators = 0, "--validators"),
        (|p| p.validators = MAX_VALIDATORS + 1, "--validators"),
        (|p| p.seconds = 0, "--seconds"),
        (|p| p.loss = 0.9, "--loss"),
        (|p| p.loss = f64::NAN, "--loss"),
        (|p| p.block_time_ms = 0, "--block-time-ms"),
    ];
    for (break_it, flag) in cases {
        let mut p = plan(4);
        break_it(&mut p);
        let error = p.validate().expect_err(flag);
        assert!(error.contains(flag), "{error}");
    }
    assert!(plan(4).validate().is_ok());
}

/// Four validators across regions: they agree, commit the load, and a seed replays exactly.
#[test]
fn four_validators_finalize_the_load_and_a_seed_replays() {
    let first = run(&plan(4)).expect("the simulation runs");
    assert!(first.agreed, "one block per height on every validator");
    assert!(first.blocks >= 4, "blocks in the window: {first:?}");
    assert_eq!(first.sent, 80);
    assert_eq!(first.refused, 0, "{first:?}");
    assert_eq!(first.finalized, first.sent, "every transaction committed where it was sent: {first:?}");
    // A proposal, two vote rounds and the gossip that brings the transaction to the proposer
    // each cross the slowest link to a quorum: nothing finalizes faster than a few one-way times.
    assert!(first.finality_p50_ms >= 100.0, "{first:?}");
    assert!(first.datagrams_per_block > 0.0);
    let again = run(&plan(4)).expect("the simulation runs");
    assert_eq!(first.fingerprint, again.fingerprint, "the same seed, the same run");
    let other = run(&WanPlan { seed: 8, ..plan(4) }).expect("the simulation runs");
    assert_ne!(first.fingerprint, other.fingerprint, "another seed, another run");
}

#[test]
fn lost_datagrams_are_recovered_by_quic() {
    let report = run(&WanPlan { loss: 0.05, ..plan(4) }).expect("the simulation runs");
    assert!(report.lost > 0, "{report:?}");
    assert!(report.agreed);
    assert_eq!(report.finalized, report.sent, "{report:?}");
}
