//! The GPU, when there is one (issue 15): CUDA through cudarc with dynamic loading, so one
//! binary builds and runs everywhere; kernels are CUDA C in `assets/cuda`, compiled at run time
//! by NVRTC. [`detect`] checks that the driver and NVRTC libraries are present before touching
//! cudarc (which panics on a missing library) and says why there is no GPU otherwise.
//! Kernels are bit-identical twins of CPU paths (`int8`: the verifiable int8 models; `erasure`:
//! reed-solomon-simd's code for storage segments and DA squares).

pub mod accel;
pub mod erasure;
pub mod int8;
pub mod limits;
pub mod matvec;
pub mod selftest;

use std::sync::Arc;

use cudarc::driver::CudaContext;

/// What [`accel::init`] found, for the banner and the log.
#[derive(Debug, Clone)]
pub struct GpuStatus {
    pub line: String,
    pub gpu: Option<Gpu>,
    /// LLM weight matrices below this many elements stay on the CPU.
    pub min_matrix_elements: usize,
    /// What the node hands to its erasure coding: the GPU, or the CPU.
    pub erasure: zg_systems::erasure::accel::Accelerator,
}

/// A CUDA device this process can use.
#[derive(Clone)]
pub struct Gpu {
    pub ctx: Arc<CudaContext>,
    pub index: usize,
    pub name: String,
    pub memory_bytes: usize,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GPU {} ({}, {:.0} GiB)", self.index, self.name, self.memory_bytes as f64 / (1u64 << 30) as f64)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU: {0}")]
    Absent(String),
    #[error("CUDA: {0}")]
    Driver(String),
    #[error("compiling the kernel with NVRTC: {0}")]
    Compile(String),
    #[error("{0}")]
    Input(String),
}

impl From<cudarc::driver::DriverError> for GpuError {
    fn from(error: cudarc::driver::DriverError) -> Self {
        GpuError::Driver(error.to_string())
    }
}

/// Whether NVRTC (the run-time compiler) can be loaded.
pub fn nvrtc_present() -> bool {
    // SAFETY: only probes for the shared library; loads nothing else.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// PTX for a kernel source (NVRTC; needs no GPU, only the library).
pub fn compile(source: &str) -> Result<cudarc::nvrtc::Ptx, GpuError> {
    if !nvrtc_present() {
        return Err(GpuError::Absent("NVRTC (libnvrtc) is not installed".into()));
    }
    cudarc::nvrtc::compile_ptx(source).map_err(|e| GpuError::Compile(e.to_string()))
}

/// Device `index`, or why there is none.
pub fn detect(index: usize) -> Result<Gpu, GpuError> {
    // SAFETY: only probes for the shared library.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(GpuError::Absent("the CUDA driver library (libcuda) is not installed".into()));
    }
    if !nvrtc_present() {
        return Err(GpuError::Absent("NVRTC (libnvrtc, CUDA 13) is not installed, so kernels cannot be compiled".into()));
    }
    let count = CudaContext::device_count().map_err(|e| GpuError::Absent(format!("the CUDA driver answers no devices ({e})")))?;
    if index >= count.max(0) as usize {
        return Err(GpuError::Absent(format!("device {index} asked for, {count} present")));
    }
    let ctx = CudaContext::new(index)?;
    Ok(Gpu { name: ctx.name()?, memory_bytes: ctx.total_mem()?, index, ctx })
}

/// One line for `zgnode version` and the start-up log.
pub fn describe(index: usize) -> String {
    match detect(index) {
        Ok(gpu) => format!("{gpu:?}, CUDA kernels compiled by NVRTC"),
        Err(error) => format!("{error}, CPU path"),
    }
}

#[cfg(test)]
mod tests {
    /// Without a GPU (this machine, CI), detection explains itself and never panics.
    #[test]
    fn detection_answers_with_a_reason_and_never_panics() {
        let line = super::describe(0);
        assert!(line.contains("CPU path") || line.contains("CUDA kernels"), "{line}");
        assert!(super::detect(usize::MAX).is_err());
    }
}
