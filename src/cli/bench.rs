//! `zgnode bench ...`: runs a workload from `crate::tools::bench` and prints its figures beside the
//! baseline measured in the same run.

use super::*;

pub(super) async fn bench(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Execution { workload, txs, senders, rounds, sustained_blocks, plot } => {
            anyhow::ensure!(txs > 0 && senders > 0, "--txs and --senders must be positive");
            anyhow::ensure!(
                txs <= crate::tools::bench::MAX_BLOCK_TXS,
                "--txs must be at most {} (the bench seals them all in one block)",
                crate::tools::bench::MAX_BLOCK_TXS
            );
            let report = tokio::task::spawn_blocking(move || crate::tools::bench::execution(workload, txs, senders, rounds)).await?;
            println!("execution {:?}: {} transactions, median of {rounds} rounds", report.workload, report.transactions);
            println!("  node pipeline (pool, block, revm, state root, redb commit): {:>10.0} tx/s  {:.1} Mgas/s", report.pipeline_tps, report.mgas_per_s);
            println!("  bare revm (CacheDB, transact_commit):                      {:>10.0} tx/s", report.bare_revm_tps);
            let b = report.breakdown;
            println!(
                "  pipeline breakdown: admit {:.1} ms, seal (select + revm + apply + roots) {:.1} ms, redb commit {:.1} ms",
                b.admit.as_secs_f64() * 1e3, b.seal.as_secs_f64() * 1e3, b.persist.as_secs_f64() * 1e3
            );
            println!("  ratio node / bare revm: {:.2}", report.ratio());
            let bare_ms = txs as f64 / report.bare_revm_tps * 1e3;
            println!(
                "  the block's commitments alone (state trie update + root, transactions and receipts roots; both cores): {:.1} ms = {:.2}x bare revm's whole time ({:.1} ms); a pipeline at 0.5 of bare revm has {:.1} ms for everything",
                b.commitments.as_secs_f64() * 1e3,
                b.commitments.as_secs_f64() * 1e3 / bare_ms,
                bare_ms,
                2.0 * bare_ms
            );
            let mut sustained = None;
            if sustained_blocks > 0 {
                anyhow::ensure!(sustained_blocks.saturating_mul(txs) <= 200_000, "--sustained-blocks × --txs must be at most 200,000");
                let s = tokio::task::spawn_blocking(move || crate::tools::bench::sustained(workload, sustained_blocks, txs, senders)).await?;
                println!("  {} blocks of {} in a row through the node's schedule (automine, pool filled first):", s.blocks, s.per_block);
                // Gas the workload's transactions use, from the single-block run above.
                let ggas = |tps: f64| tps * report.mgas_per_s / report.pipeline_tps.max(1.0) / 1e3;
                println!("    commit inline:                 {:>10.0} tx/s  {:.2} Ggas/s  ratio to bare revm {:.2}", s.inline_tps, ggas(s.inline_tps), s.inline_tps / s.bare_revm_tps);
                println!("    commit overlapped (dev chain): {:>10.0} tx/s  {:.2} Ggas/s  ratio to bare revm {:.2}", s.overlapped_tps, ggas(s.overlapped_tps), s.overlapped_tps / s.bare_revm_tps);
                println!("    bare revm, same transactions:  {:>10.0} tx/s  {:.2} Ggas/s; overlapped / inline {:.2}", s.bare_revm_tps, ggas(s.bare_revm_tps), s.overlapped_tps / s.inline_tps);
                sustained = Some(s);
            }
            crate::tools::bench::plot::save_if(plot, || crate::tools::bench::charts::execution(&report, sustained.as_ref()))?;
        }
        BenchCommand::History { blocks, txs_per_block, senders } => {
            anyhow::ensure!(blocks > 0 && txs_per_block > 0 && senders > 0, "--blocks, --txs-per-block and --senders must be positive");
            anyhow::ensure!(blocks.saturating_mul(txs_per_block) <= 1_000_000, "at most 1,000,000 transactions in all");
            let report = tokio::task::spawn_blocking(move || crate::tools::bench::history_cost(blocks, txs_per_block, senders)).await?;
            println!("state history: {} blocks of {} ETH transfers ({} senders)", report.blocks, report.per_block, senders);
            println!("  archive (every block's history): {:>12} bytes on disk, {:.2} ms per block written", report.archive_bytes, report.archive_ms_per_block);
            println!("  one block of history (baseline): {:>12} bytes on disk, {:.2} ms per block written", report.minimal_bytes, report.minimal_ms_per_block);
            println!(
                "  archive adds {:.0} bytes per block ({:.0} per transfer); write time ratio {:.2}",
                report.history_bytes_per_block(),
                report.history_bytes_per_block() / report.per_block as f64,
                report.archive_ms_per_block / report.minimal_ms_per_block
            );
        }
        BenchCommand::Embed { loads, frames, warmup, plot } => {
            anyhow::ensure!(!loads.is_empty() && frames > 0, "--loads and --frames must be given");
            crate::tools::bench::embed::print_header(frames);
            let memory = crate::tools::bench::EmbedSetup::default();
            let threaded = crate::tools::bench::EmbedSetup { commit_on_thread: true, ..memory };
            let mut runs: Vec<(usize, crate::tools::bench::EmbedSetup)> = Vec::new();
            for &load in &loads {
                runs.push((load, memory));
                if load > 0 {
                    runs.push((load, threaded));
                }
            }
            // A game that keeps its chain on disk (an fsync per block).
            if let Some(&load) = loads.iter().find(|&&load| load > 0) {
                runs.push((load, crate::tools::bench::EmbedSetup { on_disk: true, ..memory }));
                runs.push((load, crate::tools::bench::EmbedSetup { on_disk: true, commit_on_thread: true }));
            }
            let mut reports = Vec::new();
            for (load, setup) in runs {
                let report = tokio::task::spawn_blocking(move || crate::tools::bench::embed(load, frames, warmup, setup)).await??;
                crate::tools::bench::embed::print(&report);
                reports.push(report);
            }
            crate::tools::bench::plot::save_if(plot, || crate::tools::bench::charts::embed(&reports))?;
        }
        BenchCommand::Schedules { idle_ticks, blocks, txs_per_block } => {
            anyhow::ensure!(idle_ticks > 0 && blocks > 0 && txs_per_block > 0, "--idle-ticks, --blocks and --txs-per-block must be positive");
            let runs = tokio::task::spawn_blocking(move || crate::tools::bench::schedules(idle_ticks, blocks, txs_per_block)).await?;
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            println!("schedules: each role set's tick on bevy's executors, {cores} cores; idle ticks, then ticks sealing {txs_per_block} transfers");
            println!("  roles                                        | executor        | idle µs/tick | block tick µs");
            for run in &runs {
                println!("  {:<44} | {:<15} | {:>12.1} | {:>13.1}", run.roles, run.executor, run.idle_us, run.block_us);
            }
            for pair in runs.chunks(2) {
                if let [single, multi] = pair {
                    println!(
                        "  {}: multi / single = {:.2} idle, {:.2} with blocks (below 1: the multi-threaded executor is faster)",
                        single.roles,
                        multi.idle_us / single.idle_us.max(f64::MIN_POSITIVE),
                        multi.block_us / single.block_us.max(f64::MIN_POSITIVE)
                    );
                }
            }
        }
        BenchCommand::Tick { accounts, ticks } => {
            let report = tokio::task::spawn_blocking(move || crate::tools::bench::tick(accounts, ticks)).await?;
            println!("tick: idle {:.1} µs/tick; with a system touching {} accounts {:.1} µs/tick", report.idle_us, report.accounts, report.touching_us);
            for (role, shape) in &report.roles {
                println!(
                    "  tick schedule, {role}: {} systems, {} exclusive (&mut World: run alone: {}), at most {} side by side, {} steps, {} command sync points",
                    shape.systems,
                    shape.exclusive(),
                    shape.exclusive_names.join(", "),
                    shape.widest(),
                    shape.depth(),
                    shape.sync_points,
                );
                let steps: Vec<String> = shape.steps.iter().map(|step| step.join(" | ")).collect();
                println!("    {}", steps.join(" -> "));
            }
            for (system, us) in &report.systems_us {
                println!("  {system}: {us:.1} µs per run");
            }
        }
        BenchCommand::Wan { validators, seconds, warmup, seed, loss, jitter, tx_per_s, block_time_ms } => {
            let plans: Vec<crate::tools::wan::WanPlan> = validators
                .iter()
                .map(|&validators| crate::tools::wan::WanPlan { validators, seconds, warmup_s: warmup, seed, loss, jitter, tx_per_s, block_time_ms })
                .collect();
            let Some(first) = plans.first() else { anyhow::bail!("--validators must name at least one size") };
            for plan in &plans {
                plan.validate().map_err(anyhow::Error::msg)?;
            }
            crate::tools::wan::print_header(first);
            for plan in plans {
                let report = tokio::task::spawn_blocking(move || crate::tools::wan::run(&plan)).await??;
                crate::tools::wan::print_row(&report);
            }
        }
        BenchCommand::Consensus { validators, rates, seconds, block_time_ms, no_kill, plot } => {
            anyhow::ensure!(!rates.is_empty() && seconds > 0, "--rates and --seconds must be given");
            let report = crate::tools::bench::consensus::consensus(validators, &rates, seconds, block_time_ms, !no_kill).await?;
            println!("consensus: {} validators on loopback QUIC, {} ms block time, {seconds} s per phase", report.validators, report.block_time_ms);
            println!("  rate tx/s | accepted tx/s | committed  achieved tx/s | blocks  interval p50/p99 ms | finality p50/p99 ms");
            for p in &report.phases {
                println!(
                    "  {:>9} | {:>13.0} | {:>9}  {:>12.0} | {:>6}  {:>8.0} / {:<8.0} | {:>6.0} / {:<6.0}",
                    p.target_tps, p.accepted_tps, p.committed, p.achieved_tps, p.blocks, p.interval_p50_ms, p.interval_p99_ms, p.finality_p50_ms, p.finality_p99_ms
                );
            }
            let best = report.phases.iter().map(|p| p.achieved_tps).fold(0.0, f64::max);
            println!(
                "  per core: {:.0} validator-transactions/s at the highest throughput ({} validators each recover, execute and persist every transaction on {} cores)",
                best * report.validators as f64 / report.cores as f64,
                report.validators,
                report.cores
            );
            println!(
                "  sender recovery, one core, same run: {:.1} us per transaction; at 5,000 tx/s the {} validators need {:.2} cores for recovery alone",
                report.recovery_us,
                report.validators,
                5_000.0 * report.validators as f64 * report.recovery_us / 1e6
            );
            match report.max_sustained_tps() {
                Some(tps) => println!("  max sustained (>= 95% of target, interval <= 2x idle): {tps} tx/s"),
                None => println!("  max sustained: none of the loaded rates kept up"),
            }
            if let Some(kill) = &report.kill {
                println!(
                    "  one validator stopped: next {} blocks interval p50 {:.0} ms, longest gap {:.0} ms (propose timeout {} ms)",
                    kill.blocks, kill.interval_p50_ms, kill.max_gap_ms, kill.propose_timeout_ms
                );
            }
            let distribution = plot.as_ref().map(|path| path.with_file_name(format!("{}-distribution.svg", path.file_stem().unwrap_or_default().to_string_lossy())));
            crate::tools::bench::plot::save_if(plot, || crate::tools::bench::charts::consensus(&report))?;
            crate::tools::bench::plot::save_if(distribution, || crate::tools::bench::charts::finality_distribution(&report))?;
        }
        BenchCommand::ShardTracking { segments, ticks } => {
            anyhow::ensure!(segments > 0 && ticks > 0, "--segments and --ticks must be positive");
            let report = tokio::task::spawn_blocking(move || crate::tools::bench::tracking::shard_tracking(segments, ticks)).await?;
            println!(
                "shard tracking: a published file of {} segments, none uploaded (4 storage nodes, 2+2 shards)",
                report.segments
            );
            println!(
                "  storage systems' tick once settled: p50 {:.1} µs, p99 {:.1} µs; the same systems tracking no file p50 {:.1} µs (ratio {:.2})",
                report.tick_p50.as_secs_f64() * 1e6,
                report.tick_p99.as_secs_f64() * 1e6,
                report.idle_node_tick_p50.as_secs_f64() * 1e6,
                report.tick_p50.as_secs_f64() / report.idle_node_tick_p50.as_secs_f64().max(1e-9)
            );
            println!(
                "  tracking: {} entities, {} segments queued for rebuilding (bounded), memory grown {}",
                report.entities,
                report.queued_repairs,
                report.resident_bytes.map(|b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64)).unwrap_or_else(|| "unknown".into())
            );
        }
        BenchCommand::Alignment { loads, epochs, provider } => {
            anyhow::ensure!((1..=20).contains(&epochs), "--epochs must be 1..=20");
            let loads = loads.iter().map(|l| parse_load(l)).collect::<anyhow::Result<Vec<_>>>()?;
            let beside = if provider { ", the dev compute provider" } else { "" };
            println!("alignment: a dev node (storage, DA, PoRA miner{beside}, 1 s blocks); per load, {epochs} epochs without an auditor, then {epochs} with one");
            for cost in crate::tools::bench::alignment::audit_cost(&loads, epochs, provider).await? {
                println!("{cost}");
            }
        }
        BenchCommand::DaNetwork { sizes, runs, plot } => {
            anyhow::ensure!(!sizes.is_empty(), "--sizes needs at least one size");
            anyhow::ensure!((1..=100).contains(&runs), "--runs must be 1..=100");
            for size in &sizes {
                anyhow::ensure!((1..=zg_components::da::MAX_BLOB_SIZE).contains(size), "each size must be 1..={}", zg_components::da::MAX_BLOB_SIZE);
            }
            println!("da-network: four validators on loopback, every one a DA node; node 0 disperses {runs} different blobs of each size, one at a time");
            let summaries = crate::tools::bench::da_network::disperse(&sizes, runs).await?;
            for summary in &summaries {
                println!("{summary}");
            }
            crate::tools::bench::plot::save_if(plot, || crate::tools::bench::charts::da_network(&summaries))?;
        }
        BenchCommand::Precompiles { runs } => {
            if runs == 0 {
                anyhow::bail!("--runs must be at least 1");
            }
            let (rate, figures) = tokio::task::spawn_blocking(move || crate::tools::bench::precompiles::precompiles(runs)).await??;
            println!(
                "precompiles: priced at ecrecover's rate, measured in this run: ecrecover (3,000 gas) {:.1} µs = {:.1} ns per gas",
                rate.ecrecover.as_secs_f64() * 1e6,
                rate.nanos_per_gas()
            );
            for f in &figures {
                println!(
                    "  {}: {:.1} µs = {:.0} gas at that rate; charged {} gas; measured/charged {:.2}",
                    f.name,
                    f.took.as_secs_f64() * 1e6,
                    rate.gas_for(f.took),
                    f.charged_gas,
                    f.ratio(&rate)
                );
            }
        }
        BenchCommand::Proofs { runs, ezkl, no_ezkl, plot } => super::bench_proofs::proofs(runs, ezkl, no_ezkl, plot).await?,
        BenchCommand::Gpu { batch, erasure_mib, llm_layers, llm_tokens, device } => {
            // Each side holds its own copy of every batch: bound them before allocating.
            anyhow::ensure!(batch <= 10_000_000, "--batch is at most 10,000,000 inputs");
            anyhow::ensure!(erasure_mib <= 16_384, "--erasure-mib is at most 16384 (16 GiB of originals, held several times over)");
            anyhow::ensure!(llm_layers <= 22, "--llm-layers is at most 22 (TinyLlama-1.1B's depth)");
            anyhow::ensure!(llm_layers == 0 || (1..=2048).contains(&llm_tokens), "--llm-tokens is 1 to 2048 (the model's context)");
            let absent = crate::gpu::detect(device).err();
            if batch > 0 && absent.is_none() {
                let report = tokio::task::spawn_blocking(move || crate::tools::bench::gpu::int8(device, batch)).await??;
                println!("{report}");
            }
            if erasure_mib > 0 {
                // Without a GPU this still measures reed-solomon-simd here: the CPU side of the comparison.
                let report = tokio::task::spawn_blocking(move || crate::tools::bench::gpu_erasure::erasure(device, erasure_mib)).await??;
                println!("{report}");
            }
            if llm_layers > 0 {
                // Without a GPU this still measures the CPU side of the comparison here.
                let report = tokio::task::spawn_blocking(move || crate::tools::bench::llm::llm(device, llm_layers, llm_tokens)).await??;
                println!("{report}");
            }
            if let Some(why) = absent {
                anyhow::bail!("{why}: the GPU figures need a GPU host (any CPU figures above are this machine's)");
            }
        }
        BenchCommand::Compute { requests, concurrency, max_tokens } => {
            let r = crate::tools::bench::compute::compute(requests, concurrency, max_tokens).await?;
            println!(
                "compute: {} requests per path, {} completion tokens each, turn about; throughput with {} clients (this machine: {} cores)",
                r.requests,
                r.max_tokens,
                r.concurrency,
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
            let stub = format!(
                "upstream stub ({} ms to the first token, then {} ms a token)",
                crate::tools::bench::compute::STUB_FIRST_TOKEN.as_millis(),
                crate::tools::bench::compute::STUB_TOKEN.as_millis()
            );
            for (name, pair) in [("built-in tiny model (CPU)", r.builtin), (stub.as_str(), r.proxy)] {
                println!("  {name}");
                for (path, l) in [("direct        ", pair.direct), ("via provider  ", pair.provider)] {
                    println!(
                        "    {path} p50 {:>8.2} ms  p90 {:>8.2} ms  first token p50 {:>8.2} ms  {:>8.1} req/s",
                        l.p50_ms, l.p90_ms, l.first_token_p50_ms, l.requests_per_sec
                    );
                }
                println!(
                    "    added latency at p50: {:+.1} % ({:+.2} ms); first token {:+.2} ms; throughput ratio {:.2}",
                    pair.added_p50() * 100.0,
                    pair.provider.p50_ms - pair.direct.p50_ms,
                    pair.provider.first_token_p50_ms - pair.direct.first_token_p50_ms,
                    pair.provider.requests_per_sec / pair.direct.requests_per_sec
                );
            }
        }
        BenchCommand::Settlement { users } => {
            let r = tokio::task::spawn_blocking(move || crate::tools::bench::settlement::settlement(users)).await??;
            println!("settlement: InferenceServing.settleFeesWithTEE, each settlement signed by the provider's acknowledged signer (hand-ticked dev node)");
            println!(
                "  {} users in one batch: {} gas, {:.0} gas per request | the same users one transaction each: {:.0} gas per request | ratio {:.2}",
                r.users,
                r.batch_gas,
                r.batch_per_request(),
                r.single_per_request(),
                r.single_per_request() / r.batch_per_request()
            );
        }
        BenchCommand::Da { blob_bytes, rounds, plot } => {
            anyhow::ensure!(blob_bytes.iter().all(|b| *b <= zg_components::da::MAX_BLOB_SIZE), "--blob-bytes must be at most {}", zg_components::da::MAX_BLOB_SIZE);
            anyhow::ensure!(rounds > 0 && !blob_bytes.is_empty(), "--rounds must be positive and --blob-bytes given");
            let mut reports = Vec::new();
            for bytes in blob_bytes {
                let r = tokio::task::spawn_blocking(move || crate::tools::bench::da::encode(bytes, rounds)).await??;
                crate::tools::bench::da::print(&r, rounds);
                reports.push(r);
            }
            crate::tools::bench::plot::save_if(plot, || crate::tools::bench::charts::da(&reports))?;
        }
        BenchCommand::Storage { sizes_mib } => {
            anyhow::ensure!(!sizes_mib.is_empty() && sizes_mib.iter().all(|s| *s > 0 && *s <= 4096), "--sizes-mib must be 1..=4096");
            let merkle = tokio::task::spawn_blocking(|| crate::tools::bench::storage::merkle(64 << 20, 5)).await?;
            println!("storage: file commitment of {} MiB (chunk hashes, segment and file trees, submission; all cores)", merkle.bytes >> 20);
            println!("  commitment {:>8.0} MB/s   bare keccak256 loop over the same chunks (one core) {:>8.0} MB/s   ratio {:.2}", merkle.commitment_mb_s, merkle.bare_keccak_mb_s, merkle.commitment_mb_s / merkle.bare_keccak_mb_s);
            let ec = tokio::task::spawn_blocking(|| crate::tools::bench::storage::erasure(256 << 20, 9)).await?;
            println!(
                "  erasure coding 8+4 of {} MiB of segments: node encoder {:.0} MB/s ({:.0} MB/s with the data shards copied out for placing); bare reed-solomon-simd one thread {:.0} MB/s, on the rayon pool {:.0} MB/s; ratio to the pooled baseline {:.2} ({:.2} with copies); node decode with 4 of 12 shards lost {:.0} MB/s",
                ec.bytes >> 20,
                ec.encode_mb_s,
                ec.encode_with_copies_mb_s,
                ec.bare_encode_mb_s,
                ec.bare_encode_parallel_mb_s,
                ec.encode_mb_s / ec.bare_encode_parallel_mb_s,
                ec.encode_with_copies_mb_s / ec.bare_encode_parallel_mb_s,
                ec.decode_mb_s
            );
            let sizes: Vec<u64> = sizes_mib.iter().map(|m| m << 20).collect();
            let (reports, pora) = crate::tools::bench::storage::transfers_and_pora(&sizes).await?;
            println!("  size MiB | upload MB/s end to end (hash, publish, block, segments) | segments alone | download MB/s (root checked)");
            for r in reports {
                println!("  {:>8} | {:>61.1} | {:>14.1} | {:>28.1}", r.bytes >> 20, r.upload_mb_s, r.segments_mb_s, r.download_mb_s);
            }
            println!(
                "  PoRA: build a sector proof {:.0} µs, check it off chain {:.1} µs; submitProof on chain {} gas (median of {} proofs the dev miner landed)",
                pora.prove_us,
                pora.verify_us,
                pora.submit_gas.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
                pora.proofs_on_chain
            );
        }
        BenchCommand::Kv { batches, keys_per_batch, value_bytes, reads, replay_keys } => {
            anyhow::ensure!(batches <= 10_000 && keys_per_batch <= 65_536 && value_bytes <= 1 << 20 && replay_keys <= 10_000_000, "counts out of range");
            let load = crate::tools::bench::kv::KvLoad { batches, keys_per_batch, value_bytes, reads, replay_keys };
            println!("kv: {batches} batches of {keys_per_batch} keys ({value_bytes}-byte values) on a dev node (100 ms blocks), {reads} reads, a {replay_keys}-key stream replayed");
            crate::tools::bench::kv::print(&crate::tools::bench::kv::run(&load).await?);
        }
        BenchCommand::Training { model_dir, examples, epochs, batch_size, learning_rate, rank, python, tasks } => {
            crate::tools::bench::training::bench(model_dir, examples, (epochs, batch_size, learning_rate, rank), python, tasks).await?;
        }
        BenchCommand::Rpc { txs, senders, against: Some(against), batch, connections, .. } => {
            anyhow::ensure!(against == "anvil", "--against takes \"anvil\" (got {against:?})");
            anyhow::ensure!(txs > 0 && senders > 0 && batch > 0 && connections > 0, "--txs, --senders, --batch and --connections must be positive");
            let load = crate::tools::bench::anvil::Load { transactions: txs, senders, batch, connections: connections.min(senders) };
            crate::tools::bench::anvil::side_by_side(&load).await?;
        }
        BenchCommand::Rpc { txs, senders, concurrency, block_time_ms, .. } => {
            anyhow::ensure!(txs > 0 && senders > 0, "--txs and --senders must be positive");
            let report = crate::tools::bench::rpc_ingestion(txs, senders, concurrency, block_time_ms).await?;
            println!(
                "rpc ingestion: {} transactions from {} HTTP clients into {} blocks: {:.0} tx/s; send-to-receipt p50 {:.0} ms, p99 {:.0} ms",
                report.transactions, report.concurrency, report.blocks, report.tps, report.p50_ms, report.p99_ms
            );
        }
    }
    Ok(())
}

/// FILES:BLOBS, each 0..=500.
fn parse_load(text: &str) -> anyhow::Result<(usize, usize)> {
    let (files, blobs) = text.split_once(':').ok_or_else(|| anyhow::anyhow!("--loads: {text:?} is not FILES:BLOBS"))?;
    let parse = |n: &str| n.trim().parse::<usize>().ok().filter(|n| *n <= 500);
    match (parse(files), parse(blobs)) {
        (Some(files), Some(blobs)) => Ok((files, blobs)),
        _ => anyhow::bail!("--loads: {text:?} needs two counts of 0..=500"),
    }
}

