//! A short seeded fault campaign (`zgnode chaos`) in the suite: four validators with storage as
//! processes on 127.0.0.1, 30 s of SIGKILLs and restarts, partitions, delayed and reordered
//! frames and bits flipped on disk under transaction and upload load; then one chain, every
//! receipt seen and every file acknowledged still there on every node, and blocks after the last
//! fault. A failure names its seed; `zgnode chaos --seed N` (or `--replay schedule.json`) replays it.

use std::time::Duration;

#[test]
fn a_seeded_fault_campaign_ends_with_one_chain_and_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = zgnode::tools::chaos_schedule::ChaosSchedule::from_seed(20_261_128, 4, Duration::from_secs(30), Duration::from_secs(3));
    let plan = zgnode::tools::chaos::ChaosPlan {
        schedule: schedule.clone(),
        dir: dir.path().to_path_buf(),
        binary: env!("CARGO_BIN_EXE_zgnode").into(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = runtime.block_on(zgnode::tools::chaos::run(&plan)).unwrap_or_else(|error| {
        let logs: Vec<String> = (0..4)
            .map(|i| std::fs::read_to_string(dir.path().join(format!("node{i}")).join("node.log")).unwrap_or_default())
            .map(|log| log.lines().rev().take(20).collect::<Vec<_>>().join("\n"))
            .collect();
        panic!("{error:#}\n{}", logs.join("\n----\n"))
    });
    assert!(report.faults.iter().any(|f| !f.contains("healed")), "faults were injected: {:?}", report.faults);
    assert!(report.receipts_checked > 0 && report.files_checked > 0, "{report:?}");
    let written = zgnode::tools::chaos_schedule::ChaosSchedule::load(&dir.path().join("schedule.json")).unwrap();
    assert_eq!(written, schedule, "the campaign wrote the schedule it ran, for --replay");
    let started = report.faults.iter().filter(|f| !f.contains("healed")).count();
    assert_eq!(started, schedule.faults.len(), "every scheduled fault ran: {:?}", report.faults);
}
