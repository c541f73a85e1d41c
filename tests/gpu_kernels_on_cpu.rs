//! The CUDA erasure kernels' own source (`assets/cuda/reed_solomon.cu`), compiled by the host's
//! C++ compiler with a small emulation of CUDA's thread model (`tests/cuda_emu`), run through the
//! host's own launch list (`zgnode::gpu::erasure::plan`: grids, 256-thread blocks, slices,
//! arguments in order, buffers sized as on the device and fenced by guard bytes), must give reed-solomon-simd's shards and restore lost
//! ones: the kernels' index arithmetic is checked on machines without a GPU. The LLM's matrix
//! products (`assets/cuda/matvec.cu`, warp shuffles emulated) likewise: float results within
//! the stated rounding bound of the CPU's, int8 results identical; and the verifiable int8
//! models' layers (`assets/cuda/int8_dense.cu`): the CPU's logits exactly.

use std::path::{Path, PathBuf};
use std::process::Command;

use reed_solomon_simd::engine::tables;
use zg_systems::erasure::program::{self, Program};
use zg_systems::erasure::twin;
use zgnode::gpu::erasure::plan::{self, Arg, BatchLayout, Buffer, ProgramArrays};

/// A driver from `tests/cuda_emu`, built for this test; `None` (skip) without a C++20
/// compiler, except in CI (which sets ZG_REQUIRE_NVRTC and always has one).
fn driver(name: &str) -> Option<PathBuf> {
    static BUILT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cuda-emu");
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let n = BUILT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let binary = dir.join(format!("{name}-{}-{n}", std::process::id()));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/cuda_emu/{name}.cpp"));
    let built = Command::new("g++").args(["-std=c++20", "-O2", "-pthread", "-o"]).arg(&binary).arg(&source).output();
    match built {
        Ok(out) if out.status.success() => Some(binary),
        Ok(out) => panic!("the kernels do not build as C++: {}", String::from_utf8_lossy(&out.stderr)),
        Err(error) if std::env::var("ZG_REQUIRE_NVRTC").is_err() => {
            eprintln!("skipped: no g++ ({error})");
            None
        }
        Err(error) => panic!("g++ is needed here: {error}"),
    }
}

fn tables_file(dir: &Path) -> PathBuf {
    let exp_log = tables::get_exp_log();
    let all = tables::get_skew().iter().chain(exp_log.exp.iter()).chain(exp_log.log.iter());
    let bytes: Vec<u8> = all.flat_map(|v| v.to_le_bytes()).collect();
    let path = dir.join("tables.bin");
    std::fs::write(&path, bytes).expect("writes");
    path
}

/// `name count v…` for the driver.
fn numbered(name: &str, values: impl ExactSizeIterator<Item = impl ToString>) -> String {
    let count = values.len();
    format!("{name} {count} {}\n", values.map(|v| v.to_string()).collect::<Vec<_>>().join(" "))
}

/// Codewords one emulated launch covers: the host slices at 65,535; two here, so every batch of
/// three or more launches past its first slice with a nonzero first codeword.
const MAX_LAUNCH_CODEWORDS: usize = 2;

/// The run as the driver reads it: the batch's buffers as `BatchLayout` sizes them, the
/// program's arrays as `GpuErasure` uploads them, then the launches `plan::launches` gives the
/// host, argument by argument.
fn describe(program: &Program, arrays: &ProgramArrays, codewords: usize) -> String {
    let layout = BatchLayout::new(program, arrays.fused.is_some(), codewords);
    let mut text = format!("buffer inputs {}\nbuffer outputs {}\n", layout.inputs, layout.outputs);
    for (n, bytes) in layout.work.iter().enumerate() {
        text += &format!("buffer {} {bytes}\n", Buffer::Work(n as u8));
    }
    let array = |buffer: Buffer, kind: &str, values: Vec<u64>| numbered(&format!("array {buffer} {kind}"), values.into_iter());
    text += &array(Buffer::Placed, "u32", arrays.placed.iter().map(|v| u64::from(*v)).collect());
    text += &array(Buffer::Taken, "u32", arrays.taken.iter().map(|v| u64::from(*v)).collect());
    text += &array(Buffer::Order, "u32", arrays.order.iter().map(|v| u64::from(*v)).collect());
    for (step, factors) in arrays.factors.iter().enumerate() {
        if let Some(factors) = factors {
            text += &array(Buffer::Factors(step), "u32", factors.iter().map(|v| u64::from(*v)).collect());
        }
    }
    if let Some(fused) = &arrays.fused {
        text += &array(Buffer::Code, "u32", fused.code.iter().map(|v| u64::from(*v)).collect());
        text += &array(Buffer::FusedTables, "u16", fused.tables.iter().map(|v| u64::from(*v)).collect());
    }
    for launch in plan::launches(program, arrays, codewords, MAX_LAUNCH_CODEWORDS).expect("the host plans the run") {
        let (x, y, z) = launch.grid;
        text += &format!("launch {} {x} {y} {z} {}", launch.kernel.name(), launch.block);
        for arg in launch.args {
            text += &match arg {
                Arg::Buffer(buffer) => format!(" p:{buffer}"),
                Arg::U32(v) => format!(" u:{v}"),
                Arg::U64(v) => format!(" w:{v}"),
            };
        }
        text += "\n";
    }
    text + "output outputs\n"
}

struct Emulator {
    binary: PathBuf,
    dir: tempfile::TempDir,
    tables: PathBuf,
}

impl Emulator {
    fn new() -> Option<Self> {
        let binary = driver("erasure_driver")?;
        let dir = tempfile::tempdir().expect("scratch");
        let tables = tables_file(dir.path());
        Some(Self { binary, dir, tables })
    }

    /// The program a launch a step, as `GpuErasure::prepare_steps` runs it.
    fn run(&self, program: &Program, inputs: &[u8]) -> Vec<u8> {
        let per = program.inputs.len() * program.shard_bytes;
        let arrays = ProgramArrays::new(program, false).expect("arrays");
        self.run_text(&describe(program, &arrays, inputs.len() / per), inputs)
    }

    /// The same program through the fused kernel, as `GpuErasure::prepare` runs it when it fits.
    fn run_fused(&self, program: &Program, inputs: &[u8]) -> Vec<u8> {
        let per = program.inputs.len() * program.shard_bytes;
        let arrays = ProgramArrays::new(program, true).expect("arrays");
        assert!(arrays.fused.is_some(), "the test shapes fuse");
        self.run_text(&describe(program, &arrays, inputs.len() / per), inputs)
    }

    fn run_text(&self, text: &str, inputs: &[u8]) -> Vec<u8> {
        let (description, input_file, output_file) = (self.dir.path().join("program.txt"), self.dir.path().join("in.bin"), self.dir.path().join("out.bin"));
        std::fs::write(&description, text).expect("writes");
        std::fs::write(&input_file, inputs).expect("writes");
        let out = Command::new(&self.binary).args([&description, &self.tables, &input_file, &output_file]).output().expect("runs");
        assert!(out.status.success(), "the driver failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::read(&output_file).expect("reads")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.binary);
    }
}

/// The node's shapes and odd ones (both rates, tails under 64 bytes, several codewords a
/// batch): recovery shards are reed-solomon-simd's, lost originals come back.
#[test]
fn the_kernels_give_reed_solomon_simd_shards_on_the_cpu() {
    let Some(emulator) = Emulator::new() else { return };
    for (k, m, bytes, codewords) in [(8, 4, 256, 3), (4, 4, 130, 2), (3, 20, 66, 2), (20, 3, 62, 2), (16, 16, 64, 2), (1, 1, 2, 5)] {
        let data = twin::sample_bytes(k * bytes * codewords, (k * 7 + m) as u64);
        let encode = program::encode(k, m, bytes).expect("supported");
        let recovery = emulator.run(&encode, &data);
        assert_eq!(emulator.run_fused(&encode, &data), recovery, "{k}+{m}/{bytes}: the fused kernel differs");
        for c in 0..codewords {
            let originals: Vec<&[u8]> = data[c * k * bytes..(c + 1) * k * bytes].chunks(bytes).collect();
            let expected = reed_solomon_simd::encode(k, m, &originals).expect("encodes").concat();
            assert_eq!(&recovery[c * m * bytes..(c + 1) * m * bytes], expected.as_slice(), "{k}+{m}/{bytes}: codeword {c}");
        }
        let lost = k.min(m);
        let (decode, inputs) = twin::decode_first_lost(k, m, bytes, lost, &data, &recovery).expect("enough shards");
        let restored = emulator.run(&decode, &inputs);
        assert_eq!(emulator.run_fused(&decode, &inputs), restored, "{k}+{m}/{bytes}: the fused decode differs");
        for c in 0..codewords {
            assert_eq!(&restored[c * lost * bytes..(c + 1) * lost * bytes], &data[c * k * bytes..c * k * bytes + lost * bytes], "{k}+{m}/{bytes}: codeword {c} not restored");
        }
    }
}

/// The largest DA square (k = 357: a 512-shard work array, the step path) and the first past 256,
/// encoded and all originals restored, in slices, with the host's 256-thread blocks.
#[test]
fn the_step_kernels_code_the_largest_squares_on_the_cpu() {
    let Some(emulator) = Emulator::new() else { return };
    for (k, codewords) in [(zg_systems::da::pieces::MAX_K as usize, 3), (257, 1)] {
        let bytes = 64;
        let data = twin::sample_bytes(k * bytes * codewords, k as u64);
        let encode = program::encode(k, k, bytes).expect("supported");
        let recovery = emulator.run(&encode, &data);
        assert_eq!(recovery, twin::run_batch(&encode, &data).expect("twin"), "{k}+{k}: the kernels differ from their twin");
        let originals: Vec<&[u8]> = data[..k * bytes].chunks(bytes).collect();
        assert_eq!(&recovery[..k * bytes], reed_solomon_simd::encode(k, k, &originals).expect("encodes").concat().as_slice(), "{k}+{k}: codeword 0");
        let (decode, inputs) = twin::decode_first_lost(k, k, bytes, k, &data, &recovery).expect("enough shards");
        assert_eq!(emulator.run(&decode, &inputs), data, "{k}+{k}: every original restored");
    }
}

/// Random shapes and loss patterns: the kernels agree with their Rust twin.
#[test]
fn the_kernels_match_their_twin_on_random_shapes() {
    let Some(emulator) = Emulator::new() else { return };
    for seed in 0..12u64 {
        let (k, m) = (1 + (seed * 7 % 19) as usize, 1 + (seed * 13 % 23) as usize);
        let bytes = 2 * (1 + (seed * 29 % 90) as usize);
        let data = twin::sample_bytes(k * bytes * 2, seed);
        let encode = program::encode(k, m, bytes).expect("supported");
        let expected = twin::run_batch(&encode, &data).expect("twin");
        assert_eq!(emulator.run(&encode, &data), expected, "seed {seed}: {k}+{m}/{bytes}");
        assert_eq!(emulator.run_fused(&encode, &data), expected, "seed {seed}: {k}+{m}/{bytes} fused");
        let present: Vec<bool> = (0..k + m).map(|i| !(i as u64 * 2_654_435_761 + seed).is_multiple_of(3)).collect();
        if present.iter().filter(|p| **p).count() < k {
            continue;
        }
        let decode = program::decode(&present[..k], &present[k..], bytes).expect("enough");
        let mut inputs = Vec::new();
        for c in 0..2 {
            let all: Vec<&[u8]> = data[c * k * bytes..(c + 1) * k * bytes].chunks(bytes).chain(expected[c * m * bytes..(c + 1) * m * bytes].chunks(bytes)).collect();
            all.iter().zip(&present).filter(|(_, p)| **p).for_each(|(s, _)| inputs.extend_from_slice(s));
        }
        let want = twin::run_batch(&decode, &inputs).expect("twin");
        assert_eq!(emulator.run(&decode, &inputs), want, "seed {seed}: decode");
        assert_eq!(emulator.run_fused(&decode, &inputs), want, "seed {seed}: fused decode");
    }
}

fn floats(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The matrix-product kernels on the CPU: f32, f16 and bf16 weights within
/// `gpu::matvec::tolerance` of the CPU's sums, int8 identical; rows not a multiple of a block's
/// eight, columns not a multiple of a warp's 32.
#[test]
fn the_matvec_kernels_agree_with_the_cpu() {
    use zgnode::gpu::matvec::{mat_vec_i8, tolerance};
    let Some(binary) = driver("matvec_driver") else { return };
    let dir = tempfile::tempdir().expect("scratch");
    let run = |kind: &str, rows: usize, cols: usize, weights: &[u8], x: &[u8]| -> Vec<u8> {
        let (w, v, out) = (dir.path().join("w.bin"), dir.path().join("x.bin"), dir.path().join("y.bin"));
        std::fs::write(&w, weights).expect("writes");
        std::fs::write(&v, x).expect("writes");
        let launch = zgnode::gpu::matvec::launch_config(rows).expect("the host's launch");
        let dims = [rows, cols, launch.grid_dim.0 as usize, launch.block_dim.0 as usize].map(|n| n.to_string());
        let done = Command::new(&binary).arg(kind).args(dims).args([&w, &v, &out]).output().expect("runs");
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        std::fs::read(&out).expect("reads")
    };
    for (rows, cols) in [(1, 1), (7, 33), (13, 100), (40, 257)] {
        let unit = |n: usize, seed: u64| -> Vec<f32> { twin::sample_bytes(n, seed).iter().map(|b| f32::from(*b) / 127.5 - 1.0).collect() };
        let x = unit(cols, 1);
        let exact = unit(rows * cols, 2);
        let halves: Vec<f32> = exact.iter().map(|v| half::f16::from_f32(*v).to_f32()).collect();
        let brains: Vec<f32> = exact.iter().map(|v| half::bf16::from_f32(*v).to_f32()).collect();
        let cases: [(&str, &Vec<f32>, Vec<u8>); 3] = [
            ("f32", &exact, floats(&exact)),
            ("f16", &halves, halves.iter().flat_map(|v| half::f16::from_f32(*v).to_bits().to_le_bytes()).collect()),
            ("bf16", &brains, brains.iter().flat_map(|v| half::bf16::from_f32(*v).to_bits().to_le_bytes()).collect()),
        ];
        for (kind, values, weights) in cases {
            let y: Vec<f32> = run(kind, rows, cols, &weights, &floats(&x)).chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            assert_eq!(y.len(), rows);
            for (r, (got, row)) in y.iter().zip(values.chunks(cols)).enumerate() {
                let cpu: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
                assert!((got - cpu).abs() <= tolerance(row, &x), "{kind} {rows}x{cols} row {r}: kernel {got}, CPU {cpu}");
            }
        }
        let w: Vec<i8> = twin::sample_bytes(rows * cols, 3).iter().map(|b| *b as i8).collect();
        let xi: Vec<i8> = twin::sample_bytes(cols, 4).iter().map(|b| *b as i8).collect();
        let as_bytes = |v: &[i8]| v.iter().map(|b| *b as u8).collect::<Vec<u8>>();
        let y: Vec<i32> = run("i8", rows, cols, &as_bytes(&w), &as_bytes(&xi)).chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(y, mat_vec_i8(&w, &xi), "i8 {rows}x{cols}");
    }
    let _ = std::fs::remove_file(&binary);
}

/// The int8 dense kernel, layer after layer over a batch of held-out digits: the logits of the
/// CPU's `infer` exactly; an accumulator past int32 raises the overflow flag.
#[test]
fn the_int8_kernel_gives_the_cpu_logits() {
    use zg_components::verifiable::{ModelFile, QuantizedLayer};
    let Some(binary) = driver("int8_driver") else { return };
    let dir = tempfile::tempdir().expect("scratch");
    let run = |layer: &QuantizedLayer, batch: usize, x: &[i8]| -> (i32, Vec<u8>) {
        let (w, b, v, out) = (dir.path().join("w.bin"), dir.path().join("b.bin"), dir.path().join("x.bin"), dir.path().join("y.bin"));
        std::fs::write(&w, layer.weights.iter().map(|v| *v as u8).collect::<Vec<_>>()).expect("writes");
        std::fs::write(&b, layer.bias.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>()).expect("writes");
        std::fs::write(&v, x.iter().map(|v| *v as u8).collect::<Vec<_>>()).expect("writes");
        let launch = zgnode::gpu::int8::launch_config(layer.outputs, batch).expect("the host's launch");
        let (grid, block) = (launch.grid_dim, launch.block_dim);
        let numbers = [layer.inputs.to_string(), layer.outputs.to_string(), batch.to_string(), layer.multiplier.to_string(), layer.shift.to_string(), u8::from(layer.relu).to_string()]
            .into_iter()
            .chain([grid.0, grid.1, block.0].map(|n| n.to_string()));
        let done = Command::new(&binary).args(numbers).args([&w, &b, &v, &out]).output().expect("runs");
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        let bytes = std::fs::read(&out).expect("reads");
        (i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]), bytes[4..].to_vec())
    };
    for name in ["digits-small", "digits-large"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("assets/models/digits/{name}.json"));
        let file: ModelFile = serde_json::from_str(&std::fs::read_to_string(path).expect("the model file")).expect("parses");
        let inputs: Vec<Vec<i8>> = file.test.inputs.iter().take(40).cloned().collect();
        let batch = inputs.len();
        let mut activations: Vec<i8> = inputs.concat();
        let mut logits = Vec::new();
        for layer in &file.model.layers {
            let (overflow, out) = run(layer, batch, &activations);
            assert_eq!(overflow, 0);
            if layer.relu {
                activations = out.iter().map(|b| *b as i8).collect();
            } else {
                logits = out.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            }
        }
        for (i, x) in inputs.iter().enumerate() {
            let cpu = zg_systems::verifiable::inference::infer(&file.model, x).expect("infers").logits;
            assert_eq!(&logits[i * cpu.len()..(i + 1) * cpu.len()], cpu.as_slice(), "{name}: input {i}");
        }
    }
    let past_int32 = QuantizedLayer { inputs: 1, outputs: 1, weights: vec![1], bias: vec![i32::MAX], multiplier: 1, shift: 1, relu: false };
    assert_eq!(run(&past_int32, 1, &[1]).0, 1, "the overflow flag");
    let _ = std::fs::remove_file(&binary);
}
