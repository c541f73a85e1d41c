//! The CPU twin of the GPU erasure kernels: runs a [`Program`] step by step on host memory the
//! way `assets/cuda/reed_solomon.cu` does (symbols addressed by [`symbol_offsets`], products by
//! four 16-entry nibble tables, the formal derivative in closed form). It is not the node's CPU
//! path (that is reed-solomon-simd itself); it is the specification the kernels are held to,
//! and the tests hold it to reed-solomon-simd.

use reed_solomon_simd::engine::{GF_MODULUS, GfElement, tables};

use super::program::{Factor, Program, ProgramError, Stage, Step, derivative_sources, symbol_offsets};

/// `x · exp(log_m)` in reed-solomon-simd's field: zero stays zero.
pub fn mul(x: GfElement, log_m: GfElement) -> GfElement {
    let exp_log = tables::get_exp_log();
    if x == 0 {
        return 0;
    }
    let sum = u32::from(exp_log.log[usize::from(x)]) + u32::from(log_m);
    exp_log.exp[((sum + (sum >> 16)) & 0xffff) as usize]
}

/// Products of `exp(log_m)` with each nibble in each of the four places: multiplication is
/// linear over XOR, so `x · m` is the XOR of four lookups (what the kernels keep in shared
/// memory, one table a block).
pub fn nibble_table(log_m: GfElement) -> [GfElement; 64] {
    std::array::from_fn(|t| mul(((t & 15) << (4 * (t >> 4))) as GfElement, log_m))
}

pub fn mul_by_table(table: &[GfElement; 64], x: GfElement) -> GfElement {
    let x = usize::from(x);
    table[x & 15] ^ table[16 + ((x >> 4) & 15)] ^ table[32 + ((x >> 8) & 15)] ^ table[48 + (x >> 12)]
}

/// One codeword's work array as symbols, `work[shard][symbol]`.
type Work = Vec<Vec<GfElement>>;

fn load(shard: &[u8]) -> Vec<GfElement> {
    (0..shard.len() / 2)
        .map(|p| {
            let (lo, hi) = symbol_offsets(p, shard.len());
            GfElement::from(shard[lo]) | GfElement::from(shard[hi]) << 8
        })
        .collect()
}

fn store(symbols: &[GfElement], shard_bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; shard_bytes];
    for (p, symbol) in symbols.iter().enumerate() {
        let (lo, hi) = symbol_offsets(p, shard_bytes);
        out[lo] = *symbol as u8;
        out[hi] = (symbol >> 8) as u8;
    }
    out
}

fn butterflies(work: &mut Work, stage: &Stage) {
    for group in 0..stage.groups() {
        let log_m = stage.factor(group);
        let table = nibble_table(log_m);
        for i in 0..stage.dist {
            let a = stage.pos + group * 2 * stage.dist + i;
            let (low, high) = work.split_at_mut(a + stage.dist);
            let (x, y) = (&mut low[a], &mut high[0]);
            for (x, y) in x.iter_mut().zip(y.iter_mut()) {
                if stage.inverse {
                    *y ^= *x;
                    if log_m != GF_MODULUS {
                        *x ^= mul_by_table(&table, *y);
                    }
                } else {
                    if log_m != GF_MODULUS {
                        *x ^= mul_by_table(&table, *y);
                    }
                    *y ^= *x;
                }
            }
        }
    }
}

fn apply(work: &mut Work, step: &Step) {
    match step {
        Step::Zero { first, count } => work[*first..first + count].iter_mut().for_each(|shard| shard.fill(0)),
        Step::Copy { from, to, count } => {
            for i in 0..*count {
                work[to + i] = work[from + i].clone();
            }
        }
        Step::Xor { into, from, count } => {
            for i in 0..*count {
                let source = work[from + i].clone();
                work[into + i].iter_mut().zip(source).for_each(|(x, y)| *x ^= y);
            }
        }
        Step::Butterflies(stage) => butterflies(work, stage),
        Step::Scale { first, factors } => {
            for (shard, factor) in work[*first..].iter_mut().zip(factors) {
                match factor {
                    Factor::Keep => {}
                    Factor::Zero => shard.fill(0),
                    Factor::Log(log_m) => {
                        let table = nibble_table(*log_m);
                        shard.iter_mut().for_each(|x| *x = mul_by_table(&table, *x));
                    }
                }
            }
        }
        Step::FormalDerivative { len } => {
            let old = work[..*len].to_vec();
            for (j, shard) in work[..*len].iter_mut().enumerate() {
                for source in derivative_sources(j, *len) {
                    shard.iter_mut().zip(&old[source]).for_each(|(x, y)| *x ^= y);
                }
            }
        }
    }
}

/// Runs `program` on one codeword: `inputs` in the program's input order, each `shard_bytes`
/// long; gives the output shards in order.
pub fn run(program: &Program, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, ProgramError> {
    if inputs.len() != program.inputs.len() {
        return Err(ProgramError::NotEnoughShards { have: inputs.len(), need: program.inputs.len() });
    }
    if let Some(bad) = inputs.iter().find(|shard| shard.len() != program.shard_bytes) {
        return Err(ProgramError::ShardBytes(bad.len()));
    }
    let symbols = program.shard_bytes / 2;
    let mut work: Work = vec![vec![0; symbols]; program.work_count];
    for (pos, shard) in program.inputs.iter().zip(inputs) {
        work[*pos] = load(shard);
    }
    for step in &program.steps {
        apply(&mut work, step);
    }
    Ok(program.outputs.iter().map(|pos| store(&work[*pos], program.shard_bytes)).collect())
}

/// Runs `program` over codewords given back to back (each its inputs in order) and gives their
/// outputs back to back: the twin of a GPU batch.
pub fn run_batch(program: &Program, inputs: &[u8]) -> Result<Vec<u8>, ProgramError> {
    let per = program.inputs.len() * program.shard_bytes;
    if per == 0 || !inputs.len().is_multiple_of(per) {
        return Err(ProgramError::NotEnoughShards { have: inputs.len() / program.shard_bytes.max(1), need: program.inputs.len() });
    }
    let mut out = Vec::with_capacity(inputs.len() / per * program.outputs.len() * program.shard_bytes);
    for codeword in inputs.chunks(per) {
        let shards: Vec<&[u8]> = codeword.chunks(program.shard_bytes).collect();
        out.extend(run(program, &shards)?.concat());
    }
    Ok(out)
}

/// A decode of codewords that lost their first `lost` originals and hold the others and every
/// recovery shard (`originals` k, `recovery` m shards a codeword, codeword-major): its program
/// and its inputs, for checks and benchmarks.
pub fn decode_first_lost(k: usize, m: usize, shard_bytes: usize, lost: usize, originals: &[u8], recovery: &[u8]) -> Result<(Program, Vec<u8>), ProgramError> {
    let present: Vec<bool> = (0..k).map(|i| i >= lost).collect();
    let program = super::program::decode(&present, &vec![true; m], shard_bytes)?;
    let (per_original, per_recovery) = (k * shard_bytes, m * shard_bytes);
    let inputs = originals
        .chunks(per_original)
        .zip(recovery.chunks(per_recovery))
        .flat_map(|(data, parity)| data[lost * shard_bytes..].iter().chain(parity))
        .copied()
        .collect();
    Ok((program, inputs))
}

/// Deterministic pseudo-random bytes (xorshift64) for checks and benchmarks of the code.
pub fn sample_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
