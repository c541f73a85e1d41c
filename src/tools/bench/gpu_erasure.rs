//! `zgnode bench gpu` (erasure part): reed-solomon-simd's code on the GPU against
//! reed-solomon-simd on this machine's CPU (one thread and every core, rayon), the same batch
//! in the same run, every shard compared. Storage segments (256 KiB, 8+4; and as a 4-validator
//! testnet codes them, 2+2, in the shard worker's batches of 64 segments), DA rows (128 shares of
//! 256 bytes, k+k; and the largest blob's, k = 357, whose 512-shard work array takes the step
//! path), encoding and decoding (as many originals lost as the code allows). GPU figures three ways: copies in and out of ordinary memory in one go, pipelined
//! through pinned buffers on two streams, and the kernels alone on data already on the card
//! (with the bytes they move against the card's peak memory bandwidth).

use std::time::Duration;

use rayon::prelude::*;

use zg_systems::erasure::program::{self, Program};

use super::gpu::best_of;
use crate::gpu::erasure::{GpuErasure, Prepared};

struct Shape {
    name: &'static str,
    k: usize,
    m: usize,
    bytes: usize,
    /// Codewords a batch when the shape has its own (the batch the node really codes); None: as
    /// many as `--erasure-mib` of originals make.
    codewords: Option<usize>,
}

/// The largest square a blob makes.
const LARGEST_K: usize = zg_systems::da::pieces::MAX_K as usize;

const SHAPES: [Shape; 4] = [
    Shape { name: "storage segments, 8+4 shards of 32 KiB", k: 8, m: 4, bytes: 32 * 1024, codewords: None },
    Shape {
        name: "storage segments as a 4-validator testnet places them, 2+2 shards of 128 KiB, the shard worker's batch of 64 segments",
        k: 2,
        m: 2,
        bytes: 128 * 1024,
        codewords: Some(crate::storage::SHARD_BATCH_SEGMENTS),
    },
    Shape { name: "DA rows, 128+128 shares of 256 B", k: 128, m: 128, bytes: 256, codewords: None },
    Shape {
        name: "the largest DA blob's rows, 357+357 shares of 256 B (k = 357: 512-shard work array, step path), one blob's 357 rows",
        k: LARGEST_K,
        m: LARGEST_K,
        bytes: 256,
        codewords: Some(LARGEST_K),
    },
];

/// The card's peak memory bandwidth from the driver's memory clock and bus width (bytes/s).
fn peak_bandwidth(gpu: &crate::gpu::Gpu) -> Option<f64> {
    use cudarc::driver::sys::CUdevice_attribute as A;
    let clock_khz = gpu.ctx.attribute(A::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE).ok()?;
    let bus_bits = gpu.ctx.attribute(A::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH).ok()?;
    Some(2.0 * f64::from(clock_khz) * 1e3 * f64::from(bus_bits) / 8.0)
}

fn cpu_encode(shape: &Shape, data: &[u8], threads: Option<usize>) -> anyhow::Result<Vec<u8>> {
    let codeword = |c: &[u8]| reed_solomon_simd::encode(shape.k, shape.m, c.chunks(shape.bytes)).map(|r| r.concat()).map_err(anyhow::Error::from);
    match threads {
        Some(1) => Ok(data.chunks(shape.k * shape.bytes).map(codeword).collect::<anyhow::Result<Vec<_>>>()?.concat()),
        _ => Ok(data.par_chunks(shape.k * shape.bytes).map(codeword).collect::<anyhow::Result<Vec<_>>>()?.concat()),
    }
}

/// Restores the first `lost` originals of each codeword from the others and every recovery shard.
fn cpu_decode(shape: &Shape, inputs: &[u8], lost: usize, threads: Option<usize>) -> anyhow::Result<Vec<u8>> {
    let per = (shape.k - lost + shape.m) * shape.bytes;
    let codeword = |c: &[u8]| -> anyhow::Result<Vec<u8>> {
        let (originals, recovery) = c.split_at((shape.k - lost) * shape.bytes);
        let restored = reed_solomon_simd::decode(
            shape.k,
            shape.m,
            originals.chunks(shape.bytes).enumerate().map(|(i, s)| (i + lost, s)),
            recovery.chunks(shape.bytes).enumerate(),
        )?;
        Ok((0..lost).flat_map(|i| restored[&i].clone()).collect())
    };
    match threads {
        Some(1) => Ok(inputs.chunks(per).map(codeword).collect::<anyhow::Result<Vec<_>>>()?.concat()),
        _ => Ok(inputs.par_chunks(per).map(codeword).collect::<anyhow::Result<Vec<_>>>()?.concat()),
    }
}

struct CpuFigures {
    one: Duration,
    all: Duration,
    expected: Vec<u8>,
}

struct GpuFigures {
    plain: Duration,
    pipelined: Duration,
    kernels: Duration,
    /// The step-by-step kernels alone, when the run above took the fused one.
    steps: Option<Duration>,
}

/// The kernels alone on data already on the card (best of 3).
fn kernels_alone(gpu: &GpuErasure, prepared: &Prepared, inputs: &[u8], codewords: usize) -> anyhow::Result<Duration> {
    let mut batch = gpu.alloc_batch(gpu.stream(), prepared, codewords)?;
    gpu.stream().memcpy_htod(inputs, &mut batch.inputs)?;
    gpu.stream().synchronize()?;
    Ok(best_of(3, || {
        gpu.run_on_device(gpu.stream(), prepared, &mut batch, codewords)?;
        gpu.stream().synchronize()?;
        Ok(())
    })?
    .0)
}

fn measure_cpu(cpu: impl Fn(Option<usize>) -> anyhow::Result<Vec<u8>>) -> anyhow::Result<CpuFigures> {
    let (one, expected) = best_of(1, || cpu(Some(1)))?;
    let (all, on_all) = best_of(3, || cpu(None))?;
    anyhow::ensure!(on_all == expected, "reed-solomon-simd on every core differs from one thread");
    Ok(CpuFigures { one, all, expected })
}

fn measure_gpu(gpu: &GpuErasure, program: &Program, inputs: &[u8], expected: &[u8]) -> anyhow::Result<GpuFigures> {
    let prepared = gpu.prepare(program)?;
    let (plain, shards) = best_of(3, || gpu.run(&prepared, inputs).map_err(anyhow::Error::from))?;
    anyhow::ensure!(shards == expected, "GPU shards differ from reed-solomon-simd's");
    let per_in = program.inputs.len() * program.shard_bytes;
    let codewords = inputs.len() / per_in;
    let (pipelined, shards) = best_of(3, || gpu.run_pipelined(&prepared, inputs, codewords.div_ceil(8)).map_err(anyhow::Error::from))?;
    anyhow::ensure!(shards == expected, "pipelined GPU shards differ from reed-solomon-simd's");
    let kernels = kernels_alone(gpu, &prepared, inputs, codewords)?;
    let steps = match prepared.is_fused() {
        true => Some(kernels_alone(gpu, &gpu.prepare_steps(program)?, inputs, codewords)?),
        false => None,
    };
    Ok(GpuFigures { plain, pipelined, kernels, steps })
}

/// The report; without a GPU (none found, kernels not loading) the CPU figures alone and why.
pub fn erasure(device: usize, mib: usize) -> anyhow::Result<String> {
    let card = crate::gpu::detect(device).and_then(|card| GpuErasure::load(&card).map(|gpu| (card, gpu)));
    let mut report = String::new();
    let peak = match &card {
        Ok((card, gpu)) => {
            let checked = crate::gpu::selftest::erasure(gpu).map_err(|difference| anyhow::anyhow!("GPU self-check failed: {difference}"))?;
            report += &format!("self-check: {checked}\n");
            peak_bandwidth(card)
        }
        Err(_) => None,
    };
    report += &format!(
        "erasure coding (reed-solomon-simd 3.x), {mib} MiB of originals a batch; CPU: {} cores; GPU: {}\n",
        rayon::current_num_threads(),
        match &card {
            Ok((card, _)) => format!("{card:?}, peak memory bandwidth {}", peak.map_or("unknown".into(), |b| format!("{:.0} GB/s", b / 1e9))),
            Err(why) => why.to_string(),
        }
    );
    for shape in &SHAPES {
        let per = shape.k * shape.bytes;
        let codewords = shape.codewords.unwrap_or_else(|| (mib << 20).div_ceil(per).max(1));
        let data = zg_systems::erasure::twin::sample_bytes(codewords * per, 1);
        let gbs = |t: Duration| data.len() as f64 / t.as_secs_f64() / 1e9;
        let encode = program::encode(shape.k, shape.m, shape.bytes)?;
        // Warm reed-solomon-simd's tables (made on first use) before timing anything.
        cpu_encode(shape, &data[..per], Some(1))?;
        let encoded = measure_cpu(|t| cpu_encode(shape, &data, t))?;
        let lost = shape.k.min(shape.m);
        let (decode, inputs) = zg_systems::erasure::twin::decode_first_lost(shape.k, shape.m, shape.bytes, lost, &data, &encoded.expected)?;
        cpu_decode(shape, &inputs[..(shape.k - lost + shape.m) * shape.bytes], lost, Some(1))?;
        let decoded = measure_cpu(|t| cpu_decode(shape, &inputs, lost, t))?;
        report.push_str(&format!("  {} ({codewords} codewords)\n", shape.name));
        for (what, program, cpu, gpu_inputs) in [("encode", &encode, &encoded, &data), (&*format!("decode ({lost} lost)"), &decode, &decoded, &inputs)] {
            let mut line = format!("    {what}: CPU 1 thread {:.2} GB/s, all cores {:.2} GB/s", gbs(cpu.one), gbs(cpu.all));
            if let Ok((_, gpu)) = &card {
                let f = measure_gpu(gpu, program, gpu_inputs, &cpu.expected)?;
                let moved = program.traffic_bytes() as f64 * codewords as f64 / f.steps.unwrap_or(f.kernels).as_secs_f64();
                line += &format!(
                    " | GPU (shards identical) with copies {:.2} GB/s ({:.1}x all cores), pinned+2 streams {:.2} GB/s ({:.1}x), kernels alone {:.1} GB/s ({:.1}x{}; step kernels {:.0} GB/s of memory traffic{})",
                    gbs(f.plain),
                    cpu.all.as_secs_f64() / f.plain.as_secs_f64(),
                    gbs(f.pipelined),
                    cpu.all.as_secs_f64() / f.pipelined.as_secs_f64(),
                    gbs(f.kernels),
                    cpu.all.as_secs_f64() / f.kernels.as_secs_f64(),
                    f.steps.map_or(String::new(), |t| format!(", fused; a launch a step {:.1} GB/s", gbs(t))),
                    moved / 1e9,
                    peak.map_or(String::new(), |p| format!(" = {:.0} % of peak", 100.0 * moved / p)),
                );
            }
            report.push_str(&line);
            report.push('\n');
        }
    }
    Ok(report)
}
