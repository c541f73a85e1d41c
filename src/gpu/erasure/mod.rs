//! reed-solomon-simd's erasure code on the GPU (`assets/cuda/reed_solomon.cu`): a
//! [`Program`] (storage segments, DA rows or columns: any shard counts reed-solomon-simd takes)
//! runs over a whole batch of codewords, in one launch when it fits the fused kernel
//! (`zg_systems::erasure::fused`), else one launch a step. The Rust twin of the kernels is
//! `zg_systems::erasure::twin`; the shards are reed-solomon-simd's bit for bit (held to it by
//! the kernels' source built for the CPU in `tests/gpu_kernels_on_cpu.rs`; on a card, the node
//! installs the kernels only after `gpu::selftest` passes there, and spot-checks their batches
//! on the CPU at run time — these kernels have not yet run on a real card in this project).
//!
//! Host data travels either in one copy each way ([`GpuErasure::run`]) or in chunks through
//! pinned staging buffers on two streams, so one chunk's copies overlap the other's kernels
//! ([`GpuErasure::run_pipelined`]).

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, DevicePtrMut, LaunchConfig, PinnedHostSlice, PushKernelArg};
use reed_solomon_simd::engine::tables;
use zg_systems::erasure::program::{Program, Stage, Step};

use super::{Gpu, GpuError};

pub const KERNEL_SOURCE: &str = include_str!("../../../assets/cuda/reed_solomon.cu");
const THREADS: u32 = 256;
/// Codewords one launch covers (the grid's z dimension).
const MAX_LAUNCH_CODEWORDS: usize = 65_535;
/// rs_shards' operations.
const SHARDS_ZERO: u32 = 0;
const SHARDS_COPY: u32 = 1;
const SHARDS_XOR: u32 = 2;

struct Kernels {
    butterflies: CudaFunction,
    scale: CudaFunction,
    shards: CudaFunction,
    moves: CudaFunction,
    derivative: CudaFunction,
    program: CudaFunction,
}

/// The field's tables and the compiled kernels, resident on one GPU.
pub struct GpuErasure {
    gpu: Gpu,
    stream: Arc<CudaStream>,
    kernels: Kernels,
    skew: CudaSlice<u16>,
    exp: CudaSlice<u16>,
    log: CudaSlice<u16>,
    /// Whether the fused kernel fits this device (checked at load; otherwise a launch a step).
    fused_fits: bool,
}

/// Device buffers for a batch of up to `capacity` codewords of one program: its inputs and
/// outputs back to back (codeword-major) and, for a launch a step, the work array (and a
/// second one for decoding). The fused kernel keeps its work array in each thread.
pub struct DeviceBatch {
    pub inputs: CudaSlice<u8>,
    pub outputs: CudaSlice<u8>,
    work: Option<WorkArrays>,
    capacity: usize,
}

struct WorkArrays {
    work: CudaSlice<u8>,
    scratch: Option<CudaSlice<u8>>,
}

/// A program with its index and factor arrays on the device, uploaded once: the runs
/// themselves copy nothing from pageable memory (such a copy would wait for the stream).
pub struct Prepared {
    program: Program,
    placed: CudaSlice<u32>,
    taken: CudaSlice<u32>,
    order: CudaSlice<u32>,
    factors: Vec<Option<CudaSlice<u32>>>,
    /// The whole program as one launch (`rs_program`), when it fits.
    fused: Option<FusedOnDevice>,
}

struct FusedOnDevice {
    code: CudaSlice<u32>,
    tables: CudaSlice<u16>,
    table_count: u32,
}

impl Prepared {
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Whether runs take the fused kernel (one launch) rather than a launch a step.
    pub fn is_fused(&self) -> bool {
        self.fused.is_some()
    }

    fn shapes(&self) -> (usize, usize) {
        (self.program.inputs.len() * self.program.shard_bytes, self.program.outputs.len() * self.program.shard_bytes)
    }

    fn codewords(&self, inputs: &[u8]) -> Result<usize, GpuError> {
        let (per_in, _) = self.shapes();
        if per_in == 0 || inputs.is_empty() || !inputs.len().is_multiple_of(per_in) {
            return Err(GpuError::Input(format!("{} input bytes are not whole codewords of {per_in} bytes", inputs.len())));
        }
        Ok(inputs.len() / per_in)
    }
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
            program: module.load_function("rs_program")?,
        };
        // A step kernel that cannot launch here leaves erasure coding on the CPU; the fused one
        // is only a shortcut: without it, programs run a launch a step.
        super::limits::require(
            gpu,
            &[
                ("rs_butterflies", &kernels.butterflies),
                ("rs_scale", &kernels.scale),
                ("rs_shards", &kernels.shards),
                ("rs_move", &kernels.moves),
                ("rs_derivative", &kernels.derivative),
            ],
            THREADS,
        )?;
        let fused_fits = super::limits::unfit(gpu, &[("rs_program", &kernels.program)], THREADS)?.is_empty();
        let stream = gpu.ctx.default_stream();
        let exp_log = tables::get_exp_log();
        let skew = stream.clone_htod(tables::get_skew().as_slice())?;
        let exp = stream.clone_htod(exp_log.exp.as_slice())?;
        let log = stream.clone_htod(exp_log.log.as_slice())?;
        stream.synchronize()?;
        Ok(Self { gpu: gpu.clone(), stream, kernels, skew, exp, log, fused_fits })
    }

    /// Uploads `program`'s index and factor arrays, and its fused form when it has one.
    pub fn prepare(&self, program: &Program) -> Result<Prepared, GpuError> {
        let mut prepared = self.prepare_steps(program)?;
        if let Some(fused) = zg_systems::erasure::fused::fuse(program).filter(|_| self.fused_fits) {
            let table_count = as_u32(fused.tables.len() / 64)?;
            let tables = if fused.tables.is_empty() { vec![0u16] } else { fused.tables };
            prepared.fused = Some(FusedOnDevice { code: self.stream.clone_htod(&fused.code)?, tables: self.stream.clone_htod(&tables)?, table_count });
            self.stream.synchronize()?;
        }
        Ok(prepared)
    }

    /// Like [`Self::prepare`], always a launch a step (benchmarks compare the two).
    pub fn prepare_steps(&self, program: &Program) -> Result<Prepared, GpuError> {
        let bytes = program.shard_bytes;
        if bytes == 0 || !bytes.is_multiple_of(2) {
            return Err(GpuError::Input(format!("shards of {bytes} bytes")));
        }
        let positions = |list: &[usize]| -> Result<Vec<u32>, GpuError> { list.iter().map(|p| as_u32(*p)).collect() };
        let widest = program.inputs.len().max(program.outputs.len()).max(1);
        let order: Vec<u32> = (0..as_u32(widest)?).collect();
        let factors = program
            .steps
            .iter()
            .map(|step| match step {
                Step::Scale { factors, .. } if !factors.is_empty() => {
                    let words: Vec<u32> = factors.iter().map(|f| f.word()).collect();
                    Ok(Some(self.stream.clone_htod(&words)?))
                }
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, GpuError>>()?;
        let prepared = Prepared {
            placed: self.stream.clone_htod(&positions(&program.inputs)?)?,
            taken: self.stream.clone_htod(&positions(&program.outputs)?)?,
            order: self.stream.clone_htod(&order)?,
            factors,
            program: program.clone(),
            fused: None,
        };
        self.stream.synchronize()?;
        Ok(prepared)
    }

    /// Device buffers for up to `capacity` codewords of `prepared`, on `stream`.
    pub fn alloc_batch(&self, stream: &Arc<CudaStream>, prepared: &Prepared, capacity: usize) -> Result<DeviceBatch, GpuError> {
        let (per_in, per_out) = prepared.shapes();
        let program = &prepared.program;
        let work = match prepared.fused {
            Some(_) => None,
            None => {
                let work_bytes = capacity * program.work_count * program.shard_bytes;
                let derivative = program.steps.iter().any(|s| matches!(s, Step::FormalDerivative { .. }));
                Some(WorkArrays {
                    work: stream.alloc_zeros(work_bytes)?,
                    scratch: if derivative { Some(stream.alloc_zeros(work_bytes)?) } else { None },
                })
            }
        };
        Ok(DeviceBatch { inputs: stream.alloc_zeros(capacity * per_in)?, outputs: stream.alloc_zeros((capacity * per_out).max(1))?, work, capacity })
    }

    /// Runs the program over every codeword of `inputs` (codeword-major: each codeword's input
    /// shards in the program's order) and gives the outputs the same way: one copy in, the
    /// steps, one copy out.
    pub fn run(&self, prepared: &Prepared, inputs: &[u8]) -> Result<Vec<u8>, GpuError> {
        let codewords = prepared.codewords(inputs)?;
        let (_, per_out) = prepared.shapes();
        let mut batch = self.alloc_batch(&self.stream, prepared, codewords)?;
        self.stream.memcpy_htod(inputs, &mut batch.inputs)?;
        self.run_on_device(&self.stream, prepared, &mut batch, codewords)?;
        let mut out = vec![0u8; codewords * per_out];
        if !out.is_empty() {
            self.stream.memcpy_dtoh(&batch.outputs.slice(..out.len()), out.as_mut_slice())?;
        }
        self.stream.synchronize()?;
        Ok(out)
    }

    /// Like [`Self::run`], in chunks of `chunk_codewords` codewords through pinned staging
    /// buffers on two streams: while one chunk's kernels run, the other's copies do.
    pub fn run_pipelined(&self, prepared: &Prepared, inputs: &[u8], chunk_codewords: usize) -> Result<Vec<u8>, GpuError> {
        let codewords = prepared.codewords(inputs)?;
        if chunk_codewords == 0 {
            return Err(GpuError::Input("chunks of 0 codewords".into()));
        }
        let (per_in, per_out) = prepared.shapes();
        let chunk = chunk_codewords.min(codewords);
        let mut outputs = vec![0u8; codewords * per_out];
        let mut lanes = (0..2).map(|_| Lane::new(self, prepared, chunk)).collect::<Result<Vec<_>, GpuError>>()?;
        for (n, start) in (0..codewords).step_by(chunk).enumerate() {
            let lane = &mut lanes[n % 2];
            lane.finish(&mut outputs, per_out)?;
            let count = chunk.min(codewords - start);
            let staged = lane.pinned_in.as_mut_slice()?;
            staged[..count * per_in].copy_from_slice(&inputs[start * per_in..(start + count) * per_in]);
            lane.stream.memcpy_htod(&staged[..count * per_in], &mut lane.batch.inputs.slice_mut(..count * per_in))?;
            self.run_on_device(&lane.stream, prepared, &mut lane.batch, count)?;
            if per_out > 0 {
                let landing = lane.pinned_out.as_mut_slice()?;
                lane.stream.memcpy_dtoh(&lane.batch.outputs.slice(..count * per_out), &mut landing[..count * per_out])?;
            }
            lane.pending = Some((start, count));
        }
        for lane in &mut lanes {
            lane.finish(&mut outputs, per_out)?;
        }
        Ok(outputs)
    }

    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// Runs the program on the first `codewords` codewords of a batch already on the device,
    /// on `stream` (not waiting for it).
    pub fn run_on_device(&self, stream: &Arc<CudaStream>, prepared: &Prepared, batch: &mut DeviceBatch, codewords: usize) -> Result<(), GpuError> {
        if codewords == 0 || codewords > batch.capacity {
            return Err(GpuError::Input(format!("{codewords} codewords for a batch of {}", batch.capacity)));
        }
        let program = &prepared.program;
        let ctx = Launch { stream, bytes: as_u32(program.shard_bytes)?, work_count: as_u32(program.work_count)?, codewords };
        if let Some(fused) = &prepared.fused {
            return self.fused(&ctx, prepared, fused, batch);
        }
        let arrays = batch.work.as_mut().ok_or_else(|| GpuError::Input("a batch made for the fused kernel".into()))?;
        let work = &mut arrays.work;
        let inputs = as_u32(program.inputs.len())?;
        self.moves(&ctx, work, &batch.inputs, (ctx.work_count, inputs), inputs, (&prepared.placed, &prepared.order))?;
        for (step, factors) in program.steps.iter().zip(&prepared.factors) {
            match step {
                Step::Zero { first, count } => self.shards(&ctx, work, (*first, 0, *count), SHARDS_ZERO)?,
                Step::Copy { from, to, count } => self.shards(&ctx, work, (*to, *from, *count), SHARDS_COPY)?,
                Step::Xor { into, from, count } => self.shards(&ctx, work, (*into, *from, *count), SHARDS_XOR)?,
                Step::Butterflies(stage) => self.butterflies(&ctx, work, stage)?,
                Step::Scale { first, factors: list } => {
                    if let Some(on_device) = factors {
                        self.scale(&ctx, work, *first, list.len(), on_device)?;
                    }
                }
                Step::FormalDerivative { len } => {
                    let target = arrays.scratch.as_mut().ok_or_else(|| GpuError::Input("no scratch buffer".into()))?;
                    self.derivative(&ctx, target, work, *len)?;
                    std::mem::swap(work, target);
                }
            }
        }
        let outputs = as_u32(program.outputs.len())?;
        if outputs > 0 {
            self.moves(&ctx, &mut batch.outputs, work, (outputs, ctx.work_count), outputs, (&prepared.order, &prepared.taken))?;
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
    fn new(erasure: &GpuErasure, prepared: &Prepared, capacity: usize) -> Result<Self, GpuError> {
        let (per_in, per_out) = prepared.shapes();
        let stream = erasure.gpu.ctx.new_stream()?;
        // SAFETY: both buffers are written before they are read (the copy-in fills what the
        // device reads; the device fills what the copy-out reads). Flags 0: plain pinned pages,
        // not write-combined, because the host reads the results back.
        let (pinned_in, pinned_out) = unsafe {
            (erasure.gpu.ctx.alloc_pinned_with_flags::<u8>(capacity * per_in, 0)?, erasure.gpu.ctx.alloc_pinned_with_flags::<u8>((capacity * per_out).max(1), 0)?)
        };
        let batch = erasure.alloc_batch(&stream, prepared, capacity)?;
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

    /// Blocks for a thread per 16-bit word of `shards` shards.
    fn word_blocks(&self, shards: u32) -> Result<u32, GpuError> {
        grid_x((u64::from(shards) * u64::from(self.bytes / 2)).div_ceil(u64::from(THREADS)))
    }

    fn config(x: u32, z: u32) -> LaunchConfig {
        LaunchConfig { grid_dim: (x, 1, z), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 }
    }
}

impl GpuErasure {
    fn butterflies(&self, ctx: &Launch, work: &mut CudaSlice<u8>, stage: &Stage) -> Result<(), GpuError> {
        if stage.pairs() == 0 {
            return Ok(());
        }
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

    fn scale(&self, ctx: &Launch, work: &mut CudaSlice<u8>, first: usize, count: usize, factors: &CudaSlice<u32>) -> Result<(), GpuError> {
        let blocks = ctx.symbol_blocks();
        let x = grid_x(count as u64 * u64::from(blocks))?;
        let first = as_u32(first)?;
        for (first_codeword, n) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.scale);
            launch.arg(&mut *work).arg(&ctx.work_count).arg(&ctx.bytes).arg(&blocks).arg(&first);
            launch.arg(factors).arg(&first_codeword).arg(&self.exp).arg(&self.log);
            // SAFETY: arguments match rs_scale; shards first .. first + count lie in the work
            // array and `factors` holds `count` entries.
            unsafe { launch.launch(Launch::config(x, n)) }?;
        }
        Ok(())
    }

    /// Zeroes, copies or XORs (`op`) `count` whole shards within `work`.
    fn shards(&self, ctx: &Launch, work: &mut CudaSlice<u8>, (to_first, from_first, count): (usize, usize, usize), op: u32) -> Result<(), GpuError> {
        if count == 0 {
            return Ok(());
        }
        let (to_first, from_first, count) = (as_u32(to_first)?, as_u32(from_first)?, as_u32(count)?);
        let x = ctx.word_blocks(count)?;
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

    /// Copies shard `from_positions[s]` of each codeword of `from` to shard `to_positions[s]`
    /// of `to`, for `s < count` (strides: shards a codeword in each buffer).
    fn moves(
        &self,
        ctx: &Launch,
        to: &mut CudaSlice<u8>,
        from: &CudaSlice<u8>,
        (to_stride, from_stride): (u32, u32),
        count: u32,
        (to_positions, from_positions): (&CudaSlice<u32>, &CudaSlice<u32>),
    ) -> Result<(), GpuError> {
        if count == 0 {
            return Ok(());
        }
        let x = ctx.word_blocks(count)?;
        for (first, n) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.moves);
            launch.arg(&mut *to).arg(from).arg(&to_stride).arg(&from_stride).arg(to_positions).arg(from_positions);
            launch.arg(&count).arg(&ctx.bytes).arg(&first);
            // SAFETY: arguments match rs_move; every position is below its buffer's stride and
            // both position arrays hold at least `count` entries.
            unsafe { launch.launch(Launch::config(x, n)) }?;
        }
        Ok(())
    }

    fn fused(&self, ctx: &Launch, prepared: &Prepared, fused: &FusedOnDevice, batch: &mut DeviceBatch) -> Result<(), GpuError> {
        let (inputs, outputs) = (as_u32(prepared.program.inputs.len())?, as_u32(prepared.program.outputs.len())?);
        let x = ctx.symbol_blocks();
        for (first, n) in ctx.slices() {
            let mut launch = ctx.stream.launch_builder(&self.kernels.program);
            launch.arg(&batch.inputs).arg(&mut batch.outputs).arg(&inputs).arg(&outputs).arg(&prepared.placed).arg(&prepared.taken);
            launch.arg(&ctx.bytes).arg(&ctx.work_count).arg(&fused.code).arg(&fused.tables).arg(&fused.table_count);
            launch.arg(&first).arg(&self.exp).arg(&self.log);
            // SAFETY: arguments match rs_program; the program fits its limits (fuse checked the
            // work array and the table count), positions lie in the work array, and the
            // buffers hold `n` codewords of inputs and outputs from `first` on.
            unsafe { launch.launch(Launch::config(x, n)) }?;
        }
        Ok(())
    }

    fn derivative(&self, ctx: &Launch, out: &mut CudaSlice<u8>, work: &CudaSlice<u8>, len: usize) -> Result<(), GpuError> {
        let x = ctx.word_blocks(ctx.work_count)?;
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
mod tests;
