//! reed-solomon-simd's erasure code on the GPU (`assets/cuda/reed_solomon.cu`): a
//! [`Program`] (storage segments, DA rows or columns: any shard counts reed-solomon-simd takes)
//! runs over a whole batch of codewords, one launch a step. The CPU twin of every kernel is
//! `zg_systems::erasure::twin`; the shards are reed-solomon-simd's bit for bit (tested on a GPU
//! host against reed-solomon-simd itself).
//!
//! Host data travels either in one copy each way ([`GpuErasure::run`]) or in chunks through
//! pinned staging buffers on two streams, so one chunk's copies overlap the other's kernels
//! ([`GpuErasure::run_pipelined`]).

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, DevicePtrMut, LaunchConfig, PinnedHostSlice, PushKernelArg};
use reed_solomon_simd::engine::tables;
use zg_systems::erasure::program::{Factor, Program, Step};

use super::{Gpu, GpuError};

pub const KERNEL_SOURCE: &str = include_str!("../../assets/cuda/reed_solomon.cu");
const THREADS: u32 = 256;
/// Codewords one launch covers (the grid's z dimension).
const MAX_LAUNCH_CODEWORDS: usize = 65_535;
const FACTOR_ZERO: u32 = 0x1_0000;
const FACTOR_KEEP: u32 = 0x2_0000;

struct Kernels {
    butterflies: CudaFunction,
    scale: CudaFunction,
    shards: CudaFunction,
    moves: CudaFunction,
    derivative: CudaFunction,
}

/// The field's tables and the compiled kernels, resident on one GPU.
pub struct GpuErasure {
    gpu: Gpu,
    stream: Arc<CudaStream>,
    kernels: Kernels,
    skew: CudaSlice<u16>,
    exp: CudaSlice<u16>,
    log: CudaSlice<u16>,
}

/// Device buffers for one batch: its inputs and outputs back to back, codeword-major.
pub struct DeviceBatch {
    pub inputs: CudaSlice<u8>,
    pub outputs: CudaSlice<u8>,
    pub codewords: usize,
}

fn grid_x(units: u64) -> Result<u32, GpuError> {
    u32::try_from(units).ok().filter(|x| *x <= i32::MAX as u32).ok_or_else(|| GpuError::Input(format!("{units} blocks exceed the grid")))
}

fn as_u32(value: usize) -> Result<u32, GpuError> {
    u32::try_from(value).map_err(|_| GpuError::Input(format!("{value} does not fit the kernels' 32-bit counts")))
}

impl GpuErasure {
    pub fn load(gpu: &Gpu) -> Result<Self, GpuError> {
        let module = gpu.ctx.load_module(super::compile(KERNEL_SOURCE)?)?;
        let kernels = Kernels {
            butterflies: module.load_function("rs_butterflies")?,
            scale: module.load_function("rs_scale")?,
            shards: module.load_function("rs_shards")?,
            moves: module.load_function("rs_move")?,
            derivative: module.load_function("rs_derivative")?,
        };
        let stream = gpu.ctx.default_stream();
        let exp_log = tables::get_exp_log();
        let skew = stream.clone_htod(tables::get_skew().as_slice())?;
        let exp = stream.clone_htod(exp_log.exp.as_slice())?;
        let log = stream.clone_htod(exp_log.log.as_slice())?;
        stream.synchronize()?;
        Ok(Self { gpu: gpu.clone(), stream, kernels, skew, exp, log })
    }

    fn shapes(program: &Program) -> (usize, usize) {
        (program.inputs.len() * program.shard_bytes, program.outputs.len() * program.shard_bytes)
    }

    /// Runs `program` over every codeword of `inputs` (codeword-major: each codeword's input
    /// shards in the program's order) and gives the outputs the same way: one copy in, the
    /// steps, one copy out.
    pub fn run(&self, program: &Program, inputs: &[u8]) -> Result<Vec<u8>, GpuError> {
        let (per_in, per_out) = Self::shapes(program);
        if per_in == 0 || inputs.is_empty() || !inputs.len().is_multiple_of(per_in) {
            return Err(GpuError::Input(format!("{} input bytes are not whole codewords of {per_in} bytes", inputs.len())));
        }
        let codewords = inputs.len() / per_in;
        let mut batch = DeviceBatch { inputs: self.stream.clone_htod(inputs)?, outputs: self.stream.alloc_zeros(codewords * per_out)?, codewords };
        self.run_on_device(&self.stream, program, &mut batch)?;
        Ok(self.stream.clone_dtoh(&batch.outputs)?)
    }

    /// Like [`Self::run`], in chunks of `chunk_codewords` codewords through pinned staging
    /// buffers on two streams: while one chunk's kernels run, the other's copies do.
    pub fn run_pipelined(&self, program: &Program, inputs: &[u8], chunk_codewords: usize) -> Result<Vec<u8>, GpuError> {
        let (per_in, per_out) = Self::shapes(program);
        if per_in == 0 || inputs.is_empty() || !inputs.len().is_multiple_of(per_in) || chunk_codewords == 0 {
            return Err(GpuError::Input(format!("{} input bytes are not whole codewords of {per_in} bytes", inputs.len())));
        }
        let codewords = inputs.len() / per_in;
        let chunk = chunk_codewords.min(codewords);
        let mut outputs = vec![0u8; codewords * per_out];
        let mut lanes = (0..2)
            .map(|_| Lane::new(&self.gpu, chunk * per_in, chunk * per_out, chunk))
            .collect::<Result<Vec<_>, GpuError>>()?;
        let starts: Vec<usize> = (0..codewords).step_by(chunk).collect();
        for (n, start) in starts.iter().enumerate() {
            let lane = &mut lanes[n % 2];
            lane.finish(&mut outputs, per_out)?;
            let count = chunk.min(codewords - start);
            let staged = lane.pinned_in.as_mut_slice()?;
            staged[..count * per_in].copy_from_slice(&inputs[start * per_in..(start + count) * per_in]);
            lane.stream.memcpy_htod(&staged[..count * per_in], &mut lane.batch.inputs.slice_mut(..count * per_in))?;
            lane.batch.codewords = count;
            self.run_on_device(&lane.stream, program, &mut lane.batch)?;
            let landing = lane.pinned_out.as_mut_slice()?;
            lane.stream.memcpy_dtoh(&lane.batch.outputs.slice(..count * per_out), &mut landing[..count * per_out])?;
            lane.pending = Some((*start, count));
        }
        for lane in &mut lanes {
            lane.finish(&mut outputs, per_out)?;
        }
        Ok(outputs)
    }

    /// Allocates device buffers for `codewords` codewords of `program` on the default stream
    /// (benchmarks time the kernels alone with these).
    pub fn device_batch(&self, program: &Program, inputs: &[u8]) -> Result<DeviceBatch, GpuError> {
        let (per_in, per_out) = Self::shapes(program);
        if per_in == 0 || inputs.is_empty() || !inputs.len().is_multiple_of(per_in) {
            return Err(GpuError::Input("inputs are not whole codewords".into()));
        }
        let codewords = inputs.len() / per_in;
        Ok(DeviceBatch { inputs: self.stream.clone_htod(inputs)?, outputs: self.stream.alloc_zeros(codewords * per_out)?, codewords })
    }

    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// Runs `program` on a batch already on the device, on `stream` (not waiting for it).
    pub fn run_on_device(&self, stream: &Arc<CudaStream>, program: &Program, batch: &mut DeviceBatch) -> Result<(), GpuError> {
        let bytes = program.shard_bytes;
        if bytes == 0 || !bytes.is_multiple_of(2) {
            return Err(GpuError::Input(format!("shards of {bytes} bytes")));
        }
        let mut work = stream.alloc_zeros::<u8>(batch.codewords * program.work_count * bytes)?;
        let mut scratch = if program.steps.iter().any(|s| matches!(s, Step::FormalDerivative { .. })) {
            Some(stream.alloc_zeros::<u8>(batch.codewords * program.work_count * bytes)?)
        } else {
            None
        };
        let ctx = Launch { stream, bytes: as_u32(bytes)?, work_count: as_u32(program.work_count)?, codewords: batch.codewords };
        let placed: Vec<u32> = program.inputs.iter().map(|p| as_u32(*p)).collect::<Result<_, _>>()?;
        let order: Vec<u32> = (0..as_u32(placed.len())?).collect();
        self.moves(&ctx, &mut work, &batch.inputs, ctx.work_count, as_u32(placed.len())?, &placed, &order)?;
        for step in &program.steps {
            match step {
                Step::Zero { first, count } => self.shards(&ctx, &mut work, (*first, 0, *count), 0)?,
                Step::Copy { from, to, count } => self.shards(&ctx, &mut work, (*to, *from, *count), 1)?,
                Step::Xor { into, from, count } => self.shards(&ctx, &mut work, (*into, *from, *count), 2)?,
                Step::Butterflies(stage) => self.butterflies(&ctx, &mut work, stage)?,
                Step::Scale { first, factors } => self.scale(&ctx, &mut work, *first, factors)?,
                Step::FormalDerivative { len } => {
                    let target = scratch.as_mut().ok_or_else(|| GpuError::Input("no scratch buffer".into()))?;
                    self.derivative(&ctx, target, &work, *len)?;
                    std::mem::swap(&mut work, target);
                }
            }
        }
        let taken: Vec<u32> = program.outputs.iter().map(|p| as_u32(*p)).collect::<Result<_, _>>()?;
        let order: Vec<u32> = (0..as_u32(taken.len())?).collect();
        if !taken.is_empty() {
            self.moves_out(&ctx, &mut batch.outputs, &work, as_u32(taken.len())?, &order, &taken)?;
        }
        Ok(())
    }
}

/// One stream's share of a pipelined run: pinned staging both ways, device buffers, and which
/// chunk (start, count) is in flight.
struct Lane {
    stream: Arc<CudaStream>,
    pinned_in: PinnedHostSlice<u8>,
    pinned_out: PinnedHostSlice<u8>,
    batch: DeviceBatch,
    pending: Option<(usize, usize)>,
}

impl Lane {
    fn new(gpu: &Gpu, in_bytes: usize, out_bytes: usize, codewords: usize) -> Result<Self, GpuError> {
        let stream = gpu.ctx.new_stream()?;
        // SAFETY: both buffers are written before they are read (the copy-in fills what the
        // device reads; the device fills what the copy-out reads). Flags 0: plain pinned pages,
        // not write-combined, because the host reads the results back.
        let (pinned_in, pinned_out) = unsafe { (gpu.ctx.alloc_pinned_with_flags::<u8>(in_bytes, 0)?, gpu.ctx.alloc_pinned_with_flags::<u8>(out_bytes, 0)?) };
        let batch = DeviceBatch { inputs: stream.alloc_zeros(in_bytes)?, outputs: stream.alloc_zeros(out_bytes)?, codewords };
        Ok(Self { stream, pinned_in, pinned_out, batch, pending: None })
    }

    /// Waits for the chunk in flight and copies its outputs into place.
    fn finish(&mut self, outputs: &mut [u8], per_out: usize) -> Result<(), GpuError> {
        if let Some((start, count)) = self.pending.take() {
            self.stream.synchronize()?;
            let landed = self.pinned_out.as_slice()?;
            outputs[start * per_out..(start + count) * per_out].copy_from_slice(&landed[..count * per_out]);
        }
        Ok(())
    }
}

struct Launch<'a> {
    stream: &'a Arc<CudaStream>,
    bytes: u32,
    work_count: u32,
    codewords: usize,
}

impl Launch<'_> {
    /// (first codeword, codewords) of each launch: the grid's z dimension is bounded.
    fn slices(&self) -> impl Iterator<Item = (u64, u32)> {
        let total = self.codewords;
        (0..total).step_by(MAX_LAUNCH_CODEWORDS).map(move |first| (first as u64, (total - first).min(MAX_LAUNCH_CODEWORDS) as u32))
    }

    fn symbol_blocks(&self) -> u32 {
        (self.bytes / 2).div_ceil(THREADS)
    }

    fn config(x: u32, z: u32) -> LaunchConfig {
        LaunchConfig { grid_dim: (x, 1, z), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 }
    }
}

impl GpuErasure {
    fn butterflies(&self, ctx: &Launch, work: &mut CudaSlice<u8>, stage: &zg_systems::erasure::program::Stage) -> Result<(), GpuError> {
        let blocks = ctx.symbol_blocks();
        let x = grid_x(stage.pairs() as u64 * u64::from(blocks))?;
        let (pos, dist, skew_delta, inverse) = (as_u32(stage.pos)?, as_u32(stage.dist)?, as_u32(stage.skew_delta)?, u32::from(stage.inverse));
        for (first, count) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.butterflies);
            launch.arg(&mut *work).arg(&ctx.work_count).arg(&ctx.bytes).arg(&blocks);
            launch.arg(&pos).arg(&dist).arg(&skew_delta).arg(&inverse).arg(&first);
            launch.arg(&self.skew).arg(&self.exp).arg(&self.log);
            // SAFETY: arguments match rs_butterflies in type and order; every pair the grid
            // touches lies inside the work array (the program keeps stages within it).
            unsafe { launch.launch(Launch::config(x, count)) }?;
        }
        Ok(())
    }

    fn scale(&self, ctx: &Launch, work: &mut CudaSlice<u8>, first: usize, factors: &[Factor]) -> Result<(), GpuError> {
        if factors.is_empty() {
            return Ok(());
        }
        let coded: Vec<u32> = factors
            .iter()
            .map(|f| match f {
                Factor::Keep => FACTOR_KEEP,
                Factor::Zero => FACTOR_ZERO,
                Factor::Log(log_m) => u32::from(*log_m),
            })
            .collect();
        let factors_on_device = ctx.stream.clone_htod(&coded)?;
        let blocks = ctx.symbol_blocks();
        let x = grid_x(coded.len() as u64 * u64::from(blocks))?;
        let first = as_u32(first)?;
        for (first_codeword, count) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.scale);
            launch.arg(&mut *work).arg(&ctx.work_count).arg(&ctx.bytes).arg(&blocks).arg(&first);
            launch.arg(&factors_on_device).arg(&first_codeword).arg(&self.exp).arg(&self.log);
            // SAFETY: arguments match rs_scale; shards first .. first + factors lie in the work array.
            unsafe { launch.launch(Launch::config(x, count)) }?;
        }
        Ok(())
    }

    /// Zero (op 0), copy (1) or XOR (2) `count` whole shards within `work` (or from `from`).
    fn shards(&self, ctx: &Launch, work: &mut CudaSlice<u8>, (to_first, from_first, count): (usize, usize, usize), op: u32) -> Result<(), GpuError> {
        if count == 0 {
            return Ok(());
        }
        let words = count as u64 * u64::from(ctx.bytes / 2);
        let x = grid_x(words.div_ceil(u64::from(THREADS)))?;
        let (to_first, from_first, count) = (as_u32(to_first)?, as_u32(from_first)?, as_u32(count)?);
        for (first, n) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.shards);
            // Source and destination are the same allocation: the kernel reads and writes
            // disjoint shard ranges of it.
            let (ptr, _sync) = DevicePtrMut::device_ptr_mut(&mut *work, ctx.stream);
            launch.arg(&ptr).arg(&ptr).arg(&ctx.work_count).arg(&ctx.work_count).arg(&to_first).arg(&from_first);
            launch.arg(&count).arg(&ctx.bytes).arg(&op).arg(&first);
            // SAFETY: arguments match rs_shards; both ranges lie in the work array.
            unsafe { launch.launch(Launch::config(x, n)) }?;
        }
        Ok(())
    }

    /// Places input shard `order[s]` of each codeword at work position `placed[s]`.
    #[allow(clippy::too_many_arguments)]
    fn moves(&self, ctx: &Launch, work: &mut CudaSlice<u8>, inputs: &CudaSlice<u8>, work_stride: u32, count: u32, placed: &[u32], order: &[u32]) -> Result<(), GpuError> {
        if count == 0 {
            return Ok(());
        }
        let (to, from) = (ctx.stream.clone_htod(placed)?, ctx.stream.clone_htod(order)?);
        let x = grid_x((u64::from(count) * u64::from(ctx.bytes / 2)).div_ceil(u64::from(THREADS)))?;
        for (first, n) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.moves);
            launch.arg(&mut *work).arg(inputs).arg(&work_stride).arg(&count).arg(&to).arg(&from);
            launch.arg(&count).arg(&ctx.bytes).arg(&first);
            // SAFETY: arguments match rs_move; positions are below each buffer's stride.
            unsafe { launch.launch(Launch::config(x, n)) }?;
        }
        Ok(())
    }

    /// Takes work position `taken[s]` of each codeword to output shard `order[s]`.
    fn moves_out(&self, ctx: &Launch, outputs: &mut CudaSlice<u8>, work: &CudaSlice<u8>, count: u32, order: &[u32], taken: &[u32]) -> Result<(), GpuError> {
        let (to, from) = (ctx.stream.clone_htod(order)?, ctx.stream.clone_htod(taken)?);
        let x = grid_x((u64::from(count) * u64::from(ctx.bytes / 2)).div_ceil(u64::from(THREADS)))?;
        for (first, n) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.moves);
            launch.arg(&mut *outputs).arg(work).arg(&count).arg(&ctx.work_count).arg(&to).arg(&from);
            launch.arg(&count).arg(&ctx.bytes).arg(&first);
            // SAFETY: arguments match rs_move; output positions are below `count`, work positions
            // below the work array's stride.
            unsafe { launch.launch(Launch::config(x, n)) }?;
        }
        Ok(())
    }

    fn derivative(&self, ctx: &Launch, out: &mut CudaSlice<u8>, work: &CudaSlice<u8>, len: usize) -> Result<(), GpuError> {
        let words = u64::from(ctx.work_count) * u64::from(ctx.bytes / 2);
        let x = grid_x(words.div_ceil(u64::from(THREADS)))?;
        let len = as_u32(len)?;
        for (first, n) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.derivative);
            launch.arg(&mut *out).arg(work).arg(&ctx.work_count).arg(&ctx.bytes).arg(&len).arg(&first);
            // SAFETY: arguments match rs_derivative; both buffers hold the whole work array.
            unsafe { launch.launch(Launch::config(x, n)) }?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zg_systems::erasure::program;

    /// Every kernel compiles wherever NVRTC is installed (CI sets ZG_REQUIRE_NVRTC=1 with the
    /// NVRTC wheel, so there a missing library fails instead of skipping).
    #[test]
    fn the_erasure_kernels_compile_with_nvrtc() {
        match super::super::compile(KERNEL_SOURCE) {
            Ok(ptx) => {
                let text = ptx.to_src();
                for kernel in ["rs_butterflies", "rs_scale", "rs_shards", "rs_move", "rs_derivative"] {
                    assert!(text.contains(kernel), "{kernel} missing from the PTX");
                }
            }
            Err(GpuError::Absent(why)) if std::env::var("ZG_REQUIRE_NVRTC").is_err() => eprintln!("skipped: {why}"),
            Err(error) => panic!("{error}"),
        }
    }

    fn gpu() -> Option<GpuErasure> {
        match super::super::detect(0) {
            Ok(gpu) => Some(GpuErasure::load(&gpu).expect("the erasure kernels load")),
            Err(why) => {
                eprintln!("skipped (runs on a GPU host): {why}");
                None
            }
        }
    }

    fn random(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// On a GPU host: a batch of codewords encoded and decoded on the GPU gives exactly
    /// reed-solomon-simd's recovery shards and the lost originals, for the node's shapes and
    /// odd ones (both rates, tails under 64 bytes, more codewords than one launch takes).
    #[test]
    fn gpu_shards_are_reed_solomon_simd_shards() {
        let Some(gpu) = gpu() else { return };
        for (k, m, bytes, codewords) in [(8, 4, 1024, 64), (16, 16, 512, 40), (3, 200, 66, 3), (200, 3, 130, 5), (33, 31, 62, 7), (1, 1, 2, 70_000)] {
            let data = random(k * bytes * codewords, (k * 31 + m) as u64);
            let encode = program::encode(k, m, bytes).expect("supported");
            let recovery = gpu.run(&encode, &data).expect("GPU encodes");
            let pipelined = gpu.run_pipelined(&encode, &data, codewords.div_ceil(3)).expect("GPU encodes in chunks");
            assert_eq!(recovery, pipelined, "{k}+{m}: pipelined run differs");
            for c in 0..codewords {
                let originals: Vec<&[u8]> = data[c * k * bytes..(c + 1) * k * bytes].chunks(bytes).collect();
                let expected = reed_solomon_simd::encode(k, m, &originals).expect("encodes").concat();
                assert_eq!(&recovery[c * m * bytes..(c + 1) * m * bytes], expected.as_slice(), "{k}+{m}/{bytes}: codeword {c}");
            }
            // Lose the first min(k, m) originals; keep the rest and every recovery shard.
            let lost = k.min(m);
            let present: Vec<bool> = (0..k).map(|i| i >= lost).collect();
            let decode = program::decode(&present, &vec![true; m], bytes).expect("enough shards");
            let mut inputs = Vec::new();
            for c in 0..codewords {
                inputs.extend_from_slice(&data[c * k * bytes + lost * bytes..(c + 1) * k * bytes]);
                inputs.extend_from_slice(&recovery[c * m * bytes..(c + 1) * m * bytes]);
            }
            let restored = gpu.run(&decode, &inputs).expect("GPU decodes");
            for c in 0..codewords {
                assert_eq!(&restored[c * lost * bytes..(c + 1) * lost * bytes], &data[c * k * bytes..c * k * bytes + lost * bytes], "{k}+{m}: codeword {c} not restored");
            }
        }
    }

    /// On a GPU host: random shapes and loss patterns, GPU against the CPU twin step for step.
    #[test]
    fn gpu_matches_the_twin_on_random_shapes() {
        let Some(gpu) = gpu() else { return };
        for seed in 0..40u64 {
            let (k, m) = (1 + (seed * 7 % 47) as usize, 1 + (seed * 13 % 53) as usize);
            let bytes = 2 * (1 + (seed * 29 % 300) as usize);
            let data = random(k * bytes, seed);
            let encode = program::encode(k, m, bytes).expect("supported");
            let originals: Vec<&[u8]> = data.chunks(bytes).collect();
            let twin = zg_systems::erasure::twin::run(&encode, &originals).expect("twin").concat();
            assert_eq!(gpu.run(&encode, &data).expect("GPU"), twin, "seed {seed}: {k}+{m}/{bytes}");
            let present: Vec<bool> = (0..k + m).map(|i| (i as u64 * 2_654_435_761 + seed) % 3 != 0 || i >= k + m.min(k)).collect();
            if present.iter().filter(|p| **p).count() < k {
                continue;
            }
            let decode = program::decode(&present[..k], &present[k..], bytes).expect("enough");
            let all: Vec<&[u8]> = originals.iter().copied().chain(twin.chunks(bytes)).collect();
            let inputs: Vec<&[u8]> = all.iter().zip(&present).filter(|(_, p)| **p).map(|(s, _)| *s).collect();
            let expected = zg_systems::erasure::twin::run(&decode, &inputs).expect("twin").concat();
            assert_eq!(gpu.run(&decode, &inputs.concat()).expect("GPU"), expected, "seed {seed}: decode");
        }
    }

    #[test]
    fn malformed_batches_are_refused_not_run() {
        let Some(gpu) = gpu() else { return };
        let encode = program::encode(4, 2, 64).expect("supported");
        assert!(gpu.run(&encode, &[]).is_err());
        assert!(gpu.run(&encode, &[0u8; 255]).is_err());
        assert!(gpu.run_pipelined(&encode, &[0u8; 256], 0).is_err());
    }
}
