//! reed-solomon-simd's encoder and decoder (3.x: its `DefaultRate`, high or low rate chosen the
//! same way) written out as a list of data-independent [`Step`]s over a work array of shards.
//! Every step is the same for every symbol position and every codeword of a batch, so one program
//! drives thousands of codewords at once: the CPU twin ([`super::twin`]) runs it on host memory,
//! the GPU runs each step as a kernel launch. The property tests hold the twin to
//! reed-solomon-simd's own output, byte for byte.
//!
//! A shard of `shard_bytes` bytes is `shard_bytes / 2` symbols of GF(2^16) laid out as
//! reed-solomon-simd lays them ([`symbol_offsets`]), so shards go to the device as they are.

use reed_solomon_simd::engine::{GF_MODULUS, GF_ORDER, GfElement, tables, utils};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    #[error("{original}+{recovery} shards are not supported by reed-solomon-simd's code")]
    UnsupportedShardCount { original: usize, recovery: usize },
    #[error("shards of {0} bytes: the code needs an even, non-zero size")]
    ShardBytes(usize),
    #[error("only {have} shards are present; {need} are needed")]
    NotEnoughShards { have: usize, need: usize },
    #[error("{what} shard {index} is out of range ({count} exist)")]
    ShardIndex { what: &'static str, index: usize, count: usize },
}

/// One butterfly stage of reed-solomon-simd's (inverse) additive FFT over shards
/// `pos .. pos + size`: the pairs `(pos + r + i, pos + r + i + dist)` for every group start
/// `r` (a multiple of `2 dist` below `truncated`) and `i < dist`, scaled by
/// `skew[r + dist + skew_delta - 1]` (a logarithm; `GF_MODULUS` means no scaling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stage {
    pub inverse: bool,
    pub pos: usize,
    pub dist: usize,
    pub truncated: usize,
    pub skew_delta: usize,
}

impl Stage {
    /// Groups in the stage: those starting below `truncated`, `dist` pairs each.
    pub fn groups(&self) -> usize {
        self.truncated.div_ceil(2 * self.dist)
    }

    pub fn pairs(&self) -> usize {
        self.groups() * self.dist
    }

    /// The logarithm that scales group `group`'s butterflies (`GF_MODULUS`: none).
    pub fn factor(&self, group: usize) -> GfElement {
        tables::get_skew()[group * 2 * self.dist + self.dist + self.skew_delta - 1]
    }
}

/// What a scaling step does to one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    Keep,
    Zero,
    /// Multiply every symbol by the element whose logarithm this is.
    Log(GfElement),
}

/// The factor words the kernels read: a logarithm, or one of these (`FACTOR_KEEP` also marks a
/// butterfly group without scaling in the fused kernel's code).
pub const FACTOR_KEEP: u32 = u32::MAX;
pub const FACTOR_ZERO: u32 = u32::MAX - 1;

impl Factor {
    pub fn word(self) -> u32 {
        match self {
            Factor::Keep => FACTOR_KEEP,
            Factor::Zero => FACTOR_ZERO,
            Factor::Log(log_m) => u32::from(log_m),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// Shards `first .. first + count` become zero.
    Zero { first: usize, count: usize },
    /// `work[to + i] = work[from + i]` for `i < count` (ranges never overlap).
    Copy { from: usize, to: usize, count: usize },
    /// `work[into + i] ^= work[from + i]` for `i < count` (ranges never overlap).
    Xor { into: usize, from: usize, count: usize },
    Butterflies(Stage),
    /// Shard `first + i` is treated as `factors[i]` says.
    Scale { first: usize, factors: Vec<Factor> },
    /// reed-solomon-simd's formal derivative over shards `0 .. len`, in its closed form (see
    /// [`derivative_sources`]): every shard's new value depends on old values only.
    FormalDerivative { len: usize },
}

/// A whole encode or decode: where the inputs go, the steps, where the outputs are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Program {
    pub shard_bytes: usize,
    pub work_count: usize,
    /// Work position of each input shard, in the order the caller gives them.
    pub inputs: Vec<usize>,
    pub steps: Vec<Step>,
    /// Work position of each output shard, in order (recovery shards, or restored originals).
    pub outputs: Vec<usize>,
}

/// reed-solomon-simd's choice between its high-rate and low-rate code (`DefaultRate`): the
/// shards differ in layout only, both rates give the same recovery shards for the same
/// originals, but decoding must mirror the same choice step for step.
pub fn use_high_rate(original: usize, recovery: usize) -> Result<bool, ProgramError> {
    let unsupported = ProgramError::UnsupportedShardCount { original, recovery };
    if original == 0 || recovery == 0 || original > GF_ORDER || recovery > GF_ORDER {
        return Err(unsupported);
    }
    let (original_pow2, recovery_pow2) = (original.next_power_of_two(), recovery.next_power_of_two());
    if original_pow2.min(recovery_pow2) + original.max(recovery) > GF_ORDER {
        return Err(unsupported);
    }
    Ok(match original_pow2.cmp(&recovery_pow2) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => original <= recovery,
    })
}

fn check_bytes(shard_bytes: usize) -> Result<(), ProgramError> {
    if shard_bytes == 0 || !shard_bytes.is_multiple_of(2) {
        return Err(ProgramError::ShardBytes(shard_bytes));
    }
    Ok(())
}

fn fft_stages(steps: &mut Vec<Step>, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
    let mut dist = size / 2;
    while dist > 0 {
        steps.push(Step::Butterflies(Stage { inverse: false, pos, dist, truncated, skew_delta }));
        dist /= 2;
    }
}

fn ifft_stages(steps: &mut Vec<Step>, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
    let mut dist = 1;
    while dist < size {
        steps.push(Step::Butterflies(Stage { inverse: true, pos, dist, truncated, skew_delta }));
        dist *= 2;
    }
}

/// The program computing `recovery` recovery shards from `original` original shards.
pub fn encode(original: usize, recovery: usize, shard_bytes: usize) -> Result<Program, ProgramError> {
    check_bytes(shard_bytes)?;
    let mut steps = Vec::new();
    let work_count = if use_high_rate(original, recovery)? {
        let chunk = recovery.next_power_of_two();
        let work_count = original.next_multiple_of(chunk);
        let first = original.min(chunk);
        steps.push(Step::Zero { first, count: chunk - first });
        ifft_stages(&mut steps, 0, chunk, first, chunk);
        if original > chunk {
            let mut start = chunk;
            while start + chunk <= original {
                ifft_stages(&mut steps, start, chunk, chunk, start + chunk);
                steps.push(Step::Xor { into: 0, from: start, count: chunk });
                start += chunk;
            }
            let last = original % chunk;
            if last > 0 {
                steps.push(Step::Zero { first: start + last, count: work_count - start - last });
                ifft_stages(&mut steps, start, chunk, last, start + chunk);
                steps.push(Step::Xor { into: 0, from: start, count: chunk });
            }
        }
        fft_stages(&mut steps, 0, chunk, recovery, 0);
        work_count
    } else {
        let chunk = original.next_power_of_two();
        let work_count = recovery.next_multiple_of(chunk);
        steps.push(Step::Zero { first: original, count: chunk - original });
        ifft_stages(&mut steps, 0, chunk, original, 0);
        let mut start = chunk;
        while start < recovery {
            steps.push(Step::Copy { from: 0, to: start, count: chunk });
            start += chunk;
        }
        let mut start = 0;
        while start + chunk <= recovery {
            fft_stages(&mut steps, start, chunk, chunk, start + chunk);
            start += chunk;
        }
        let last = recovery % chunk;
        if last > 0 {
            fft_stages(&mut steps, start, chunk, last, start + chunk);
        }
        work_count
    };
    Ok(Program { shard_bytes, work_count, inputs: (0..original).collect(), steps, outputs: (0..recovery).collect() })
}

/// The program restoring the missing originals from the shards present: `originals[i]` /
/// `recoveries[i]` say whether original / recovery shard `i` is given. Its inputs are the
/// present originals then the present recovery shards, each in index order; its outputs the
/// missing originals in index order (none when every original is present).
pub fn decode(originals: &[bool], recoveries: &[bool], shard_bytes: usize) -> Result<Program, ProgramError> {
    check_bytes(shard_bytes)?;
    let (original, recovery) = (originals.len(), recoveries.len());
    let high = use_high_rate(original, recovery)?;
    let have = originals.iter().chain(recoveries).filter(|present| **present).count();
    if have < original {
        return Err(ProgramError::NotEnoughShards { have, need: original });
    }
    let (original_base, recovery_base, end, work_count) = if high {
        let chunk = recovery.next_power_of_two();
        (chunk, 0, chunk + original, (chunk + original).next_power_of_two())
    } else {
        let chunk = original.next_power_of_two();
        (0, chunk, chunk + recovery, (chunk + recovery).next_power_of_two())
    };
    let present_at = |pos: usize| -> Option<bool> {
        if (original_base..original_base + original).contains(&pos) {
            Some(originals[pos - original_base])
        } else if (recovery_base..recovery_base + recovery).contains(&pos) {
            Some(recoveries[pos - recovery_base])
        } else {
            None
        }
    };
    let missing: Vec<usize> = (0..original).filter(|i| !originals[*i]).collect();
    let inputs: Vec<usize> = (0..original)
        .filter(|i| originals[*i])
        .map(|i| original_base + i)
        .chain((0..recovery).filter(|i| recoveries[*i]).map(|i| recovery_base + i))
        .collect();
    if missing.is_empty() {
        return Ok(Program { shard_bytes, work_count, inputs, steps: Vec::new(), outputs: Vec::new() });
    }
    // Erasure locator, as reed-solomon-simd marks it: the high rate marks every position below
    // `end` that holds no present shard; the low rate marks missing shards and everything from
    // `end` on, but not the unused positions between the originals and the recovery shards.
    let mut erasures: Box<[GfElement; GF_ORDER]> = Box::new([0; GF_ORDER]);
    for (pos, slot) in erasures.iter_mut().enumerate() {
        let erased = if high { pos < end && present_at(pos) != Some(true) } else { pos >= end || present_at(pos) == Some(false) };
        *slot = GfElement::from(erased);
    }
    utils::eval_poly(&mut erasures, if high { end } else { GF_ORDER });
    let factors = (0..work_count)
        .map(|pos| match present_at(pos) {
            Some(true) => Factor::Log(erasures[pos]),
            _ => Factor::Zero,
        })
        .collect();
    let reveal = (0..original)
        .map(|i| if originals[i] { Factor::Keep } else { Factor::Log(GF_MODULUS - erasures[original_base + i]) })
        .collect();
    let mut steps = vec![Step::Scale { first: 0, factors }];
    ifft_stages(&mut steps, 0, work_count, end, 0);
    steps.push(Step::FormalDerivative { len: work_count });
    fft_stages(&mut steps, 0, work_count, end, 0);
    steps.push(Step::Scale { first: original_base, factors: reveal });
    Ok(Program { shard_bytes, work_count, inputs, steps, outputs: missing.iter().map(|i| original_base + i).collect() })
}

/// The shards XORed into shard `j` by reed-solomon-simd's formal derivative over `0 .. len`
/// (`len` a power of two). Its loop `work[i - w .. i] ^= work[i .. i + w]` (`w` = lowest set bit
/// of `i`) only ever reads shards above any it has written, so every read sees an old value and
/// shard `j` gains old shard `j + 2^t` for each clear bit `t` of `j` whose step `i = (j | (2^t -
/// 1)) + 1` lies below `len`.
pub fn derivative_sources(j: usize, len: usize) -> impl Iterator<Item = usize> {
    (0..usize::BITS)
        .take_while(move |t| (1usize << t) < len)
        .filter(move |t| j & (1 << t) == 0 && (j | ((1 << t) - 1)) + 1 < len)
        .map(move |t| j + (1 << t))
}

/// Byte offsets of symbol `p`'s low and high bytes in a shard of `shard_bytes` bytes:
/// reed-solomon-simd keeps 32 low bytes then 32 high bytes in every whole 64-byte piece, and
/// splits a shorter tail of `t` bytes into `t / 2` low then `t / 2` high bytes.
pub fn symbol_offsets(p: usize, shard_bytes: usize) -> (usize, usize) {
    let whole = shard_bytes / 64 * 32;
    if p < whole {
        let (piece, j) = (p / 32, p % 32);
        (piece * 64 + j, piece * 64 + 32 + j)
    } else {
        let lo = shard_bytes / 64 * 64 + (p - whole);
        (lo, lo + (shard_bytes % 64) / 2)
    }
}

impl Program {
    /// Bytes a codeword's run reads and writes in device memory (every step's shards, the
    /// inputs placed and the outputs taken): with a run's time, how close the kernels come to
    /// the memory's bandwidth.
    pub fn traffic_bytes(&self) -> u64 {
        let shards: u64 = self
            .steps
            .iter()
            .map(|step| match step {
                Step::Zero { count, .. } => *count as u64,
                Step::Copy { count, .. } => 2 * *count as u64,
                Step::Xor { count, .. } => 3 * *count as u64,
                Step::Butterflies(stage) => 4 * stage.pairs() as u64,
                Step::Scale { factors, .. } => factors.iter().map(|f| match f {
                    Factor::Keep => 0,
                    Factor::Zero => 1,
                    Factor::Log(_) => 2,
                }).sum(),
                Step::FormalDerivative { len } => {
                    (0..*len).map(|j| 2 + derivative_sources(j, *len).count() as u64).sum()
                }
            })
            .sum();
        (shards + 2 * (self.inputs.len() + self.outputs.len()) as u64) * self.shard_bytes as u64
    }
}
