//! `zgnode chaos`: the seeded fault campaign.

use super::*;

pub(super) async fn chaos(args: ChaosArgs) -> anyhow::Result<()> {
    let schedule = match &args.replay {
        Some(path) => crate::tools::chaos_schedule::ChaosSchedule::load(path)?,
        None => {
            anyhow::ensure!((4..=7).contains(&args.nodes), "--nodes must be 4..=7");
            anyhow::ensure!(args.seconds > 0 && args.fault_every > 0, "--seconds and --fault-every must be positive");
            let seed = args.seed.unwrap_or_else(rand::random);
            let duration = std::time::Duration::from_secs(args.seconds);
            crate::tools::chaos_schedule::ChaosSchedule::from_seed(seed, args.nodes, duration, std::time::Duration::from_secs(args.fault_every))
        }
    };
    let seed = schedule.seed;
    let source = match &args.replay {
        Some(path) => format!("replaying {}", path.display()),
        None => format!("seed {seed}"),
    };
    println!("chaos: {source}, {} nodes, {} s of faults; the schedule:", schedule.nodes, schedule.duration_ms / 1000);
    for line in schedule.describe() {
        println!("  {line}");
    }
    println!("  and {} uploads, one every 5 s", schedule.uploads.len());
    if args.print_schedule {
        return Ok(());
    }
    let temporary = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let plan = crate::tools::chaos::ChaosPlan { schedule, dir: dir.clone(), binary: std::env::current_exe()? };
    println!("network in {} (schedule.json there replays this campaign)", dir.display());
    match crate::tools::chaos::run(&plan).await {
        Ok(report) => {
            for fault in &report.faults {
                println!("  {fault}");
            }
            println!(
                "chaos passed ({source}): {} faults; one chain through block {} on every node; {} receipts and {} files checked on every node; {} transactions sent",
                report.faults.iter().filter(|f| !f.contains("healed")).count(),
                report.height,
                report.receipts_checked,
                report.files_checked,
                report.transactions_sent
            );
            Ok(())
        }
        Err(error) => {
            let _ = temporary.keep();
            bail!(
                "chaos failed ({source}; network kept in {}; replay with --replay {}): {error:#}",
                dir.display(),
                dir.join("schedule.json").display()
            )
        }
    }
}
