//! The node's erasure accelerator (the GPU, when it found one), a value the node hands to the
//! coding that may use it ([`Accelerator`]): coding functions offer it their batches through
//! [`Accelerator::encode_batch`]; `None` means "code it on the CPU". The
//! accelerator must give reed-solomon-simd's shards bit for bit: the node installs one only
//! after its self-test passed on that card, and [`SpotCheck`] recomputes a sample of its
//! batches on the CPU at run time (the first of every shape, then one in `every`); a single
//! difference retires the accelerator for the rest of the process and the batch is coded on
//! the CPU, so wrong parity is never written.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::ports::ErasureAccelerator;

use super::program;

/// Run-time checks of an accelerator's answers against the CPU twin.
pub struct SpotCheck {
    /// One batch in `every` is recomputed (besides the first of each shape); at least 1.
    every: u64,
    batches: AtomicU64,
    shapes_seen: Mutex<HashSet<program::Program>>,
    retired: AtomicBool,
    pub checked: AtomicU64,
    pub mismatches: AtomicU64,
}

impl SpotCheck {
    pub fn new(every: u64) -> Self {
        Self {
            every: every.max(1),
            batches: AtomicU64::new(0),
            shapes_seen: Mutex::new(HashSet::new()),
            retired: AtomicBool::new(false),
            checked: AtomicU64::new(0),
            mismatches: AtomicU64::new(0),
        }
    }

    /// Whether a mismatch has retired the accelerator.
    pub fn retired(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    /// The accelerator's `outputs` for `program` over `inputs`, when they pass (sampled batches
    /// recomputed on the CPU twin); `None` when a check found a difference (the accelerator is
    /// then retired) or the CPU could not run the program.
    pub fn accept(&self, program: &program::Program, inputs: &[u8], outputs: Vec<u8>) -> Option<Vec<u8>> {
        // The program is cloned only the first time its shape is seen (this runs per batch).
        let first_of_shape = self.shapes_seen.lock().map(|mut seen| !seen.contains(program) && seen.insert(program.clone())).unwrap_or(true);
        let n = self.batches.fetch_add(1, Ordering::Relaxed);
        if !first_of_shape && !n.is_multiple_of(self.every) {
            return Some(outputs);
        }
        self.checked.fetch_add(1, Ordering::Relaxed);
        match super::twin::run_batch(program, inputs) {
            Ok(cpu) if cpu == outputs => Some(outputs),
            Ok(_) => {
                self.mismatches.fetch_add(1, Ordering::Relaxed);
                self.retired.store(true, Ordering::Relaxed);
                tracing::error!(
                    inputs = program.inputs.len(),
                    outputs = program.outputs.len(),
                    shard_bytes = program.shard_bytes,
                    "the erasure accelerator's output differs from the CPU's: accelerator retired, coding on the CPU from now on"
                );
                None
            }
            Err(error) => {
                tracing::warn!(%error, "the CPU could not check an accelerator batch; coding it on the CPU");
                None
            }
        }
    }
}

struct Installed {
    accelerator: Box<dyn ErasureAccelerator>,
    check: SpotCheck,
}

/// The erasure accelerator a node hands to its coding (the GPU, when it found one and its
/// self-test passed), or none: [`Accelerator::cpu`]. Cloning shares it (and its spot checks).
#[derive(Clone, Default)]
pub struct Accelerator(Option<Arc<Installed>>);

impl std::fmt::Debug for Accelerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.spot_checks() {
            None => f.write_str("Accelerator(cpu)"),
            Some((checked, mismatches, retired)) => write!(f, "Accelerator(checked {checked}, mismatches {mismatches}, retired {retired})"),
        }
    }
}

impl Accelerator {
    /// No accelerator: every batch is coded on the CPU.
    pub fn cpu() -> Self {
        Self(None)
    }

    /// `accelerator` (whose self-test the caller has run on its device), its answers
    /// spot-checked on one batch in `check_every`.
    pub fn new(accelerator: Box<dyn ErasureAccelerator>, check_every: u64) -> Self {
        Self(Some(Arc::new(Installed { accelerator, check: SpotCheck::new(check_every) })))
    }

    /// Whether there is one and no failed spot check has retired it.
    pub fn installed(&self) -> bool {
        self.active().is_some()
    }

    fn active(&self) -> Option<&Installed> {
        self.0.as_deref().filter(|installed| !installed.check.retired())
    }

    /// Its spot checks (batches checked, mismatches, retired), for status and metrics.
    pub fn spot_checks(&self) -> Option<(u64, u64, bool)> {
        self.0.as_deref().map(|i| (i.check.checked.load(Ordering::Relaxed), i.check.mismatches.load(Ordering::Relaxed), i.check.retired()))
    }

    /// Whether a batch of `bytes` bytes of originals would go to the accelerator.
    pub fn wants(&self, bytes: usize) -> bool {
        self.active().is_some_and(|a| a.accelerator.wants(bytes))
    }

    /// Runs `program` over the codewords of `inputs` on the accelerator when it takes a batch
    /// of `bytes` bytes; `None` as for [`Self::encode_batch`].
    pub fn run_batch(&self, program: &program::Program, inputs: &[u8], bytes: usize) -> Option<Vec<u8>> {
        let installed = self.active()?;
        if !installed.accelerator.wants(bytes) {
            return None;
        }
        let per = program.inputs.len() * program.shard_bytes;
        let expected = inputs.len().checked_div(per)? * program.outputs.len() * program.shard_bytes;
        match installed.accelerator.run(program, inputs) {
            Ok(outputs) if outputs.len() == expected => installed.check.accept(program, inputs, outputs),
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
    /// codeword-major), back to back, `m` a codeword, when the accelerator takes the batch.
    /// `None`: none installed, the batch is too small, or the accelerator failed (logged); the
    /// caller codes it on the CPU.
    pub fn encode_batch(&self, k: usize, m: usize, shard_bytes: usize, originals: &[u8]) -> Option<Vec<u8>> {
        // No program is built when there is nothing to run it on.
        self.active()?;
        let program = program::encode(k, m, shard_bytes).ok()?;
        self.run_batch(&program, originals, originals.len())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::erasure::program::Program;
    use crate::storage::erasure::{ErasureConfig, encode_parity, encode_segments_on};

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

        fn run(&self, program: &Program, inputs: &[u8]) -> Result<Vec<u8>, crate::ports::AcceleratorError> {
            CALLS.with(|c| c.set(c.get() + 1));
            match MODE.with(Cell::get) {
                Mode::Fails => return Err(crate::ports::AcceleratorError::Device("device lost".into())),
                Mode::WrongSize => return Ok(vec![0; 3]),
                _ => {}
            }
            super::super::twin::run_batch(program, inputs).map_err(|e| crate::ports::AcceleratorError::Program(Box::new(e)))
        }
    }

    fn with_mode<T>(mode: Mode, f: impl FnOnce(&Accelerator) -> T) -> (T, usize) {
        let accelerator = Accelerator::new(Box::new(TwinAccelerator), 1_000_000);
        MODE.with(|m| m.set(mode));
        CALLS.with(|c| c.set(0));
        let out = f(&accelerator);
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
            let (square, calls) = with_mode(mode, |a| crate::da::encoding::extend_blob_on(a, &blob).expect("extends"));
            assert_eq!(square.data, cpu_square.data);
            assert_eq!(calls, 2, "rows and columns offered to the accelerator");
            let (parity, calls) = with_mode(mode, |a| encode_segments_on(a, config, &refs).expect("codes"));
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
            let (rebuilt, calls) = with_mode(mode, |a| crate::da::encoding::rebuild_square_on(a, layout, &columns).expect("rebuilds"));
            assert_eq!(rebuilt.data, cpu_square.data);
            assert_eq!(calls, if mode == Mode::Twin { 2 } else { 1 }, "decode then encode, or the failed decode alone");
            let (rebuilt, _) = with_mode(mode, |a| crate::da::encoding::rebuild_square_on(a, layout, &scattered).expect("rebuilds"));
            assert_eq!(rebuilt.data, cpu_square.data);
        }
        let (installed, calls) = with_mode(Mode::Twin, |a| {
            encode_segments_on(a, config, &[&[1u8; 64]]).expect("codes");
            a.installed()
        });
        assert_eq!(calls, 0, "a tiny batch stays on the CPU");
        assert!(installed);
        assert!(!Accelerator::cpu().installed() && Accelerator::cpu().encode_batch(4, 2, 64, &[0; 256]).is_none());
    }

    /// An accelerator that gives the right length but wrong bytes: the first batch of a shape
    /// is always checked, later ones one in `every`; a difference retires it and the caller
    /// codes on the CPU.
    #[test]
    fn wrong_bytes_of_the_right_length_are_caught_and_retire_the_accelerator() {
        let program = program::encode(4, 2, 64).expect("program");
        let inputs: Vec<u8> = (0..4 * 64 * 3).map(|i| (i * 7) as u8).collect();
        let right = super::super::twin::run_batch(&program, &inputs).expect("twin");
        let check = SpotCheck::new(4);
        assert_eq!(check.accept(&program, &inputs, right.clone()), Some(right.clone()), "the first batch, checked, passes");
        assert_eq!(check.checked.load(Ordering::Relaxed), 1);
        for _ in 0..6 {
            assert!(check.accept(&program, &inputs, right.clone()).is_some());
        }
        assert_eq!(check.checked.load(Ordering::Relaxed), 2, "then one batch in four");
        let mut wrong = right.clone();
        wrong[5] ^= 1;
        let fresh = SpotCheck::new(1_000);
        assert_eq!(fresh.accept(&program, &inputs, wrong.clone()), None, "a new shape's first batch is checked");
        assert!(fresh.retired() && fresh.mismatches.load(Ordering::Relaxed) == 1);
        // Every `every`-th batch is checked, whatever came before.
        let sampled = SpotCheck::new(2);
        assert!(sampled.accept(&program, &inputs, right.clone()).is_some());
        assert!(sampled.accept(&program, &inputs, wrong.clone()).is_some(), "an unsampled batch passes unchecked");
        assert_eq!(sampled.accept(&program, &inputs, wrong), None, "the sampled one is caught");
        assert!(sampled.retired());
    }
}
