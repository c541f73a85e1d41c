//! The process's erasure accelerator (the GPU, when the node found one): coding functions
//! offer it their batches through [`encode_batch`]; `None` means "code it on the CPU". The
//! accelerator's results are reed-solomon-simd's shards bit for bit (tested on GPU hosts), so
//! which side coded a batch never shows in the output.

use std::sync::OnceLock;

use crate::ports::ErasureAccelerator;

use super::program;

static ACCELERATOR: OnceLock<Box<dyn ErasureAccelerator>> = OnceLock::new();

/// Installs the accelerator; the first one installed stays (one GPU context per process).
pub fn install(accelerator: Box<dyn ErasureAccelerator>) -> bool {
    ACCELERATOR.set(accelerator).is_ok()
}

pub fn installed() -> bool {
    ACCELERATOR.get().is_some()
}

/// Whether a batch of `bytes` bytes of originals would go to the accelerator.
pub fn wants(bytes: usize) -> bool {
    ACCELERATOR.get().is_some_and(|a| a.wants(bytes))
}

/// Runs `program` over the codewords of `inputs` on the accelerator when it takes a batch of
/// `bytes` bytes; `None` as for [`encode_batch`].
pub fn run_batch(program: &program::Program, inputs: &[u8], bytes: usize) -> Option<Vec<u8>> {
    let accelerator = ACCELERATOR.get()?;
    if !accelerator.wants(bytes) {
        return None;
    }
    let per = program.inputs.len() * program.shard_bytes;
    let expected = inputs.len().checked_div(per)? * program.outputs.len() * program.shard_bytes;
    match accelerator.run(program, inputs) {
        Ok(outputs) if outputs.len() == expected => Some(outputs),
        Ok(outputs) => {
            tracing::warn!(got = outputs.len(), expected, "the erasure accelerator returned a wrong size; coding on the CPU");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "the erasure accelerator failed; coding on the CPU");
            None
        }
    }
}

/// The recovery shards of every codeword in `originals` (each `k` shards of `shard_bytes`,
/// codeword-major), back to back, `m` a codeword, when the accelerator takes the batch. `None`:
/// none installed, the batch is too small, or the accelerator failed (logged); the caller codes
/// it on the CPU.
pub fn encode_batch(k: usize, m: usize, shard_bytes: usize, originals: &[u8]) -> Option<Vec<u8>> {
    let program = program::encode(k, m, shard_bytes).ok()?;
    run_batch(&program, originals, originals.len())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::erasure::program::Program;
    use crate::storage::erasure::{ErasureConfig, encode_parity, encode_segments};

    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Off,
        Twin,
        Fails,
        WrongSize,
    }

    thread_local! {
        // Opt-in per thread: other tests in this process never see the stand-in.
        static MODE: Cell<Mode> = const { Cell::new(Mode::Off) };
        static CALLS: Cell<usize> = const { Cell::new(0) };
    }

    /// The CPU twin standing in for the GPU: what the GPU runs, on this machine.
    struct TwinAccelerator;

    impl ErasureAccelerator for TwinAccelerator {
        fn wants(&self, bytes: usize) -> bool {
            MODE.with(Cell::get) != Mode::Off && bytes >= 1024
        }

        fn run(&self, program: &Program, inputs: &[u8]) -> Result<Vec<u8>, String> {
            CALLS.with(|c| c.set(c.get() + 1));
            match MODE.with(Cell::get) {
                Mode::Fails => return Err("device lost".into()),
                Mode::WrongSize => return Ok(vec![0; 3]),
                _ => {}
            }
            super::super::twin::run_batch(program, inputs).map_err(|e| e.to_string())
        }
    }

    fn with_mode<T>(mode: Mode, f: impl FnOnce() -> T) -> (T, usize) {
        install(Box::new(TwinAccelerator));
        MODE.with(|m| m.set(mode));
        CALLS.with(|c| c.set(0));
        let out = f();
        MODE.with(|m| m.set(Mode::Off));
        (out, CALLS.with(Cell::get))
    }

    /// DA squares and storage segment batches routed to an accelerator come out exactly as the
    /// CPU codes them; a failing or misbehaving accelerator falls back to the CPU, and tiny
    /// batches never leave it.
    #[test]
    fn routed_batches_match_the_cpu_and_failures_fall_back() {
        let blob: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let cpu_square = crate::da::encoding::extend_blob(&blob).expect("extends");
        let config = ErasureConfig::DEFAULT;
        let segments: Vec<Vec<u8>> = (0..6u8).map(|s| (0..8 * 512).map(|i| (i as u8) ^ s.wrapping_mul(37)).collect()).collect();
        let refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
        let cpu_parity: Vec<Vec<Vec<u8>>> = refs.iter().map(|s| encode_parity(config, s).expect("codes")).collect();
        for mode in [Mode::Twin, Mode::Fails, Mode::WrongSize] {
            let (square, calls) = with_mode(mode, || crate::da::encoding::extend_blob(&blob).expect("extends"));
            assert_eq!(square.data, cpu_square.data);
            assert_eq!(calls, 2, "rows and columns offered to the accelerator");
            let (parity, calls) = with_mode(mode, || encode_segments(config, &refs).expect("codes"));
            assert_eq!(parity, cpu_parity);
            assert_eq!(calls, 1);
        }
        // A square rebuilt from k of its columns (every row missing the same shares: one decode
        // batch and one encode batch), and from a scattered pattern (several batches).
        let layout = cpu_square.layout;
        let width = layout.width();
        let share = |r: usize, c: usize| cpu_square.share(r, c).map(<[u8]>::to_vec);
        let columns: Vec<Option<Vec<u8>>> = (0..width * width).map(|i| if (layout.k / 2..layout.k / 2 + layout.k).contains(&(i % width)) { share(i / width, i % width) } else { None }).collect();
        let scattered: Vec<Option<Vec<u8>>> = (0..width * width).map(|i| if (i * 7 + i / width) % 5 < 3 { share(i / width, i % width) } else { None }).collect();
        for mode in [Mode::Twin, Mode::Fails] {
            let (rebuilt, calls) = with_mode(mode, || crate::da::encoding::rebuild_square(layout, &columns).expect("rebuilds"));
            assert_eq!(rebuilt.data, cpu_square.data);
            assert_eq!(calls, if mode == Mode::Twin { 2 } else { 1 }, "decode then encode, or the failed decode alone");
            let (rebuilt, _) = with_mode(mode, || crate::da::encoding::rebuild_square(layout, &scattered).expect("rebuilds"));
            assert_eq!(rebuilt.data, cpu_square.data);
        }
        let (_, calls) = with_mode(Mode::Twin, || encode_segments(config, &[&[1u8; 64]]).expect("codes"));
        assert_eq!(calls, 0, "a tiny batch stays on the CPU");
        assert!(installed());
    }
}
