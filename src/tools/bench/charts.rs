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
    if let (Some(idle), Some(last)) = (report.phases.first(), report.phases.last()) {
        series.push(Series::baseline("finality p50 at idle (baseline)", vec![(idle.target_tps as f64, idle.finality_p50_ms), (last.target_tps as f64, idle.finality_p50_ms)]));
    }
    Chart {
        title: format!("{} validators on loopback QUIC, {} ms blocks: finality by load", report.validators, report.block_time_ms),
        x_label: "offered load (transactions/s)".into(),
        y_label: "time (ms)".into(),
        shape: Shape::Lines,
        series,
    }
}

/// Frame time by game transactions a frame (chain in memory, committed on the frame), against
/// bare revm running the same calls, and the 60 Hz frame budget.
pub fn embed(reports: &[EmbedReport]) -> Chart {
    let in_memory: Vec<&EmbedReport> = reports.iter().filter(|r| r.setup == EmbedSetup::default()).collect();
    let points = |value: fn(&EmbedReport) -> f64| in_memory.iter().map(|r| (r.txs_per_frame as f64, value(r))).collect::<Vec<_>>();
    let loads: Vec<f64> = in_memory.iter().map(|r| r.txs_per_frame as f64).collect();
    let (low, high) = (loads.iter().copied().fold(f64::INFINITY, f64::min), loads.iter().copied().fold(0.0, f64::max));
    Chart {
        title: "A game's frame with the node ticked in it (a block a frame, chain in memory)".into(),
        x_label: "game transactions per frame".into(),
        y_label: "frame time (ms)".into(),
        shape: Shape::Lines,
        series: vec![
            Series::node("node: frame p50", points(|r| r.frame_p50_ms)),
            Series::node("node: frame p99", points(|r| r.frame_p99_ms)),
            Series::baseline("bare revm, same calls: p50 (baseline)", points(|r| r.bare_p50_ms)),
            Series::baseline("60 Hz frame budget", if low.is_finite() { vec![(low, 1000.0 / 60.0), (high, 1000.0 / 60.0)] } else { Vec::new() }),
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
