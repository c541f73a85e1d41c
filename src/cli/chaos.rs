//! `zgnode chaos`: the seeded fault campaign.

use super::*;

pub(super) async fn chaos(args: ChaosArgs) -> anyhow::Result<()> {
    anyhow::ensure!((4..=7).contains(&args.nodes), "--nodes must be 4..=7");
    anyhow::ensure!(args.seconds > 0 && args.fault_every > 0, "--seconds and --fault-every must be positive");
    let seed = args.seed.unwrap_or_else(rand::random);
    let temporary = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temporary.path().to_path_buf());
    let plan = crate::tools::chaos::ChaosPlan {
        seed,
        nodes: args.nodes,
        duration: std::time::Duration::from_secs(args.seconds),
        fault_every: std::time::Duration::from_secs(args.fault_every),
        dir: dir.clone(),
        binary: std::env::current_exe()?,
    };
    println!("chaos: seed {seed}, {} nodes, {} s of faults, network in {}", args.nodes, args.seconds, dir.display());
    match crate::tools::chaos::run(&plan).await {
        Ok(report) => {
            for fault in &report.faults {
                println!("  {fault}");
            }
            println!(
                "chaos passed (seed {seed}): {} faults; one chain through block {} on every node; {} receipts and {} files checked on every node; {} transactions sent",
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
            bail!("chaos failed (seed {seed}; network kept in {}): {error:#}", dir.display())
        }
    }
}
