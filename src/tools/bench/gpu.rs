//! `zgnode bench gpu`: the int8 digit models' batched inference on the GPU against the same
//! batch on every CPU core (rayon), in the same run; every logit of every input compared.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use zg_components::verifiable::ModelFile;
use zg_systems::verifiable::inference::infer;

use crate::gpu::int8::GpuInt8Model;

fn random_inputs(count: usize, seed: u64) -> Vec<Vec<i8>> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            (0..64)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (state >> 56) as u8 as i8
                })
                .collect()
        })
        .collect()
}

/// The fastest of `runs` runs and its value.
pub(crate) fn best_of<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(Duration, T)> {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let started = Instant::now();
        let value = f()?;
        let took = started.elapsed();
        if best.as_ref().is_none_or(|(t, _)| took < *t) {
            best = Some((took, value));
        }
    }
    best.ok_or_else(|| anyhow::anyhow!("no runs"))
}

pub fn int8(device: usize, batch: usize) -> anyhow::Result<String> {
    anyhow::ensure!(batch > 0, "--batch must be at least 1");
    let gpu = crate::gpu::detect(device)?;
    let mut report = format!("gpu: {gpu:?}; CPU: {} cores (rayon)\n", rayon::current_num_threads());
    for text in [super::proofs::SMALL_MODEL, super::proofs::LARGE_MODEL] {
        let file: ModelFile = serde_json::from_str(text)?;
        let model = GpuInt8Model::load(&gpu, &file.model)?;
        // Held-out digits, then random int8 inputs (negative values included).
        let mut inputs = file.test.inputs.clone();
        inputs.extend(random_inputs(batch.saturating_sub(inputs.len()), 7));
        inputs.truncate(batch.max(1));
        let (cpu_time, cpu) = best_of(3, || {
            inputs.par_iter().map(|x| infer(&file.model, x).map(|i| i.logits).map_err(anyhow::Error::from)).collect::<anyhow::Result<Vec<_>>>()
        })?;
        let (gpu_time, on_gpu) = best_of(3, || model.infer_batch(&inputs).map_err(anyhow::Error::from))?;
        let differing = cpu.iter().zip(&on_gpu).filter(|(a, b)| a != b).count();
        anyhow::ensure!(on_gpu.len() == cpu.len() && differing == 0, "{}: {differing} of {} inputs differ between GPU and CPU", file.model.name, cpu.len());
        let rate = |t: Duration| inputs.len() as f64 / t.as_secs_f64();
        report.push_str(&format!(
            "  {}: {} inputs, logits identical on GPU and CPU; GPU {:.0} inferences/s ({:.2} ms a batch, copies included), CPU {:.0} /s ({:.2} ms) -> {:.1}x\n",
            file.model.name,
            inputs.len(),
            rate(gpu_time),
            gpu_time.as_secs_f64() * 1e3,
            rate(cpu_time),
            cpu_time.as_secs_f64() * 1e3,
            cpu_time.as_secs_f64() / gpu_time.as_secs_f64()
        ));
    }
    Ok(report)
}
