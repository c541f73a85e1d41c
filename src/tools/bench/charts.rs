//! What each bench draws with `--plot` (`plot::Chart`): its figures, and beside them the
//! baseline the same run measured.

use super::consensus::ConsensusReport;
use super::da::DaEncodeReport;
use super::plot::{Chart, Series, Shape};
use super::{EmbedReport, ExecutionReport, EmbedSetup, SustainedReport};

/// Finality and block interval by offered load; the idle phase's finality is the baseline.
pub fn consensus(report: &ConsensusReport) -> Chart {
    let by_load = |value: fn(&super::consensus::PhaseReport) -> f64| report.phases.iter().map(|p| (p.target_tps as f64, value(p))).collect::<Vec<_>>();
    let mut series = vec![
        Series::node("finality p50", by_load(|p| p.finality_p50_ms)),
        Series::node("finality p99", by_load(|p| p.finality_p99_ms)),
        Series::node("block interval p50", by_load(|p| p.interval_p50_ms)),
    ];
    if let Some(idle) = report.phases.first() {
        series.push(Series::level("finality p50 at idle (baseline)", report.phases.iter().map(|p| p.target_tps as f64), idle.finality_p50_ms));
    }
    Chart {
        title: format!("{} validators on loopback QUIC, {} ms blocks: finality by load", report.validators, report.block_time_ms),
        x_label: "offered load (transactions/s)".into(),
        y_label: "time (ms)".into(),
        shape: Shape::Lines,
        series,
    }
}

/// The finality distribution of each load phase: the share of its committed transactions final
/// within a time (a CDF, at every half percent); the idle phase is the baseline.
pub fn finality_distribution(report: &ConsensusReport) -> Chart {
    let cdf = |sorted: &[f64]| -> Vec<(f64, f64)> {
        if sorted.is_empty() {
            return Vec::new();
        }
        (0..=200).map(|step| step as f64 / 200.0).map(|share| (super::percentile(sorted, share), share * 100.0)).collect()
    };
    let series = report
        .phases
        .iter()
        .enumerate()
        .map(|(i, phase)| match i {
            0 => Series::baseline(format!("{} tx/s, idle (baseline)", super::plot::tick_label(phase.target_tps as f64)), cdf(&phase.finality_ms)),
            _ => Series::node(format!("{} tx/s", super::plot::tick_label(phase.target_tps as f64)), cdf(&phase.finality_ms)),
        })
        .collect();
    Chart {
        title: format!("{} validators, {} ms blocks: transactions final within a time, by offered load", report.validators, report.block_time_ms),
        x_label: "finality, sent to committed (ms)".into(),
        y_label: "transactions final (%)".into(),
        shape: Shape::Lines,
        series,
    }
}

/// Frame time by game transactions a frame (chain in memory, committed on the frame), against
/// bare revm running the same calls, and the 60 Hz frame budget.
pub fn embed(reports: &[EmbedReport]) -> Chart {
    let in_memory: Vec<&EmbedReport> = reports.iter().filter(|r| r.setup == EmbedSetup::default()).collect();
    let points = |value: fn(&EmbedReport) -> f64| in_memory.iter().map(|r| (r.txs_per_frame as f64, value(r))).collect::<Vec<_>>();
    Chart {
        title: "A game's frame with the node ticked in it (a block a frame, chain in memory)".into(),
        x_label: "game transactions per frame".into(),
        y_label: "frame time (ms)".into(),
        shape: Shape::Lines,
        series: vec![
            Series::node("node: frame p50", points(|r| r.frame_p50_ms)),
            Series::node("node: frame p99", points(|r| r.frame_p99_ms)),
            Series::baseline("bare revm, same calls: p50 (baseline)", points(|r| r.bare_p50_ms)),
            Series::level("60 Hz frame budget", in_memory.iter().map(|r| r.txs_per_frame as f64), 1000.0 / 60.0),
        ],
    }
}

/// The node's pipeline against bare revm on the same transactions: one block, and sustained
/// blocks when measured.
pub fn execution(report: &ExecutionReport, sustained: Option<&SustainedReport>) -> Chart {
    let mut categories = vec![format!("one block of {}", report.transactions)];
    let mut node = vec![(0.0, report.pipeline_tps)];
    let mut bare = vec![(0.0, report.bare_revm_tps)];
    if let Some(s) = sustained {
        categories.push(format!("{} blocks in a row (commit overlapped)", s.blocks));
        node.push((1.0, s.overlapped_tps));
        bare.push((1.0, s.bare_revm_tps));
    }
    Chart {
        title: format!("Execution, {:?}: the node's pipeline against bare revm", report.workload),
        x_label: String::new(),
        y_label: "transactions/s".into(),
        shape: Shape::Bars { categories },
        series: vec![Series::node("node pipeline (pool, block, revm, roots, redb)", node), Series::baseline("bare revm (baseline)", bare)],
    }
}

/// The DA square's extension (2D Reed–Solomon, the coding half of dispersal) by blob size, in
/// MB/s of blob, against bare reed-solomon-simd given the node's advantages in the same run.
pub fn da(reports: &[DaEncodeReport]) -> Chart {
    let mib = |r: &DaEncodeReport| r.blob_bytes as f64 / (1 << 20) as f64;
    let points = |seconds: fn(&DaEncodeReport) -> f64| reports.iter().map(|r| (mib(r), r.mb_s(seconds(r)))).collect::<Vec<_>>();
    Chart {
        title: "DA: a blob extended to its 2D Reed–Solomon square, by blob size".into(),
        x_label: "blob size (MiB)".into(),
        y_label: "MB/s of blob".into(),
        shape: Shape::Lines,
        series: vec![
            Series::node("node: extend (encoders reused, parity in place)", points(|r| r.extend_s)),
            Series::baseline("bare reed-solomon-simd, same codes and layout (baseline)", points(|r| r.bare_fair_s)),
            Series::baseline("bare, a stripe of columns as one codeword (baseline)", points(|r| r.bare_striped_s)),
        ],
    }
}

/// Proving time by model: halo2 here against EZKL on the same models and held-out digits in
/// the same run (medians); `theirs[i]` is EZKL on `ours[i]`'s model.
pub fn proofs(ours: &[super::proofs::ProofFigures], theirs: &[super::ezkl::EzklFigures]) -> Chart {
    let categories = ours
        .iter()
        .enumerate()
        .map(|(i, f)| match theirs.get(i) {
            Some(t) => format!("{} (2^{} rows here, 2^{} in EZKL)", f.model, f.k, t.logrows),
            None => format!("{} (2^{} rows)", f.model, f.k),
        })
        .collect();
    let node = ours.iter().enumerate().map(|(i, f)| (i as f64, f.prove.as_secs_f64())).collect();
    let baseline = theirs.iter().take(ours.len()).enumerate().map(|(i, t)| (i as f64, t.prove_p50_s)).collect();
    let version = theirs.first().map_or_else(String::new, |t| format!(" {}", t.ezkl));
    Chart {
        title: "Proving one int8 digit inference (median): zgnode against EZKL, same run".into(),
        x_label: String::new(),
        y_label: "proving time (s)".into(),
        shape: Shape::Bars { categories },
        series: vec![
            Series::node("zgnode: halo2, IPA over Pasta", node),
            Series::baseline(format!("EZKL{version}: KZG over BN254 (baseline)"), baseline),
        ],
    }
}

/// Dispersal to four validators by blob size: DisperseBlob to CONFIRMED and the distribution
/// step alone (pieces out, attestations back), in MB/s of blob at the median blob, against the
/// dispersal target. No other disperser runs here, so the reference is the target, not a peer
/// (the coding half has its baseline in `da`).
pub fn da_network(summaries: &[super::da_network::SizeSummary]) -> Chart {
    let mb = |bytes: usize| bytes as f64 / 1e6;
    let distribution = |s: &super::da_network::SizeSummary| {
        super::percentile(&super::sorted(s.runs.iter().map(super::da_network::DisperseRun::dispersal_mb_s).collect()), 0.5)
    };
    Chart {
        title: "DA dispersal to four validators on loopback, by blob size (median blob)".into(),
        x_label: "blob size (MB)".into(),
        y_label: "MB/s of blob".into(),
        shape: Shape::Lines,
        series: vec![
            Series::node("DisperseBlob to CONFIRMED (end to end)", summaries.iter().map(|s| (mb(s.blob_bytes), s.end_to_end_mb_s())).collect()),
            Series::node("pieces out and attestations back", summaries.iter().map(|s| (mb(s.blob_bytes), distribution(s))).collect()),
            Series::level(format!("target: {DISPERSAL_TARGET_MB_S} MB/s of blob"), summaries.iter().map(|s| mb(s.blob_bytes)), DISPERSAL_TARGET_MB_S),
        ],
    }
}

/// The dispersal throughput this project aims at (README, "Known limits").
const DISPERSAL_TARGET_MB_S: f64 = 50.0;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_proofs_chart_puts_each_model_beside_ezkls_figure_for_it() {
        let ours = |model: &str, k: u32, prove_ms: u64| super::super::proofs::ProofFigures {
            model: model.into(),
            parameters: 0,
            k,
            setup: Duration::ZERO,
            prove: Duration::from_millis(prove_ms),
            verify: Duration::ZERO,
            proof_bytes: 0,
            inference: Duration::ZERO,
            derive_key: Duration::ZERO,
            make_params: Duration::ZERO,
            precompile_warm: Duration::ZERO,
            precompile_gas: 0,
        };
        let theirs = |logrows: u32, prove_s: f64| -> super::super::ezkl::EzklFigures {
            serde_json::from_value(serde_json::json!({
                "model": "whatever EZKL calls it", "ezkl": "23.0.5", "logrows": logrows, "input_scale": 5, "param_scale": 5,
                "searched": [], "setup_s": 1.0, "proved": 3, "prove_p50_s": prove_s, "prove_max_s": prove_s,
                "verify_p50_s": 0.02, "proof_bytes": 1, "pk_bytes": 1
            }))
            .unwrap()
        };
        let chart = proofs(&[ours("digits-small", 11, 1300), ours("digits-large", 12, 2450)], &[theirs(12, 2.44), theirs(13, 7.69)]);
        let Shape::Bars { categories } = &chart.shape else { panic!("bars") };
        assert_eq!(categories, &["digits-small (2^11 rows here, 2^12 in EZKL)", "digits-large (2^12 rows here, 2^13 in EZKL)"]);
        assert_eq!(chart.series[0].points, vec![(0.0, 1.3), (1.0, 2.45)]);
        assert_eq!(chart.series[1].points, vec![(0.0, 2.44), (1.0, 7.69)], "EZKL's figure for each model, in order");
        assert!(chart.series[1].baseline && chart.series[1].name.contains("EZKL 23.0.5"));
        assert_eq!(chart.y_label, "proving time (s)");
    }

    #[test]
    fn the_dispersal_chart_draws_medians_by_size_against_the_target() {
        use super::super::da_network::{DisperseRun, SizeSummary};
        let run = |bytes: usize, to_confirmed_s: f64, distribute_s: f64| DisperseRun {
            report: crate::da::DispersalReport {
                data_root: Default::default(),
                blob_bytes: bytes,
                k: 1,
                encode_s: 0.0,
                register_s: 0.0,
                distribute_s,
                wire_bytes: 0,
                members: 4,
                signed_slots: 1,
                total_slots: 1,
            },
            to_confirmed_s,
        };
        let one = SizeSummary { blob_bytes: 1_000_000, runs: vec![run(1_000_000, 0.5, 0.1), run(1_000_000, 0.25, 0.2), run(1_000_000, 2.0, 0.05)] };
        let four = SizeSummary { blob_bytes: 4_000_000, runs: vec![run(4_000_000, 0.5, 0.25)] };
        let chart = da_network(&[one, four]);
        assert_eq!(chart.series[0].points, vec![(1.0, 2.0), (4.0, 8.0)], "end to end at the median blob");
        assert_eq!(chart.series[1].points, vec![(1.0, 10.0), (4.0, 16.0)], "the distribution step's median");
        assert_eq!(chart.series[2].points, vec![(1.0, 50.0), (4.0, 50.0)]);
        assert!(chart.series[2].baseline && chart.series[2].name.contains("target"));
    }

    #[test]
    fn the_finality_distribution_is_a_cdf_per_load_with_idle_as_the_baseline() {
        use super::super::consensus::PhaseReport;
        let phase = |target_tps: u64, finality_ms: Vec<f64>| PhaseReport {
            target_tps,
            sent: finality_ms.len(),
            committed: finality_ms.len(),
            achieved_tps: 0.0,
            accepted_tps: 0.0,
            blocks: 0,
            interval_p50_ms: 0.0,
            interval_p99_ms: 0.0,
            finality_p50_ms: 0.0,
            finality_p99_ms: 0.0,
            finality_ms,
        };
        let report = ConsensusReport {
            validators: 4,
            block_time_ms: 250,
            phases: vec![phase(5, vec![100.0, 150.0, 200.0]), phase(5_000, (1..=1_000).map(f64::from).collect()), phase(6_000, vec![])],
            kill: None,
            recovery_us: 0.0,
            cores: 2,
        };
        let chart = finality_distribution(&report);
        assert!(chart.series[0].baseline && chart.series[0].name.contains("idle"));
        assert_eq!(chart.series[1].name, "5,000 tx/s");
        let load = &chart.series[1].points;
        assert_eq!(load.len(), 201);
        assert_eq!((load[0], load[100], load[200]), ((1.0, 0.0), (501.0, 50.0), (1000.0, 100.0)), "the nearest-rank quantiles, as the bench prints them");
        assert!(load.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1), "ascending");
        assert!(chart.series[2].points.is_empty(), "a phase that committed nothing draws nothing");
    }
}
