//! Which work goes to the GPU: the `[gpu]` config section decides whether the node looks for
//! one; [`init`] (once per process, at node start) finds it, runs the erasure self-test on that
//! card (every kernel against reed-solomon-simd and the CPU twin) and only when it passes
//! installs the erasure accelerator the storage and DA coding functions offer their batches to,
//! its answers spot-checked on the CPU at run time (`gpu.spot_check_every`). Batches under
//! `min_erasure_kib` stay on the CPU. Metrics: `zgnode_gpu_present`, `zgnode_gpu_selftest_failed`,
//! `zgnode_gpu_erasure_spot_checks`, `zgnode_gpu_erasure_spot_mismatches`, `zgnode_gpu_retired`,
//! `zgnode_gpu_erasure_batches_total{route}`, `zgnode_gpu_erasure_bytes_total`,
//! `zgnode_gpu_erasure_seconds`, `zgnode_gpu_erasure_failures_total`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use zg_systems::erasure::program::Program;
use zg_systems::erasure::accel::Accelerator;
use zg_systems::ports::{AcceleratorError, ErasureAccelerator};

use super::erasure::{GpuErasure, Prepared};
use super::GpuError;
use crate::config::GpuSection;

pub use super::GpuStatus;

static STATUS: OnceLock<GpuStatus> = OnceLock::new();

/// Finds the GPU the config asks for (once per process: one CUDA context) and makes the erasure
/// accelerator the node hands to its coding (`GpuStatus::erasure`); later calls give the first
/// answer.
pub fn init(config: &GpuSection) -> &'static GpuStatus {
    STATUS.get_or_init(|| {
        let status = find(config);
        match &status.gpu {
            Some(_) => tracing::info!("GPU: {}", status.line),
            None => tracing::info!("{}", status.line),
        }
        metrics::gauge!("zgnode_gpu_present").set(if status.gpu.is_some() { 1.0 } else { 0.0 });
        status
    })
}

/// The status [`init`] settled on, if it ran.
pub fn status() -> Option<&'static GpuStatus> {
    STATUS.get()
}

fn find(config: &GpuSection) -> GpuStatus {
    let cpu_path = |line: String| GpuStatus { line, gpu: None, min_matrix_elements: config.min_matrix_elements, erasure: Accelerator::cpu() };
    if !config.enabled {
        return cpu_path("no GPU (gpu.enabled = false), CPU path".into());
    }
    let gpu = match super::detect(config.device) {
        Ok(gpu) => gpu,
        Err(error) => return cpu_path(format!("{error}, CPU path")),
    };
    match GpuErasure::load(&gpu) {
        Ok(erasure) => {
            // A card whose kernels give other shards than reed-solomon-simd would write parity
            // that fails the first rebuild that needs it: it never codes anything.
            if let Err(difference) = super::selftest::erasure(&erasure) {
                tracing::error!(%difference, "the GPU's erasure self-test failed on {gpu:?}; coding on the CPU");
                metrics::gauge!("zgnode_gpu_selftest_failed").set(1.0);
                return cpu_path(format!("no GPU: {gpu:?} failed its erasure self-test ({difference}), CPU path"));
            }
            let min_bytes = config.min_erasure_kib.saturating_mul(1024);
            let accelerator = Accelerator::new(
                Box::new(GpuAccelerator { erasure, min_bytes, prepared: Mutex::new(HashMap::new()) }),
                config.spot_check_every,
            );
            GpuStatus {
                line: format!(
                    "{gpu:?}: self-test passed; erasure coding of batches from {} KiB (one in {} checked on the CPU), LLM matrices from {} elements",
                    config.min_erasure_kib, config.spot_check_every, config.min_matrix_elements
                ),
                gpu: Some(gpu),
                min_matrix_elements: config.min_matrix_elements,
                erasure: accelerator,
            }
        }
        Err(error) => cpu_path(format!("no GPU: {gpu:?} found but its kernels did not load ({error}), CPU path")),
    }
}

/// The GPU behind the node's `zg_systems::erasure::accel::Accelerator`: one batch at a time (one stream), programs
/// uploaded once per shape.
struct GpuAccelerator {
    erasure: GpuErasure,
    min_bytes: usize,
    prepared: Mutex<HashMap<Program, Prepared>>,
}

/// Shapes kept uploaded; coding shapes are few (storage's k+m, DA's k+k per square size).
const MAX_PREPARED: usize = 64;

impl ErasureAccelerator for GpuAccelerator {
    fn wants(&self, bytes: usize) -> bool {
        // Callers may ask twice about one batch; a declined batch is counted here (its caller
        // stops asking), a taken one when it runs.
        let wanted = bytes >= self.min_bytes;
        if !wanted {
            metrics::counter!("zgnode_gpu_erasure_batches_total", "route" => "cpu").increment(1);
        }
        wanted
    }

    fn run(&self, program: &Program, inputs: &[u8]) -> Result<Vec<u8>, AcceleratorError> {
        metrics::counter!("zgnode_gpu_erasure_batches_total", "route" => "gpu").increment(1);
        let started = Instant::now();
        let mut prepared = self.prepared.lock().map_err(|_| AcceleratorError::Poisoned)?;
        if !prepared.contains_key(program) {
            if prepared.len() >= MAX_PREPARED {
                prepared.clear();
            }
            prepared.insert(program.clone(), self.erasure.prepare(program).map_err(|e| AcceleratorError::Device(Box::new(e)))?);
        }
        let ready = prepared.get(program).ok_or(AcceleratorError::Program("the program was not prepared".into()))?;
        let result = self.erasure.run(ready, inputs).map_err(|e: GpuError| AcceleratorError::Device(Box::new(e)));
        match &result {
            Ok(_) => {
                metrics::counter!("zgnode_gpu_erasure_bytes_total").increment(inputs.len() as u64);
                metrics::histogram!("zgnode_gpu_erasure_seconds").record(started.elapsed().as_secs_f64());
            }
            Err(_) => metrics::counter!("zgnode_gpu_erasure_failures_total").increment(1),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Switched off, or without a GPU (this machine, CI), the node says so and codes on the CPU.
    #[test]
    fn without_a_gpu_the_status_says_cpu_path() {
        let off = find(&GpuSection { enabled: false, ..GpuSection::default() });
        assert!(off.gpu.is_none() && off.line.contains("gpu.enabled = false") && off.line.contains("CPU path"), "{}", off.line);
        let absent = find(&GpuSection { device: 4_096, ..GpuSection::default() });
        assert!(absent.gpu.is_none() && absent.line.contains("CPU path"), "{}", absent.line);
    }
}
