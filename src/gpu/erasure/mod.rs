//! reed-solomon-simd's erasure code on the GPU (`assets/cuda/reed_solomon.cu`): a
//! [`Program`] (storage segments, DA rows or columns: any shard counts reed-solomon-simd takes)
//! runs over a whole batch of codewords, in one launch when it fits the fused kernel
//! (`zg_systems::erasure::fused`), else one launch a step. The Rust twin of the kernels is
//! `zg_systems::erasure::twin`; the shards are reed-solomon-simd's bit for bit (held to it by
//! the kernels' source built for the CPU in `tests/gpu_kernels_on_cpu.rs`, which runs the very
//! launches [`plan`] gives this module; on a card, the node
//! installs the kernels only after `gpu::selftest` passes there, and spot-checks their batches
//! on the CPU at run time — these kernels have not yet run on a real card in this project).
//!
//! Host data travels either in one copy each way ([`GpuErasure::run`]) or in chunks through
//! pinned staging buffers on two streams, so one chunk's copies overlap the other's kernels
//! ([`GpuErasure::run_pipelined`]).

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::sys::CUdeviceptr;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, LaunchConfig, PinnedHostSlice, PushKernelArg, SyncOnDrop};
use reed_solomon_simd::engine::tables;
use zg_systems::erasure::program::Program;

use super::{Gpu, GpuError};

pub mod plan;

use plan::{Arg, BatchLayout, Buffer, Kernel, KernelLaunch, MAX_LAUNCH_CODEWORDS, ProgramArrays, THREADS};

pub const KERNEL_SOURCE: &str = include_str!("../../../assets/cuda/reed_solomon.cu");

/// The compiled kernels, in `Kernel::ALL`'s order.
struct Kernels([CudaFunction; 6]);

impl Kernels {
    fn get(&self, kernel: Kernel) -> &CudaFunction {
        &self.0[kernel as usize]
    }
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
/// outputs back to back (codeword-major) and, for a launch a step, the work arrays
/// (`plan::BatchLayout`). The fused kernel keeps its work array in each thread.
pub struct DeviceBatch {
    pub inputs: CudaSlice<u8>,
    pub outputs: CudaSlice<u8>,
    work: Vec<CudaSlice<u8>>,
    capacity: usize,
}

/// A program with its index and factor arrays on the device, uploaded once: the runs
/// themselves copy nothing from pageable memory (such a copy would wait for the stream).
pub struct Prepared {
    program: Program,
    /// What the launches are planned from (the host's copy of what is uploaded).
    arrays: ProgramArrays,
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

/// Device pointers of the buffers a run names, held (with cudarc's stream-order guards) until
/// its launches are queued.
#[derive(Default)]
struct Pointers<'a> {
    at: HashMap<Buffer, CUdeviceptr>,
    guards: Vec<SyncOnDrop<'a>>,
}

impl<'a> Pointers<'a> {
    fn add(&mut self, buffer: Buffer, (pointer, guard): (CUdeviceptr, SyncOnDrop<'a>)) {
        self.at.insert(buffer, pointer);
        self.guards.push(guard);
    }
}

/// A launch argument's value as the kernel takes it.
enum Value {
    U32(u32),
    U64(u64),
}

impl GpuErasure {
    pub fn load(gpu: &Gpu) -> Result<Self, GpuError> {
        let module = gpu.ctx.load_module(super::compile(KERNEL_SOURCE)?)?;
        let load = |kernel: Kernel| module.load_function(kernel.name());
        let kernels = Kernels([
            load(Kernel::Butterflies)?,
            load(Kernel::Scale)?,
            load(Kernel::Shards)?,
            load(Kernel::Move)?,
            load(Kernel::Derivative)?,
            load(Kernel::Program)?,
        ]);
        // A step kernel that cannot launch here leaves erasure coding on the CPU; the fused one
        // is only a shortcut: without it, programs run a launch a step.
        super::limits::require(
            gpu,
            &[Kernel::Butterflies, Kernel::Scale, Kernel::Shards, Kernel::Move, Kernel::Derivative].map(|k| (k.name(), kernels.get(k))),
            THREADS,
        )?;
        let fused_fits = super::limits::unfit(gpu, &[(Kernel::Program.name(), kernels.get(Kernel::Program))], THREADS)?.is_empty();
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
        self.upload(program, ProgramArrays::new(program, self.fused_fits)?)
    }

    /// Like [`Self::prepare`], always a launch a step (benchmarks compare the two).
    pub fn prepare_steps(&self, program: &Program) -> Result<Prepared, GpuError> {
        self.upload(program, ProgramArrays::new(program, false)?)
    }

    fn upload(&self, program: &Program, arrays: ProgramArrays) -> Result<Prepared, GpuError> {
        let factors = arrays.factors.iter().map(|f| f.as_ref().map(|words| self.stream.clone_htod(words)).transpose()).collect::<Result<Vec<_>, _>>()?;
        let fused = match &arrays.fused {
            Some(fused) => Some(FusedOnDevice { code: self.stream.clone_htod(&fused.code)?, tables: self.stream.clone_htod(&fused.tables)? }),
            None => None,
        };
        let prepared = Prepared {
            placed: self.stream.clone_htod(&arrays.placed)?,
            taken: self.stream.clone_htod(&arrays.taken)?,
            order: self.stream.clone_htod(&arrays.order)?,
            factors,
            fused,
            program: program.clone(),
            arrays,
        };
        self.stream.synchronize()?;
        Ok(prepared)
    }

    /// Device buffers for up to `capacity` codewords of `prepared`, on `stream`.
    pub fn alloc_batch(&self, stream: &Arc<CudaStream>, prepared: &Prepared, capacity: usize) -> Result<DeviceBatch, GpuError> {
        let layout = BatchLayout::new(&prepared.program, prepared.is_fused(), capacity);
        let work = layout.work.iter().map(|bytes| stream.alloc_zeros(*bytes)).collect::<Result<Vec<_>, _>>()?;
        Ok(DeviceBatch { inputs: stream.alloc_zeros(layout.inputs)?, outputs: stream.alloc_zeros(layout.outputs)?, work, capacity })
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
    /// on `stream` (not waiting for it): the launches of `plan::launches`.
    pub fn run_on_device(&self, stream: &Arc<CudaStream>, prepared: &Prepared, batch: &mut DeviceBatch, codewords: usize) -> Result<(), GpuError> {
        if codewords == 0 || codewords > batch.capacity {
            return Err(GpuError::Input(format!("{codewords} codewords for a batch of {}", batch.capacity)));
        }
        let launches = plan::launches(&prepared.program, &prepared.arrays, codewords, MAX_LAUNCH_CODEWORDS)?;
        self.execute(stream, prepared, batch, &launches)
    }

    fn execute(&self, stream: &Arc<CudaStream>, prepared: &Prepared, batch: &mut DeviceBatch, launches: &[KernelLaunch]) -> Result<(), GpuError> {
        let mut pointers = Pointers::default();
        pointers.add(Buffer::Inputs, batch.inputs.device_ptr(stream));
        pointers.add(Buffer::Outputs, batch.outputs.device_ptr_mut(stream));
        for (n, work) in batch.work.iter_mut().enumerate() {
            pointers.add(Buffer::Work(n as u8), work.device_ptr_mut(stream));
        }
        pointers.add(Buffer::Placed, prepared.placed.device_ptr(stream));
        pointers.add(Buffer::Taken, prepared.taken.device_ptr(stream));
        pointers.add(Buffer::Order, prepared.order.device_ptr(stream));
        for (step, factors) in prepared.factors.iter().enumerate() {
            if let Some(factors) = factors {
                pointers.add(Buffer::Factors(step), factors.device_ptr(stream));
            }
        }
        if let Some(fused) = &prepared.fused {
            pointers.add(Buffer::Code, fused.code.device_ptr(stream));
            pointers.add(Buffer::FusedTables, fused.tables.device_ptr(stream));
        }
        pointers.add(Buffer::Skew, self.skew.device_ptr(stream));
        pointers.add(Buffer::Exp, self.exp.device_ptr(stream));
        pointers.add(Buffer::Log, self.log.device_ptr(stream));
        for launch in launches {
            if !launch.args.iter().map(|a| a.kind()).eq(launch.kernel.signature().iter().copied()) {
                let kinds: Vec<_> = launch.args.iter().map(|a| a.kind()).collect();
                return Err(GpuError::Input(format!("a launch of {} with arguments {kinds:?}", launch.kernel.name())));
            }
            let values = launch
                .args
                .iter()
                .map(|arg| match arg {
                    Arg::Buffer(buffer) => pointers.at.get(buffer).map(|p| Value::U64(*p)).ok_or_else(|| GpuError::Input(format!("{} names {buffer}, which this run lacks", launch.kernel.name()))),
                    Arg::U32(value) => Ok(Value::U32(*value)),
                    Arg::U64(value) => Ok(Value::U64(*value)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut builder = stream.launch_builder(self.kernels.get(launch.kernel));
            for value in &values {
                match value {
                    Value::U32(v) => builder.arg(v),
                    Value::U64(v) => builder.arg(v),
                };
            }
            let config = LaunchConfig { grid_dim: launch.grid, block_dim: (launch.block, 1, 1), shared_mem_bytes: 0 };
            // SAFETY: the arguments are the kernel's parameters in kind and order (checked just
            // above against `Kernel::signature`, itself checked against the source in
            // plan's tests); every pointer is a live buffer of this batch, program or the
            // tables, sized by `BatchLayout`; the indices the grid touches stay inside them
            // (the same launches run on the CPU emulation with guard bytes around every
            // buffer, tests/gpu_kernels_on_cpu.rs).
            unsafe { builder.launch(config) }?;
        }
        drop(pointers);
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

#[cfg(test)]
mod tests;
