//! Erasure coding shared by storage segments and DA squares, in the form the GPU runs it:
//! [`program`] writes reed-solomon-simd's encoder and decoder out as data-independent steps;
//! [`twin`] runs those steps on the CPU exactly as the CUDA kernels do. The node's CPU path is
//! reed-solomon-simd itself (`storage::erasure`, `da::encoding`); these modules exist so a GPU
//! produces the same shards bit for bit, and so that claim is tested on machines without one.

pub mod accel;
pub mod fused;
pub mod program;
pub mod twin;

#[cfg(test)]
mod tests;
