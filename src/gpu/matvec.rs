//! Matrix-vector products on the GPU (`assets/cuda/matvec.cu`) for the built-in LLM backend:
//! its weight matrices go to the card once, each in the narrowest format that holds every value
//! exactly (bf16, f16 or f32: a model shipped in half precision stays half precision), and
//! each token's products run there. Float results differ from the CPU's only by summation order;
//! [`tolerance`] bounds the difference. int8 products are exact and identical to [`mat_vec_i8`].

use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};

use super::{Gpu, GpuError};
use crate::compute::backend::llama::model::{Llama, MatVecAccelerator};

pub const KERNEL_SOURCE: &str = include_str!("../../assets/cuda/matvec.cu");
/// Eight warps a block, a warp a row.
const THREADS: u32 = 256;
const ROWS_PER_BLOCK: u32 = THREADS / 32;

/// How a matrix is kept on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    Bf16,
    F16,
    F32,
}

enum DeviceWeights {
    Halves(CudaSlice<u16>, WeightFormat),
    Floats(CudaSlice<f32>),
}

pub struct DeviceMatrix {
    pub rows: usize,
    pub cols: usize,
    weights: DeviceWeights,
}

impl DeviceMatrix {
    pub fn format(&self) -> WeightFormat {
        match &self.weights {
            DeviceWeights::Halves(_, format) => *format,
            DeviceWeights::Floats(_) => WeightFormat::F32,
        }
    }
}

/// The narrowest format holding every value of `data` exactly.
pub fn exact_format(data: &[f32]) -> WeightFormat {
    if data.iter().all(|v| half::bf16::from_f32(*v).to_f32().to_bits() == v.to_bits()) {
        WeightFormat::Bf16
    } else if data.iter().all(|v| half::f16::from_f32(*v).to_f32().to_bits() == v.to_bits()) {
        WeightFormat::F16
    } else {
        WeightFormat::F32
    }
}

/// The bound on |GPU − CPU| for one output of a float product: both sums of `cols` products
/// are within `cols · 2^-24 · Σ|w·x|` of the exact value (the standard bound for recursive or
/// pairwise summation in f32, fused multiply-adds included), so they are within twice that of
/// each other.
pub fn tolerance(row: &[f32], x: &[f32]) -> f32 {
    let magnitude: f32 = row.iter().zip(x).map(|(w, v)| (w * v).abs()).sum();
    2.0 * row.len() as f32 * f32::EPSILON / 2.0 * magnitude + f32::MIN_POSITIVE
}

/// The CPU twin of the int8 kernel: exact 32-bit sums, row-major `w` (rows × x.len()).
pub fn mat_vec_i8(w: &[i8], x: &[i8]) -> Vec<i32> {
    w.chunks_exact(x.len().max(1)).map(|row| row.iter().zip(x).map(|(a, b)| i32::from(*a) * i32::from(*b)).sum()).collect()
}

struct Kernels {
    f32: CudaFunction,
    f16: CudaFunction,
    bf16: CudaFunction,
    i8: CudaFunction,
}

/// The kernels on one GPU, one product at a time (the lock keeps concurrent generations from
/// interleaving their copies on the stream).
pub struct GpuMatVec {
    stream: Arc<CudaStream>,
    kernels: Kernels,
    lock: Mutex<()>,
    /// The model's matrices in `Llama::matrices` order; `None` for those left on the CPU.
    matrices: Vec<Option<DeviceMatrix>>,
}

/// A warp a row, `ROWS_PER_BLOCK` rows a block (the CPU emulation launches with this too).
pub fn launch_config(rows: usize) -> Result<LaunchConfig, GpuError> {
    let blocks = u32::try_from(rows.div_ceil(ROWS_PER_BLOCK as usize)).map_err(|_| GpuError::Input(format!("{rows} rows")))?;
    Ok(LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 })
}

fn dims(rows: usize, cols: usize) -> Result<(u32, u32), GpuError> {
    match (u32::try_from(rows), u32::try_from(cols)) {
        (Ok(r), Ok(c)) if c <= 1 << 17 => Ok((r, c)),
        _ => Err(GpuError::Input(format!("a {rows} x {cols} matrix exceeds the kernels' limits"))),
    }
}

impl GpuMatVec {
    pub fn load(gpu: &Gpu) -> Result<Self, GpuError> {
        let module = gpu.ctx.load_module(super::compile(KERNEL_SOURCE)?)?;
        let kernels = Kernels {
            f32: module.load_function("matvec_f32")?,
            f16: module.load_function("matvec_f16")?,
            bf16: module.load_function("matvec_bf16")?,
            i8: module.load_function("matvec_i8")?,
        };
        let named = [("matvec_f32", &kernels.f32), ("matvec_f16", &kernels.f16), ("matvec_bf16", &kernels.bf16), ("matvec_i8", &kernels.i8)];
        super::limits::require(gpu, &named, THREADS)?;
        Ok(Self { stream: gpu.ctx.new_stream()?, kernels, lock: Mutex::new(()), matrices: Vec::new() })
    }

    /// Uploads `data` (rows × cols, row-major) in its narrowest exact format.
    pub fn upload(&self, rows: usize, cols: usize, data: &[f32]) -> Result<DeviceMatrix, GpuError> {
        dims(rows, cols)?;
        if data.len() != rows * cols {
            return Err(GpuError::Input(format!("{} values for a {rows} x {cols} matrix", data.len())));
        }
        let weights = match exact_format(data) {
            WeightFormat::Bf16 => {
                let bits: Vec<u16> = data.iter().map(|v| half::bf16::from_f32(*v).to_bits()).collect();
                DeviceWeights::Halves(self.stream.clone_htod(&bits)?, WeightFormat::Bf16)
            }
            WeightFormat::F16 => {
                let bits: Vec<u16> = data.iter().map(|v| half::f16::from_f32(*v).to_bits()).collect();
                DeviceWeights::Halves(self.stream.clone_htod(&bits)?, WeightFormat::F16)
            }
            WeightFormat::F32 => DeviceWeights::Floats(self.stream.clone_htod(data)?),
        };
        self.stream.synchronize()?;
        Ok(DeviceMatrix { rows, cols, weights })
    }

    /// Keeps `matrices` (each rows, cols, values) on the card for [`MatVecAccelerator`];
    /// those under `min_elements` stay on the CPU. Gives how many went to the card.
    pub fn attach(&mut self, matrices: &[(usize, usize, &[f32])], min_elements: usize) -> Result<usize, GpuError> {
        self.matrices = matrices
            .iter()
            .map(|(rows, cols, data)| if rows * cols >= min_elements { self.upload(*rows, *cols, data).map(Some) } else { Ok(None) })
            .collect::<Result<_, _>>()?;
        Ok(self.matrices.iter().flatten().count())
    }

    /// `W x` for a matrix on the card.
    pub fn product(&self, matrix: &DeviceMatrix, x: &[f32]) -> Result<Vec<f32>, GpuError> {
        Ok(self.products(&[matrix], x)?.pop().unwrap_or_default())
    }

    /// `W_i x` for matrices sharing one input: one copy in, a launch each, one copy out.
    pub fn products(&self, matrices: &[&DeviceMatrix], x: &[f32]) -> Result<Vec<Vec<f32>>, GpuError> {
        if let Some(bad) = matrices.iter().find(|m| m.cols != x.len()) {
            return Err(GpuError::Input(format!("a vector of {} for {} columns", x.len(), bad.cols)));
        }
        let total: usize = matrices.iter().map(|m| m.rows).sum();
        let _one_at_a_time = self.lock.lock().map_err(|_| GpuError::Input("the GPU's lock was poisoned".into()))?;
        let input = self.stream.clone_htod(x)?;
        let mut output = self.stream.alloc_zeros::<f32>(total.max(1))?;
        let mut at = 0;
        for matrix in matrices {
            let (rows, cols) = dims(matrix.rows, matrix.cols)?;
            let function = match &matrix.weights {
                DeviceWeights::Halves(_, WeightFormat::F16) => &self.kernels.f16,
                DeviceWeights::Halves(..) => &self.kernels.bf16,
                DeviceWeights::Floats(_) => &self.kernels.f32,
            };
            let mut slot = output.slice_mut(at..at + matrix.rows);
            let mut launch = self.stream.launch_builder(function);
            match &matrix.weights {
                DeviceWeights::Halves(w, _) => launch.arg(w),
                DeviceWeights::Floats(w) => launch.arg(w),
            };
            launch.arg(&input).arg(&mut slot).arg(&rows).arg(&cols);
            // SAFETY: arguments match the kernel (weights rows × cols, x cols, y rows: its
            // slice of the output).
            unsafe { launch.launch(launch_config(matrix.rows)?) }?;
            at += matrix.rows;
        }
        let flat = self.stream.clone_dtoh(&output)?;
        let mut out = Vec::with_capacity(matrices.len());
        let mut at = 0;
        for matrix in matrices {
            out.push(flat[at..at + matrix.rows].to_vec());
            at += matrix.rows;
        }
        Ok(out)
    }

    /// `W x` for an int8 matrix (rows × x.len()), exact: identical to [`mat_vec_i8`].
    pub fn product_i8(&self, w: &[i8], rows: usize, x: &[i8]) -> Result<Vec<i32>, GpuError> {
        let (rows_u32, cols) = dims(rows, x.len())?;
        if w.len() != rows * x.len() {
            return Err(GpuError::Input(format!("{} weights for a {rows} x {} matrix", w.len(), x.len())));
        }
        let _one_at_a_time = self.lock.lock().map_err(|_| GpuError::Input("the GPU's lock was poisoned".into()))?;
        let weights = self.stream.clone_htod(w)?;
        let input = self.stream.clone_htod(x)?;
        let mut output = self.stream.alloc_zeros::<i32>(rows.max(1))?;
        let mut launch = self.stream.launch_builder(&self.kernels.i8);
        launch.arg(&weights).arg(&input).arg(&mut output).arg(&rows_u32).arg(&cols);
        // SAFETY: arguments match matvec_i8 (weights rows × cols, x cols, y rows).
        unsafe { launch.launch(launch_config(rows)?) }?;
        let mut out = self.stream.clone_dtoh(&output)?;
        out.truncate(rows);
        Ok(out)
    }
}

/// Puts `model`'s matrices of at least `gpu.min_matrix_elements` elements on the GPU the
/// process found (looking for one with the default `[gpu]` settings if the node has not);
/// says what it did, or `None` when everything stays on the CPU.
pub fn accelerate(model: &mut Llama, status: &super::GpuStatus) -> Option<String> {
    let gpu = status.gpu.as_ref()?;
    let min = status.min_matrix_elements;
    let matrices = model.matrices();
    if !matrices.iter().any(|(rows, cols, _)| rows * cols >= min) {
        return None;
    }
    let loaded = GpuMatVec::load(gpu).and_then(|mut on_gpu| {
        let held = on_gpu.attach(&matrices, min)?;
        Ok((on_gpu, held))
    });
    let total = matrices.len();
    drop(matrices);
    match loaded {
        Ok((on_gpu, held)) => {
            model.set_accelerator(Arc::new(on_gpu));
            Some(format!("{held} of {total} weight matrices on {gpu:?}"))
        }
        Err(error) => {
            tracing::warn!(%error, "the LLM's matrices could not go to the GPU; the CPU multiplies them");
            None
        }
    }
}

impl MatVecAccelerator for GpuMatVec {
    fn mat_vec(&self, id: usize, x: &[f32]) -> Option<Vec<f32>> {
        self.mat_vecs(&[id], x)?.pop()
    }

    fn mat_vecs(&self, ids: &[usize], x: &[f32]) -> Option<Vec<Vec<f32>>> {
        let matrices: Vec<&DeviceMatrix> = ids.iter().map(|id| self.matrices.get(*id)?.as_ref()).collect::<Option<_>>()?;
        match self.products(&matrices, x) {
            Ok(ys) => Some(ys),
            Err(error) => {
                tracing::warn!(%error, "GPU matrix product failed; computing it on the CPU");
                metrics::counter!("zgnode_gpu_matvec_failures_total").increment(1);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
