//! What each kernel asks of the card, checked once when its module loads against what the device
//! allows, so a kernel that could not launch is routed around at start-up (a log line and
//! `zgnode_gpu_kernels_unfit_total{kernel}`) and never fails a launch in the middle of a block.
//! The needs are the compiled function's own (registers and local memory a thread, static shared
//! memory, the most threads a block the compiler allows) with the block size the host launches.

use cudarc::driver::CudaFunction;
use cudarc::driver::sys::CUdevice_attribute as A;

use super::{Gpu, GpuError};

/// Local memory a thread may use on every CUDA architecture since Fermi (512 KiB).
const MAX_LOCAL_BYTES_PER_THREAD: i64 = 512 * 1024;

/// One kernel's needs at the block size the host launches it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelNeeds {
    pub name: &'static str,
    /// Threads a block the host launches.
    pub block_threads: u32,
    /// The most threads a block this function can launch with (its registers included).
    pub max_threads: i64,
    pub registers_per_thread: i64,
    pub static_shared_bytes: i64,
    /// Dynamic shared memory the host asks for at launch.
    pub dynamic_shared_bytes: i64,
    pub local_bytes_per_thread: i64,
}

/// The device's limits a launch must keep within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceLimits {
    pub max_threads_per_block: i64,
    pub max_shared_per_block: i64,
    pub max_registers_per_block: i64,
}

/// Why `needs` cannot launch on a device with `limits`, or Ok.
pub fn check(needs: &KernelNeeds, limits: &DeviceLimits) -> Result<(), String> {
    let threads = i64::from(needs.block_threads);
    let name = needs.name;
    if threads > limits.max_threads_per_block {
        return Err(format!("{name}: {threads} threads a block, the device allows {}", limits.max_threads_per_block));
    }
    if threads > needs.max_threads {
        return Err(format!("{name}: {threads} threads a block, the compiled kernel allows {} (its registers)", needs.max_threads));
    }
    let shared = needs.static_shared_bytes + needs.dynamic_shared_bytes;
    if shared > limits.max_shared_per_block {
        return Err(format!("{name}: {shared} bytes of shared memory a block, the device allows {}", limits.max_shared_per_block));
    }
    let registers = needs.registers_per_thread * threads;
    if registers > limits.max_registers_per_block {
        return Err(format!("{name}: {registers} registers a block, the device has {}", limits.max_registers_per_block));
    }
    if needs.local_bytes_per_thread > MAX_LOCAL_BYTES_PER_THREAD {
        return Err(format!("{name}: {} bytes of local memory a thread, at most {MAX_LOCAL_BYTES_PER_THREAD}", needs.local_bytes_per_thread));
    }
    Ok(())
}

pub fn limits_of(gpu: &Gpu) -> Result<DeviceLimits, GpuError> {
    let get = |attribute| gpu.ctx.attribute(attribute).map(i64::from).map_err(GpuError::from);
    Ok(DeviceLimits {
        max_threads_per_block: get(A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
        max_shared_per_block: get(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)?,
        max_registers_per_block: get(A::CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK)?,
    })
}

pub fn needs_of(function: &CudaFunction, name: &'static str, block_threads: u32, dynamic_shared_bytes: u32) -> Result<KernelNeeds, GpuError> {
    Ok(KernelNeeds {
        name,
        block_threads,
        max_threads: i64::from(function.max_threads_per_block()?),
        registers_per_thread: i64::from(function.num_regs()?),
        static_shared_bytes: i64::from(function.shared_size_bytes()?),
        dynamic_shared_bytes: i64::from(dynamic_shared_bytes),
        local_bytes_per_thread: i64::from(function.local_size_bytes()?),
    })
}

/// Checks each `(name, function)` launched with `block_threads` threads (and no dynamic shared
/// memory) on `gpu`; the names and reasons of those that do not fit, each logged and counted.
pub fn unfit(gpu: &Gpu, kernels: &[(&'static str, &CudaFunction)], block_threads: u32) -> Result<Vec<(&'static str, String)>, GpuError> {
    let limits = limits_of(gpu)?;
    let mut out = Vec::new();
    for (name, function) in kernels {
        if let Err(reason) = check(&needs_of(function, name, block_threads, 0)?, &limits) {
            tracing::warn!(kernel = name, %reason, "a GPU kernel does not fit this device: routed around");
            metrics::counter!("zgnode_gpu_kernels_unfit_total", "kernel" => *name).increment(1);
            out.push((*name, reason));
        }
    }
    Ok(out)
}

/// [`unfit`] for kernels a path cannot run without: the first that does not fit leaves the path
/// on the CPU (`GpuError::Absent` with the reason).
pub fn require(gpu: &Gpu, kernels: &[(&'static str, &CudaFunction)], block_threads: u32) -> Result<(), GpuError> {
    match unfit(gpu, kernels, block_threads)?.into_iter().next() {
        Some((name, reason)) => Err(GpuError::Absent(format!("the kernel {name} does not fit this device: {reason}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An H100's limits (1,024 threads, 48 KiB static shared, 64 Ki registers a block).
    const H100: DeviceLimits = DeviceLimits { max_threads_per_block: 1_024, max_shared_per_block: 49_152, max_registers_per_block: 65_536 };

    fn fused(registers: i64, static_shared: i64, local: i64) -> KernelNeeds {
        KernelNeeds {
            name: "rs_program",
            block_threads: 256,
            max_threads: 1_024,
            registers_per_thread: registers,
            static_shared_bytes: static_shared,
            dynamic_shared_bytes: 0,
            local_bytes_per_thread: local,
        }
    }

    #[test]
    fn a_kernel_within_every_limit_fits_and_each_limit_is_named_when_passed() {
        assert_eq!(check(&fused(64, 8_192, 4_096), &H100), Ok(()));
        let mut greedy = fused(255, 8_192, 0);
        greedy.block_threads = 512;
        assert!(check(&greedy, &H100).unwrap_err().contains("registers"), "255 × 512 > 64 Ki");
        assert!(check(&fused(64, 64 * 1024, 0), &H100).unwrap_err().contains("shared memory"));
        assert!(check(&fused(64, 0, 600 * 1024), &H100).unwrap_err().contains("local memory"));
        let mut wide = fused(32, 0, 0);
        wide.block_threads = 2_048;
        assert!(check(&wide, &H100).unwrap_err().contains("the device allows 1024"));
        let mut heavy = fused(32, 0, 0);
        heavy.max_threads = 128;
        assert!(check(&heavy, &H100).unwrap_err().contains("compiled kernel allows 128"));
    }
}
