//! Batched inference of the verifiable int8 models on the GPU (`assets/cuda/int8_dense.cu`),
//! the same logits as `zg_systems::verifiable::inference::infer` bit for bit: the weights go to
//! the device once, a batch of inputs goes in one copy, each layer is one launch, the logits
//! come back in one copy.

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};

use super::{Gpu, GpuError};
use zg_components::verifiable::QuantizedModel;

pub const KERNEL_SOURCE: &str = include_str!("../../assets/cuda/int8_dense.cu");
const THREADS: u32 = 256;
/// Samples a launch takes (the grid's y dimension).
const MAX_LAUNCH_BATCH: usize = 65_535;

/// PTX for the int8 kernel (NVRTC; needs no GPU, only the library).
pub fn compile() -> Result<cudarc::nvrtc::Ptx, GpuError> {
    super::compile(KERNEL_SOURCE)
}

struct DeviceLayer {
    weights: CudaSlice<i8>,
    bias: CudaSlice<i32>,
    inputs: usize,
    outputs: usize,
    multiplier: i64,
    shift: i32,
    relu: bool,
}

/// A model resident on the GPU.
pub struct GpuInt8Model {
    stream: Arc<CudaStream>,
    function: CudaFunction,
    layers: Vec<DeviceLayer>,
    input_len: usize,
}

impl GpuInt8Model {
    pub fn load(gpu: &Gpu, model: &QuantizedModel) -> Result<Self, GpuError> {
        model.validate().map_err(|e| GpuError::Input(e.to_string()))?;
        let module = gpu.ctx.load_module(compile()?)?;
        let function = module.load_function("dense_int8")?;
        super::limits::require(gpu, &[("dense_int8", &function)], THREADS)?;
        let stream = gpu.ctx.default_stream();
        let layers = model
            .layers
            .iter()
            .map(|layer| {
                Ok(DeviceLayer {
                    weights: stream.clone_htod(&layer.weights)?,
                    bias: stream.clone_htod(&layer.bias)?,
                    inputs: layer.inputs,
                    outputs: layer.outputs,
                    multiplier: layer.multiplier,
                    shift: layer.shift as i32,
                    relu: layer.relu,
                })
            })
            .collect::<Result<Vec<_>, GpuError>>()?;
        Ok(Self { stream, function, layers, input_len: model.input_len })
    }

    /// The logits of each input, in order.
    pub fn infer_batch(&self, inputs: &[Vec<i8>]) -> Result<Vec<Vec<i32>>, GpuError> {
        if let Some(bad) = inputs.iter().find(|x| x.len() != self.input_len) {
            return Err(GpuError::Input(format!("an input has {} values; the model takes {}", bad.len(), self.input_len)));
        }
        let mut out = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(MAX_LAUNCH_BATCH) {
            out.extend(self.infer_chunk(chunk)?);
        }
        Ok(out)
    }

    fn infer_chunk(&self, inputs: &[Vec<i8>]) -> Result<Vec<Vec<i32>>, GpuError> {
        let batch = inputs.len();
        if batch == 0 {
            return Ok(Vec::new());
        }
        let flat: Vec<i8> = inputs.concat();
        let mut activations = self.stream.clone_htod(&flat)?;
        let overflow = self.stream.alloc_zeros::<i32>(1)?;
        let mut logits = self.stream.alloc_zeros::<i32>(1)?;
        let mut classes = 0;
        for layer in &self.layers {
            let mut next = self.stream.alloc_zeros::<i8>(if layer.relu { batch * layer.outputs } else { 1 })?;
            if !layer.relu {
                logits = self.stream.alloc_zeros::<i32>(batch * layer.outputs)?;
                classes = layer.outputs;
            }
            let config = launch_config(layer.outputs, batch)?;
            let (inputs_n, outputs_n, batch_n, relu) = (layer.inputs as i32, layer.outputs as i32, batch as i32, i32::from(layer.relu));
            let mut launch = self.stream.launch_builder(&self.function);
            launch
                .arg(&layer.weights)
                .arg(&layer.bias)
                .arg(&activations)
                .arg(&mut next)
                .arg(&mut logits)
                .arg(&inputs_n)
                .arg(&outputs_n)
                .arg(&batch_n)
                .arg(&layer.multiplier)
                .arg(&layer.shift)
                .arg(&relu)
                .arg(&overflow);
            // SAFETY: the arguments match the kernel's signature in type and order, and every
            // buffer holds what the grid reads and writes (batch × inputs / outputs).
            unsafe { launch.launch(config) }?;
            if layer.relu {
                activations = next;
            }
        }
        if self.stream.clone_dtoh(&overflow)?[0] != 0 {
            return Err(GpuError::Input("an accumulator left the int32 range (the CPU refuses this input too)".into()));
        }
        let host = self.stream.clone_dtoh(&logits)?;
        Ok(host.chunks_exact(classes.max(1)).map(<[i32]>::to_vec).collect())
    }
}

/// A thread an output, a grid row an input of the batch (at most `MAX_LAUNCH_BATCH`); the CPU
/// emulation launches with this too.
pub fn launch_config(outputs: usize, batch: usize) -> Result<LaunchConfig, GpuError> {
    let blocks = u32::try_from(outputs.div_ceil(THREADS as usize)).map_err(|_| GpuError::Input(format!("{outputs} outputs")))?;
    let rows = u32::try_from(batch).ok().filter(|b| *b as usize <= MAX_LAUNCH_BATCH).ok_or_else(|| GpuError::Input(format!("a launch of {batch} inputs")))?;
    Ok(LaunchConfig { grid_dim: (blocks, rows, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel compiles wherever NVRTC is installed (CI installs the NVRTC wheel and sets
    /// ZG_REQUIRE_NVRTC=1, so there a missing library fails the test instead of skipping it).
    #[test]
    fn the_kernel_compiles_with_nvrtc() {
        match compile() {
            Ok(ptx) => assert!(ptx.to_src().contains("dense_int8")),
            Err(GpuError::Absent(why)) if std::env::var("ZG_REQUIRE_NVRTC").is_err() => eprintln!("skipped: {why}"),
            Err(error) => panic!("{error}"),
        }
    }

    /// A batch past the grid's 65,535 rows is refused here; `infer_batch` launches in chunks.
    #[test]
    fn a_launch_covers_at_most_one_grid_of_inputs() {
        let config = launch_config(300, MAX_LAUNCH_BATCH).expect("a full grid");
        assert_eq!((config.grid_dim, config.block_dim.0), ((2, 65_535, 1), THREADS));
        assert!(launch_config(300, MAX_LAUNCH_BATCH + 1).is_err());
    }
}
