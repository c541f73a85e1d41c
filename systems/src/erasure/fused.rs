//! A [`Program`] as one instruction stream for the GPU's fused kernel (`rs_program` in
//! `assets/cuda/reed_solomon.cu`): every step works on each symbol position alone, so one GPU
//! thread can run a whole program for one symbol of one codeword with its work column in
//! local memory — inputs read once, outputs written once, no pass over device memory per step.
//! The butterflies' distinct factors' nibble tables go to shared memory, indexed by slot. Programs with a
//! work array over [`MAX_WORK`] shards or more than [`MAX_TABLES`] distinct factors are not
//! fused (the step-by-step kernels run them).

use std::collections::HashMap;

use reed_solomon_simd::engine::GF_MODULUS;

use super::program::{FACTOR_KEEP, Program, Step, derivative_sources};
use super::twin::nibble_table;

/// Largest work array a fused thread keeps (its local column, 2 bytes a shard).
pub const MAX_WORK: usize = 256;
/// Most distinct factors (64 two-byte entries each: 40 KiB of shared memory).
pub const MAX_TABLES: usize = 320;

pub const OP_END: u32 = 0;
pub const OP_ZERO: u32 = 1;
pub const OP_COPY: u32 = 2;
pub const OP_XOR: u32 = 3;
pub const OP_BUTTERFLIES: u32 = 4;
pub const OP_SCALE: u32 = 5;
pub const OP_DERIVATIVE: u32 = 6;

/// The instruction stream and the nibble tables (slot `s` at `tables[64 s .. 64 s + 64]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fused {
    pub code: Vec<u32>,
    pub tables: Vec<u16>,
}

struct Slots {
    by_factor: HashMap<u16, u32>,
    tables: Vec<u16>,
}

impl Slots {
    fn slot(&mut self, log_m: u16) -> u32 {
        let next = self.by_factor.len() as u32;
        let slot = *self.by_factor.entry(log_m).or_insert(next);
        if slot == next {
            self.tables.extend_from_slice(&nibble_table(log_m));
        }
        slot
    }
}

fn to_u32(value: usize) -> Option<u32> {
    u32::try_from(value).ok()
}

/// The fused form of `program`, or `None` when it is too big to fuse.
pub fn fuse(program: &Program) -> Option<Fused> {
    if program.work_count > MAX_WORK {
        return None;
    }
    let mut slots = Slots { by_factor: HashMap::new(), tables: Vec::new() };
    let mut code = Vec::new();
    for step in &program.steps {
        match step {
            Step::Zero { first, count } => code.extend([OP_ZERO, to_u32(*first)?, to_u32(*count)?]),
            Step::Copy { from, to, count } => code.extend([OP_COPY, to_u32(*from)?, to_u32(*to)?, to_u32(*count)?]),
            Step::Xor { into, from, count } => code.extend([OP_XOR, to_u32(*into)?, to_u32(*from)?, to_u32(*count)?]),
            Step::Butterflies(stage) => {
                code.extend([OP_BUTTERFLIES, u32::from(stage.inverse), to_u32(stage.pos)?, to_u32(stage.dist)?, to_u32(stage.groups())?]);
                for group in 0..stage.groups() {
                    let log_m = stage.factor(group);
                    code.push(if log_m == GF_MODULUS { FACTOR_KEEP } else { slots.slot(log_m) });
                }
            }
            Step::Scale { first, factors } => {
                code.extend([OP_SCALE, to_u32(*first)?, to_u32(factors.len())?]);
                // Scaling runs twice a decode at most: its factors stay logarithms (the kernel
                // multiplies through the exp/log tables) and take no table slot.
                code.extend(factors.iter().map(|f| f.word()));
            }
            Step::FormalDerivative { len } => {
                // In place, ascending: shard j only reads shards above it, not yet rewritten.
                debug_assert!((0..*len).all(|j| derivative_sources(j, *len).all(|s| s > j)));
                code.extend([OP_DERIVATIVE, to_u32(*len)?]);
            }
        }
    }
    code.push(OP_END);
    (slots.by_factor.len() <= MAX_TABLES).then_some(Fused { code, tables: slots.tables })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erasure::program;

    #[test]
    fn the_node_shapes_fuse_and_oversized_ones_do_not() {
        for (k, m) in [(8, 4), (16, 16), (128, 128), (3, 200)] {
            let fused = fuse(&program::encode(k, m, 256).expect("supported")).expect("fuses");
            assert_eq!(fused.code.last(), Some(&OP_END));
            assert_eq!(fused.tables.len() % 64, 0);
            assert!(fused.tables.len() / 64 <= MAX_TABLES);
        }
        let decode = program::decode(&[false; 128], &[true; 128], 256).expect("enough");
        assert!(fuse(&decode).is_some(), "DA rows decode: 256 shards of work");
        assert!(fuse(&program::encode(300, 300, 64).expect("supported")).is_none(), "1024 shards of work");
    }
}
