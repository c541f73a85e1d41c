//! The erasure kernels' launches as data, with no device in sight: which kernel, the grid and
//! block, and every argument in order (a device buffer by name, or a 32- or 64-bit number).
//! [`super::GpuErasure`] runs exactly these launches through cudarc; the CPU emulation of the
//! kernels (`tests/gpu_kernels_on_cpu.rs`, `tests/cuda_emu/erasure_driver.cpp`) runs the same
//! list, so the launch arithmetic it checks (grids, 256-thread blocks, slices of 65,535
//! codewords, argument order) is the one that ships. [`Kernel::signature`] is checked against
//! the kernels' source in this module's tests.

use std::fmt;

use zg_systems::erasure::fused;
use zg_systems::erasure::program::{Program, Step};

use crate::gpu::GpuError;

/// Threads a block, every kernel.
pub const THREADS: u32 = 256;
/// Codewords one launch covers: a grid's z dimension is at most 65,535.
pub const MAX_LAUNCH_CODEWORDS: usize = 65_535;
/// rs_shards' operations.
const SHARDS_ZERO: u32 = 0;
const SHARDS_COPY: u32 = 1;
const SHARDS_XOR: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    Butterflies,
    Scale,
    Shards,
    Move,
    Derivative,
    Program,
}

/// What a kernel parameter is: a device pointer, a `u32` or a `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Pointer,
    U32,
    U64,
}

impl Kernel {
    /// In declaration order, so `kernel as usize` is its index here.
    pub const ALL: [Kernel; 6] = [Kernel::Butterflies, Kernel::Scale, Kernel::Shards, Kernel::Move, Kernel::Derivative, Kernel::Program];

    /// Its name in `assets/cuda/reed_solomon.cu`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Butterflies => "rs_butterflies",
            Kernel::Scale => "rs_scale",
            Kernel::Shards => "rs_shards",
            Kernel::Move => "rs_move",
            Kernel::Derivative => "rs_derivative",
            Kernel::Program => "rs_program",
        }
    }

    /// Its parameters in order, as the source declares them.
    pub fn signature(self) -> &'static [ArgKind] {
        use ArgKind::{Pointer as P, U32, U64};
        match self {
            Kernel::Butterflies => &[P, U32, U32, U32, U32, U32, U32, U32, U64, P, P, P],
            Kernel::Scale => &[P, U32, U32, U32, U32, P, U64, P, P],
            Kernel::Shards => &[P, P, U32, U32, U32, U32, U32, U32, U32, U64],
            Kernel::Move => &[P, P, U32, U32, P, P, U32, U32, U64],
            Kernel::Derivative => &[P, P, U32, U32, U32, U64],
            Kernel::Program => &[P, P, U32, U32, P, P, U32, U32, P, P, U32, U64, P, P],
        }
    }
}

/// A device buffer a launch reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Buffer {
    /// The batch's input shards, codeword-major.
    Inputs,
    /// The batch's output shards, codeword-major.
    Outputs,
    /// The batch's two work arrays: a formal derivative writes the other one and makes it current.
    Work(u8),
    /// Where each input goes in the work array, where each output comes from, and 0, 1, 2, …
    Placed,
    Taken,
    Order,
    /// The factors of the program's step with this index (a scale step).
    Factors(usize),
    /// The fused program's code and multiplication tables.
    Code,
    FusedTables,
    /// The field's tables.
    Skew,
    Exp,
    Log,
}

impl fmt::Display for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Buffer::Inputs => write!(f, "inputs"),
            Buffer::Outputs => write!(f, "outputs"),
            Buffer::Work(n) => write!(f, "work{n}"),
            Buffer::Placed => write!(f, "placed"),
            Buffer::Taken => write!(f, "taken"),
            Buffer::Order => write!(f, "order"),
            Buffer::Factors(step) => write!(f, "factors{step}"),
            Buffer::Code => write!(f, "code"),
            Buffer::FusedTables => write!(f, "fused_tables"),
            Buffer::Skew => write!(f, "skew"),
            Buffer::Exp => write!(f, "exp"),
            Buffer::Log => write!(f, "log"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    Buffer(Buffer),
    U32(u32),
    U64(u64),
}

impl Arg {
    pub fn kind(self) -> ArgKind {
        match self {
            Arg::Buffer(_) => ArgKind::Pointer,
            Arg::U32(_) => ArgKind::U32,
            Arg::U64(_) => ArgKind::U64,
        }
    }
}

/// One kernel launch: `grid` blocks of `block` threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLaunch {
    pub kernel: Kernel,
    pub grid: (u32, u32, u32),
    pub block: u32,
    pub args: Vec<Arg>,
}

/// What a program keeps on the device (uploaded once): the index arrays, each scale step's
/// factors, and the fused form when it runs as one launch.
#[derive(Debug, Clone)]
pub struct ProgramArrays {
    pub placed: Vec<u32>,
    pub taken: Vec<u32>,
    pub order: Vec<u32>,
    /// By step index; `None` for steps without factors.
    pub factors: Vec<Option<Vec<u32>>>,
    pub fused: Option<FusedArrays>,
}

#[derive(Debug, Clone)]
pub struct FusedArrays {
    pub code: Vec<u32>,
    /// At least one entry (a device allocation cannot be empty).
    pub tables: Vec<u16>,
    pub table_count: u32,
}

impl ProgramArrays {
    /// The arrays of `program`, with its fused form when `fuse` and the program fits it.
    pub fn new(program: &Program, fuse: bool) -> Result<Self, GpuError> {
        let bytes = program.shard_bytes;
        if bytes == 0 || !bytes.is_multiple_of(2) {
            return Err(GpuError::Input(format!("shards of {bytes} bytes")));
        }
        let positions = |list: &[usize]| -> Result<Vec<u32>, GpuError> { list.iter().map(|p| as_u32(*p)).collect() };
        let widest = program.inputs.len().max(program.outputs.len()).max(1);
        let factors = program
            .steps
            .iter()
            .map(|step| match step {
                Step::Scale { factors, .. } if !factors.is_empty() => Some(factors.iter().map(|f| f.word()).collect()),
                _ => None,
            })
            .collect();
        let fused = match fused::fuse(program).filter(|_| fuse) {
            Some(fused) => {
                let table_count = as_u32(fused.tables.len() / 64)?;
                let tables = if fused.tables.is_empty() { vec![0u16] } else { fused.tables };
                Some(FusedArrays { code: fused.code, tables, table_count })
            }
            None => None,
        };
        Ok(Self { placed: positions(&program.inputs)?, taken: positions(&program.outputs)?, order: (0..as_u32(widest)?).collect(), factors, fused })
    }
}

/// Byte sizes of a batch's device buffers for `capacity` codewords: inputs, outputs (at least
/// one byte) and, for a launch a step, the work arrays (two when the program takes a formal
/// derivative). The fused kernel keeps its work array in each thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLayout {
    pub inputs: usize,
    pub outputs: usize,
    pub work: Vec<usize>,
}

impl BatchLayout {
    pub fn new(program: &Program, fused: bool, capacity: usize) -> Self {
        let per_shard = program.shard_bytes;
        let work = match fused {
            true => Vec::new(),
            false => {
                let bytes = capacity * program.work_count * per_shard;
                let derivative = program.steps.iter().any(|s| matches!(s, Step::FormalDerivative { .. }));
                vec![bytes; if derivative { 2 } else { 1 }]
            }
        };
        Self { inputs: capacity * program.inputs.len() * per_shard, outputs: (capacity * program.outputs.len() * per_shard).max(1), work }
    }
}

/// The launches that run `program` over `codewords` codewords of a batch, at most
/// `max_launch` codewords a launch (the host: [`MAX_LAUNCH_CODEWORDS`]).
pub fn launches(program: &Program, arrays: &ProgramArrays, codewords: usize, max_launch: usize) -> Result<Vec<KernelLaunch>, GpuError> {
    if codewords == 0 {
        return Err(GpuError::Input("a run of 0 codewords".into()));
    }
    if max_launch == 0 || max_launch > MAX_LAUNCH_CODEWORDS {
        return Err(GpuError::Input(format!("{max_launch} codewords a launch (1 to {MAX_LAUNCH_CODEWORDS})")));
    }
    let mut plan = Planner { bytes: as_u32(program.shard_bytes)?, work_count: as_u32(program.work_count)?, codewords, max_launch, launches: Vec::new() };
    let (inputs, outputs) = (as_u32(program.inputs.len())?, as_u32(program.outputs.len())?);
    if arrays.fused.is_some() {
        plan.fused(inputs, outputs, arrays)?;
        return Ok(plan.launches);
    }
    let mut work = 0u8;
    plan.moves((Buffer::Work(work), Buffer::Inputs), (plan.work_count, inputs), inputs, (Buffer::Placed, Buffer::Order))?;
    for (index, step) in program.steps.iter().enumerate() {
        let current = Buffer::Work(work);
        match step {
            Step::Zero { first, count } => plan.shards(current, (*first, 0, *count), SHARDS_ZERO)?,
            Step::Copy { from, to, count } => plan.shards(current, (*to, *from, *count), SHARDS_COPY)?,
            Step::Xor { into, from, count } => plan.shards(current, (*into, *from, *count), SHARDS_XOR)?,
            Step::Butterflies(stage) => {
                if stage.pairs() > 0 {
                    let blocks = plan.symbol_blocks();
                    let x = grid_x(stage.pairs() as u64 * u64::from(blocks))?;
                    let fixed = [Arg::Buffer(current), Arg::U32(plan.work_count), Arg::U32(plan.bytes), Arg::U32(blocks)];
                    let stage_args = [as_u32(stage.pos)?, as_u32(stage.dist)?, as_u32(stage.skew_delta)?, u32::from(stage.inverse)].map(Arg::U32);
                    plan.sliced(Kernel::Butterflies, x, |first| {
                        fixed.iter().chain(&stage_args).copied().chain([Arg::U64(first), Arg::Buffer(Buffer::Skew), Arg::Buffer(Buffer::Exp), Arg::Buffer(Buffer::Log)]).collect()
                    });
                }
            }
            Step::Scale { first, factors } => {
                if arrays.factors.get(index).is_some_and(Option::is_some) {
                    let blocks = plan.symbol_blocks();
                    let x = grid_x(factors.len() as u64 * u64::from(blocks))?;
                    let head = [Arg::Buffer(current), Arg::U32(plan.work_count), Arg::U32(plan.bytes), Arg::U32(blocks), Arg::U32(as_u32(*first)?), Arg::Buffer(Buffer::Factors(index))];
                    plan.sliced(Kernel::Scale, x, |codeword| head.iter().copied().chain([Arg::U64(codeword), Arg::Buffer(Buffer::Exp), Arg::Buffer(Buffer::Log)]).collect());
                }
            }
            Step::FormalDerivative { len } => {
                let target = Buffer::Work(1 - work);
                let x = plan.word_blocks(plan.work_count)?;
                let head = [Arg::Buffer(target), Arg::Buffer(current), Arg::U32(plan.work_count), Arg::U32(plan.bytes), Arg::U32(as_u32(*len)?)];
                plan.sliced(Kernel::Derivative, x, |codeword| head.iter().copied().chain([Arg::U64(codeword)]).collect());
                work = 1 - work;
            }
        }
    }
    plan.moves((Buffer::Outputs, Buffer::Work(work)), (outputs, plan.work_count), outputs, (Buffer::Order, Buffer::Taken))?;
    Ok(plan.launches)
}

struct Planner {
    bytes: u32,
    work_count: u32,
    codewords: usize,
    max_launch: usize,
    launches: Vec<KernelLaunch>,
}

impl Planner {
    /// A launch `x` blocks wide for each slice of codewords, `args` given the slice's first codeword.
    fn sliced(&mut self, kernel: Kernel, x: u32, args: impl Fn(u64) -> Vec<Arg>) {
        for first in (0..self.codewords).step_by(self.max_launch) {
            let count = (self.codewords - first).min(self.max_launch) as u32;
            self.launches.push(KernelLaunch { kernel, grid: (x, 1, count), block: THREADS, args: args(first as u64) });
        }
    }

    fn symbol_blocks(&self) -> u32 {
        (self.bytes / 2).div_ceil(THREADS)
    }

    /// Blocks for a thread per 16-bit word of `shards` shards.
    fn word_blocks(&self, shards: u32) -> Result<u32, GpuError> {
        grid_x((u64::from(shards) * u64::from(self.bytes / 2)).div_ceil(u64::from(THREADS)))
    }

    /// Zeroes, copies or XORs (`op`) `count` whole shards within `work`.
    fn shards(&mut self, work: Buffer, (to_first, from_first, count): (usize, usize, usize), op: u32) -> Result<(), GpuError> {
        if count == 0 {
            return Ok(());
        }
        let (to_first, from_first, count) = (as_u32(to_first)?, as_u32(from_first)?, as_u32(count)?);
        let x = self.word_blocks(count)?;
        // Source and destination are the same buffer: the kernel reads and writes disjoint shards.
        let head = [work, work].map(Arg::Buffer).into_iter().chain([self.work_count, self.work_count, to_first, from_first, count, self.bytes, op].map(Arg::U32));
        let head: Vec<Arg> = head.collect();
        self.sliced(Kernel::Shards, x, |codeword| head.iter().copied().chain([Arg::U64(codeword)]).collect());
        Ok(())
    }

    /// Copies shard `from_positions[s]` of each codeword of `from` to shard `to_positions[s]`
    /// of `to`, for `s < count` (strides: shards a codeword in each buffer).
    fn moves(&mut self, (to, from): (Buffer, Buffer), (to_stride, from_stride): (u32, u32), count: u32, (to_positions, from_positions): (Buffer, Buffer)) -> Result<(), GpuError> {
        if count == 0 {
            return Ok(());
        }
        let x = self.word_blocks(count)?;
        let head = [Arg::Buffer(to), Arg::Buffer(from), Arg::U32(to_stride), Arg::U32(from_stride), Arg::Buffer(to_positions), Arg::Buffer(from_positions), Arg::U32(count), Arg::U32(self.bytes)];
        self.sliced(Kernel::Move, x, |codeword| head.iter().copied().chain([Arg::U64(codeword)]).collect());
        Ok(())
    }

    fn fused(&mut self, inputs: u32, outputs: u32, arrays: &ProgramArrays) -> Result<(), GpuError> {
        let table_count = arrays.fused.as_ref().map_or(0, |f| f.table_count);
        let x = self.symbol_blocks();
        let head = [
            Arg::Buffer(Buffer::Inputs),
            Arg::Buffer(Buffer::Outputs),
            Arg::U32(inputs),
            Arg::U32(outputs),
            Arg::Buffer(Buffer::Placed),
            Arg::Buffer(Buffer::Taken),
            Arg::U32(self.bytes),
            Arg::U32(self.work_count),
            Arg::Buffer(Buffer::Code),
            Arg::Buffer(Buffer::FusedTables),
            Arg::U32(table_count),
        ];
        self.sliced(Kernel::Program, x, |codeword| head.iter().copied().chain([Arg::U64(codeword), Arg::Buffer(Buffer::Exp), Arg::Buffer(Buffer::Log)]).collect());
        Ok(())
    }
}

fn grid_x(units: u64) -> Result<u32, GpuError> {
    u32::try_from(units).ok().filter(|x| *x <= i32::MAX as u32).ok_or_else(|| GpuError::Input(format!("{units} blocks exceed the grid")))
}

pub(super) fn as_u32(value: usize) -> Result<u32, GpuError> {
    u32::try_from(value).map_err(|_| GpuError::Input(format!("{value} does not fit the kernels' 32-bit counts")))
}

#[cfg(test)]
mod tests;
