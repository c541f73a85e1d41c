//! Verifiable compute: integer inference of quantized models, the arithmetic the circuit will
//! prove bit for bit.

pub mod circuit;
pub mod inference;
