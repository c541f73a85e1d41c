//! `zgnode bench gpu` (erasure part): reed-solomon-simd's code on the GPU against
//! reed-solomon-simd on this machine's CPU (one thread and every core, rayon), the same batch
//! in the same run, every shard compared. Storage segments (256 KiB, 8+4) and DA rows (128
//! shares of 256 bytes, k+k), encoding and decoding (as many originals lost as the code
//! allows). GPU figures three ways: copies in and out of ordinary memory in one go, pipelined
//! through pinned buffers on two streams, and the kernels alone on data already on the card
//! (with the bytes they move against the card's peak memory bandwidth).

use std::time::Duration;

use rayon::prelude::*;

use zg_systems::erasure::program::{self, Program};

use super::gpu::best_of;
use crate::gpu::erasure::GpuErasure;

struct Shape {
    name: &'static str,
    k: usize,
    m: usize,
    bytes: usize,
}

const SHAPES: [Shape; 2] = [
    Shape { name: "storage segments, 8+4 shards of 32 KiB", k: 8, m: 4, bytes: 32 * 1024 },
    Shape { name: "DA rows, 128+128 shares of 256 B", k: 128, m: 128, bytes: 256 },
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

struct Figures {
    cpu_one: Duration,
    cpu_all: Duration,
    gpu_plain: Duration,
    gpu_pipelined: Duration,
    gpu_kernels: Duration,
}

fn measure(gpu: &GpuErasure, program: &Program, inputs: &[u8], cpu: impl Fn(Option<usize>) -> anyhow::Result<Vec<u8>>) -> anyhow::Result<Figures> {
    let (cpu_one, expected) = best_of(1, || cpu(Some(1)))?;
    let (cpu_all, all) = best_of(3, || cpu(None))?;
    anyhow::ensure!(all == expected, "reed-solomon-simd on every core differs from one thread");
    let prepared = gpu.prepare(program)?;
    let (gpu_plain, plain) = best_of(3, || gpu.run(&prepared, inputs).map_err(anyhow::Error::from))?;
    anyhow::ensure!(plain == expected, "GPU shards differ from reed-solomon-simd's");
    let per_in = program.inputs.len() * program.shard_bytes;
    let codewords = inputs.len() / per_in;
    let (gpu_pipelined, pipelined) = best_of(3, || gpu.run_pipelined(&prepared, inputs, codewords.div_ceil(8)).map_err(anyhow::Error::from))?;
    anyhow::ensure!(pipelined == expected, "pipelined GPU shards differ from reed-solomon-simd's");
    let mut batch = gpu.alloc_batch(gpu.stream(), &prepared, codewords)?;
    gpu.stream().memcpy_htod(inputs, &mut batch.inputs)?;
    gpu.stream().synchronize()?;
    let (gpu_kernels, ()) = best_of(3, || {
        gpu.run_on_device(gpu.stream(), &prepared, &mut batch, codewords)?;
        gpu.stream().synchronize()?;
        Ok(())
    })?;
    Ok(Figures { cpu_one, cpu_all, gpu_plain, gpu_pipelined, gpu_kernels })
}

pub fn erasure(device: usize, mib: usize) -> anyhow::Result<String> {
    let card = crate::gpu::detect(device)?;
    let gpu = GpuErasure::load(&card)?;
    let checked = crate::gpu::selftest::erasure(&gpu).map_err(|difference| anyhow::anyhow!("GPU self-check failed: {difference}"))?;
    let peak = peak_bandwidth(&card);
    let mut report = format!("self-check: {checked}\n");
    report += &format!(
        "erasure coding (reed-solomon-simd {}), {mib} MiB of originals a batch; CPU: {} cores; peak memory bandwidth {}\n",
        "3.x",
        rayon::current_num_threads(),
        peak.map_or("unknown".into(), |b| format!("{:.0} GB/s", b / 1e9))
    );
    for shape in &SHAPES {
        let per = shape.k * shape.bytes;
        let codewords = (mib << 20).div_ceil(per).max(1);
        let data = zg_systems::erasure::twin::sample_bytes(codewords * per, 1);
        let gbs = |t: Duration| data.len() as f64 / t.as_secs_f64() / 1e9;
        let encode = program::encode(shape.k, shape.m, shape.bytes)?;
        let encoded = measure(&gpu, &encode, &data, |t| cpu_encode(shape, &data, t))?;
        let recovery = cpu_encode(shape, &data, None)?;
        let lost = shape.k.min(shape.m);
        let mut inputs = Vec::with_capacity(codewords * (shape.k - lost + shape.m) * shape.bytes);
        for c in 0..codewords {
            inputs.extend_from_slice(&data[c * per + lost * shape.bytes..(c + 1) * per]);
            inputs.extend_from_slice(&recovery[c * shape.m * shape.bytes..(c + 1) * shape.m * shape.bytes]);
        }
        let present: Vec<bool> = (0..shape.k).map(|i| i >= lost).collect();
        let decode = program::decode(&present, &vec![true; shape.m], shape.bytes)?;
        let decoded = measure(&gpu, &decode, &inputs, |t| cpu_decode(shape, &inputs, lost, t))?;
        report.push_str(&format!("  {} ({codewords} codewords; shards identical to reed-solomon-simd's)\n", shape.name));
        for (what, program, f) in [("encode", &encode, &encoded), (&*format!("decode ({lost} lost)"), &decode, &decoded)] {
            let moved = program.traffic_bytes() as f64 * codewords as f64 / f.gpu_kernels.as_secs_f64();
            report.push_str(&format!(
                "    {what}: CPU 1 thread {:.2} GB/s, all cores {:.2} GB/s | GPU with copies {:.2} GB/s ({:.1}x all cores), pinned+2 streams {:.2} GB/s ({:.1}x), kernels alone {:.1} GB/s ({:.1}x; {:.0} GB/s of memory traffic{})\n",
                gbs(f.cpu_one),
                gbs(f.cpu_all),
                gbs(f.gpu_plain),
                f.cpu_all.as_secs_f64() / f.gpu_plain.as_secs_f64(),
                gbs(f.gpu_pipelined),
                f.cpu_all.as_secs_f64() / f.gpu_pipelined.as_secs_f64(),
                gbs(f.gpu_kernels),
                f.cpu_all.as_secs_f64() / f.gpu_kernels.as_secs_f64(),
                moved / 1e9,
                peak.map_or(String::new(), |p| format!(" = {:.0} % of peak", 100.0 * moved / p)),
            ));
        }
    }
    Ok(report)
}
