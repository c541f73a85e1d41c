//! Verifiable compute: integer inference of quantized models, the halo2 circuit proving it bit
//! for bit, the chain's precompile verifying those proofs, the contracts' ABI, and proof jobs
//! run off the tick.

pub mod batch;
pub mod circuit;
pub mod contracts;
pub mod inference;
pub mod jobs;
pub mod precompile;
pub mod warm;
