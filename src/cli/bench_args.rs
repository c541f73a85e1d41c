//! `zgnode bench …` arguments: every benchmark and its defaults.

use super::*;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Block execution through the node's pipeline (pool -> block -> revm -> state root -> redb)
    /// against bare revm on the same transactions.
    Execution {
        #[arg(long, value_enum, default_value = "eth-transfers")]
        workload: crate::tools::bench::Workload,
        #[arg(long, default_value_t = 2_000)]
        txs: usize,
        #[arg(long, default_value_t = 200)]
        senders: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Also run this many blocks of --txs each in a row through the node's schedule
        /// (commit inline against the writer thread overlapping it).
        #[arg(long, default_value_t = 0)]
        sustained_blocks: usize,
        /// Also draw the figures as an SVG chart (the baseline beside the node) to this file.
        #[arg(long, value_name = "FILE.svg", value_parser = plot_path)]
        plot: Option<PathBuf>,
    },
    /// The disk cost of state history: the same blocks of transfers written in archive mode and
    /// with one block of history, database sizes compared.
    History {
        #[arg(long, default_value_t = 500)]
        blocks: usize,
        #[arg(long, default_value_t = 200)]
        txs_per_block: usize,
        #[arg(long, default_value_t = 200)]
        senders: usize,
    },
    /// A node ticked by a game at 60 Hz: the frame time its tick takes with N game transactions
    /// per frame (a block per frame), against bare revm on the same calls, in memory and on disk.
    Embed {
        /// Game transactions per frame, one run each.
        #[arg(long, value_delimiter = ',', default_value = "0,100,1000")]
        loads: Vec<usize>,
        /// Measured frames per run (after --warmup frames).
        #[arg(long, default_value_t = 300)]
        frames: usize,
        #[arg(long, default_value_t = 60)]
        warmup: usize,
        /// Also draw the figures as an SVG chart (the baseline beside the node) to this file.
        #[arg(long, value_name = "FILE.svg", value_parser = plot_path)]
        plot: Option<PathBuf>,
    },
    /// Each role set's tick schedule on bevy's single- and multi-threaded executors, same load,
    /// same run: idle ticks and ticks sealing a block of transfers.
    Schedules {
        #[arg(long, default_value_t = 500)]
        idle_ticks: usize,
        #[arg(long, default_value_t = 100)]
        blocks: usize,
        #[arg(long, default_value_t = 200)]
        txs_per_block: usize,
    },
    /// Tick overhead: an idle tick, and a tick with a system touching N account entities.
    Tick {
        #[arg(long, default_value_t = 100_000)]
        accounts: usize,
        #[arg(long, default_value_t = 200)]
        ticks: usize,
    },
    /// Validators across continents, simulated deterministically (turmoil): the node's own
    /// consensus, execution and QUIC between validators in five regions (50-300 ms round
    /// trips), with jitter and loss; finality, block interval and message load per size.
    Wan {
        #[arg(long, value_delimiter = ',', default_value = "4,25,50,100")]
        validators: Vec<usize>,
        /// Simulated seconds measured per size (after --warmup seconds to connect).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 5)]
        warmup: u64,
        /// The run's seed: keys, loss draws and link delays; the same seed replays the run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Probability each datagram is lost.
        #[arg(long, default_value_t = 0.01)]
        loss: f64,
        /// How far past its link's one-way time a datagram may arrive (fraction).
        #[arg(long, default_value_t = 0.1)]
        jitter: f64,
        /// Transfers handed to the validators per simulated second (round robin).
        #[arg(long, default_value_t = 20)]
        tx_per_s: u64,
        #[arg(long, default_value_t = 250)]
        block_time_ms: u64,
    },
    /// Validators on loopback QUIC under load: block interval, time to finality, throughput,
    /// and the gap a stopped validator causes.
    Consensus {
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Transaction rates to run, one phase each (the first is the idle baseline).
        #[arg(long, value_delimiter = ',', default_value = "5,1000,2000,3000,4000,5000")]
        rates: Vec<u64>,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 250)]
        block_time_ms: u64,
        /// Skip stopping a validator at the end.
        #[arg(long)]
        no_kill: bool,
        /// Also draw the figures as an SVG chart (the baseline beside the node) to this file, and
        /// the finality distribution per load beside it (FILE-distribution.svg).
        #[arg(long, value_name = "FILE.svg", value_parser = plot_path)]
        plot: Option<PathBuf>,
    },
    /// What tracking a huge published file costs a storage node: tick time (against an empty
    /// tick in the same run) and memory, with every shard it should keep missing.
    ShardTracking {
        /// Segments in the file (10^7 = 2.4 TiB).
        #[arg(long, default_value_t = 10_000_000)]
        segments: u64,
        /// Ticks measured (after tracking settled).
        #[arg(long, default_value_t = 20_000)]
        ticks: usize,
    },
    /// The chain's own precompiles (ed25519, the DA fraud proof) timed in the same run as
    /// ecrecover, against the gas each charges at ecrecover's rate (above 1: underpriced).
    Precompiles {
        /// Timed calls per input (more for the cheap ones).
        #[arg(long, default_value_t = 20)]
        runs: u32,
    },
    /// Verifiable compute: halo2 (IPA, Pasta) proofs of the reference int8 digit classifiers —
    /// key generation, proving, verification, proof size — against plain CPU inference.
    Proofs {
        /// Proofs per model, each of a different held-out digit (the median is printed); EZKL
        /// proves the same digits.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// A Python with EZKL (`pip install ezkl onnx numpy`) to run beside zgnode in the same
        /// run; default: `python3` when it has EZKL (else EZKL is skipped, and said).
        #[arg(long, value_name = "PYTHON", conflicts_with = "no_ezkl")]
        ezkl: Option<PathBuf>,
        /// Leave EZKL out.
        #[arg(long)]
        no_ezkl: bool,
        /// Also draw proving time by model beside EZKL's (needs EZKL) as an SVG chart.
        #[arg(long, value_name = "FILE.svg", value_parser = plot_path, conflicts_with = "no_ezkl")]
        plot: Option<PathBuf>,
    },
    /// GPU against CPU: the int8 digit models' batched inference (logits checked identical),
    /// inferences per second on the GPU and on every CPU core; erasure coding (storage segments
    /// and DA rows, encode and decode, shards checked identical to reed-solomon-simd's) in GB/s
    /// on the GPU and on one and every CPU core; the built-in LLM backend's tokens/s with its
    /// matrices on the GPU and on every CPU core (logits compared). Fails without a GPU.
    Gpu {
        /// Inputs per int8 batch (0 skips the int8 models).
        #[arg(long, default_value_t = 65_536)]
        batch: usize,
        /// MiB of original data per erasure-coding batch (0 skips erasure coding).
        #[arg(long, default_value_t = 256)]
        erasure_mib: usize,
        /// Layers of the TinyLlama-shaped model for the LLM backend's tokens/s (0 skips it).
        #[arg(long, default_value_t = 4)]
        llm_layers: usize,
        /// Tokens decoded by the LLM backend, on each side.
        #[arg(long, default_value_t = 32)]
        llm_tokens: usize,
        /// CUDA device index.
        #[arg(long, default_value_t = 0)]
        device: usize,
    },
    /// Compute marketplace overhead: requests through the provider (token check, metering,
    /// signed record, crash-safe store, HTTP/SSE) against the same backend called directly, for
    /// the built-in tiny model and a proxied upstream stub.
    Compute {
        /// Requests measured per path (sequential, turn about), and again for throughput.
        #[arg(long, default_value_t = 40)]
        requests: usize,
        /// Clients at once for the throughput figure.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Completion tokens per request.
        #[arg(long, default_value_t = 32)]
        max_tokens: u32,
    },
    /// Compute marketplace settlement gas: `settleFeesWithTEE` for N users in one batch, per
    /// request, against the same users settled one transaction each.
    Settlement {
        /// Users (settlements) in the batch, 1 to 50 (the contract's limit).
        #[arg(long, default_value_t = 50)]
        users: usize,
    },
    /// Data availability: a blob extended to its 2D Reed–Solomon square and committed, against
    /// bare reed-solomon-simd doing the same coding on the same data; repair, share proofs and
    /// a bad-encoding fraud proof.
    Da {
        /// Blob sizes in bytes, one run each (at most 32,505,852, 0G's largest blob).
        #[arg(long, value_delimiter = ',', default_value = "32505852")]
        blob_bytes: Vec<usize>,
        /// Timed runs of each step (the median is printed).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Also draw the extension's throughput by blob size, beside bare reed-solomon-simd's, as
        /// an SVG chart to this file.
        #[arg(long, value_name = "FILE.svg", value_parser = plot_path)]
        plot: Option<PathBuf>,
    },
    /// What an alignment auditor costs an epoch on a dev node holding F files and B blobs: the
    /// process's CPU without and with it, bytes fetched, report gas vs the chain's own gas.
    Alignment {
        /// Loads as FILES:BLOBS (600 KiB files, 100 kB blobs).
        #[arg(long, value_delimiter = ',', default_value = "1:1,10:4,40:8")]
        loads: Vec<String>,
        /// Epochs measured without and then with the auditor, per load.
        #[arg(long, default_value_t = 3)]
        epochs: u64,
        /// Run the dev compute provider (chat on the built-in model, verifiable digits) beside the
        /// node: the auditor then also asks it once each epoch for a chat answer it re-runs and
        /// for a proved result.
        #[arg(long)]
        provider: bool,
    },
    /// Data availability on a four-validator network on loopback: blobs from DisperseBlob's
    /// entry point to CONFIRMED, and the dispersal throughput.
    DaNetwork {
        /// Blob sizes in bytes.
        #[arg(long, value_delimiter = ',', default_value = "1000000,32505852")]
        sizes: Vec<usize>,
        /// Blobs dispersed of each size (each one different), for the p50 and p99.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also draw dispersal throughput by blob size as an SVG chart, against the 50 MB/s
        /// target (no other disperser runs here to measure beside it).
        #[arg(long, value_name = "FILE.svg", value_parser = plot_path)]
        plot: Option<PathBuf>,
    },
    /// Storage: file commitment vs a bare keccak loop; upload and download through a dev node.
    Storage {
        /// File sizes in MiB for the upload/download runs.
        #[arg(long, value_delimiter = ',', default_value = "1,64,1024")]
        sizes_mib: Vec<u64>,
    },
    /// The KV layer on a dev node: writes (submit, upload, replay) vs uploading the same bytes,
    /// point and range reads vs one-chunk downloads, and the replay of a 100k-key stream.
    Kv {
        /// Write batches (one Flow submission each).
        #[arg(long, default_value_t = 20)]
        batches: usize,
        #[arg(long, default_value_t = 500)]
        keys_per_batch: usize,
        #[arg(long, default_value_t = 64)]
        value_bytes: usize,
        /// Point reads, chunk reads and range steps each.
        #[arg(long, default_value_t = 2_000)]
        reads: usize,
        /// Keys of the stream replayed from disk.
        #[arg(long, default_value_t = 100_000)]
        replay_keys: usize,
    },
    /// LoRA fine-tuning on the CPU: zgnode's trainer against PyTorch + PEFT (when python3 has
    /// them) on the same model, tokens, batches and hyper-parameters.
    Training {
        /// A Hugging Face Llama directory (default: the tiny model).
        #[arg(long)]
        model_dir: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 64)]
        examples: usize,
        #[arg(long, default_value_t = 3)]
        epochs: u32,
        #[arg(long, default_value_t = 4)]
        batch_size: usize,
        #[arg(long, default_value_t = 0.002)]
        learning_rate: f64,
        #[arg(long, default_value_t = 8)]
        rank: usize,
        /// The Python with torch, transformers and peft.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Tasks run through a dev provider on a dev chain for its overhead per task
        /// (admission, delivery, settlement: ms and gas); 0 skips that part.
        #[arg(long, default_value_t = 3)]
        tasks: usize,
    },
    /// Sustained eth_sendRawTransaction over HTTP on loopback into sealed blocks.
    Rpc {
        #[arg(long, default_value_t = 20_000)]
        txs: usize,
        #[arg(long, default_value_t = 1_000)]
        senders: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 250)]
        block_time_ms: u64,
        /// Run the same client and load against `zgnode dev` and this node side by side (only
        /// "anvil": from the npm package, installed under target/anvil when missing, or ZG_ANVIL),
        /// in automine and with 1 s blocks on both (--block-time-ms is not used then), zgnode in
        /// memory and on disk.
        #[arg(long)]
        against: Option<String>,
        /// With --against: transactions per JSON-RPC batch.
        #[arg(long, default_value_t = 50)]
        batch: usize,
        /// With --against: HTTP connections.
        #[arg(long, default_value_t = 8)]
        connections: usize,
    },
}

/// `--plot`: an .svg file in a folder that exists (checked before the bench runs, not after).
fn plot_path(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if path.extension().is_none_or(|e| !e.eq_ignore_ascii_case("svg")) {
        return Err(format!("{text}: the chart is SVG, so the file must end in .svg"));
    }
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => Err(format!("{text}: no folder {}", folder.display())),
        _ => Ok(path),
    }
}
