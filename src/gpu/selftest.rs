//! Every GPU kernel checked against its CPU twin on the card at hand: the node runs the
//! erasure check before it installs the GPU (`gpu::accel`), `zgnode bench gpu` runs them all
//! before it measures anything, and the unit tests run them where a GPU is present. Each check
//! gives what it covered, or the first difference.

use std::sync::Arc;

use zg_systems::erasure::{program, twin};

use super::erasure::GpuErasure;
use super::matvec::{GpuMatVec, WeightFormat, mat_vec_i8, tolerance};
use super::Gpu;
use crate::compute::backend::llama::model::LlamaConfig;

type Check = Result<String, String>;

fn fail<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |error| format!("{what}: {error}")
}

/// Batches encoded and decoded on the GPU against reed-solomon-simd (the node's shapes and odd
/// ones: both rates, tails under 64 bytes, more codewords than one launch), one-shot and
/// pipelined; then random shapes and loss patterns against the CPU twin; then malformed batches.
pub fn erasure(gpu: &GpuErasure) -> Check {
    let mut codewords_checked = 0;
    for (k, m, bytes, codewords) in [(8, 4, 1024, 64), (16, 16, 512, 40), (3, 200, 66, 3), (200, 3, 130, 5), (33, 31, 62, 7), (1, 1, 2, 70_000)] {
        let data = twin::sample_bytes(k * bytes * codewords, (k * 31 + m) as u64);
        let encode = gpu.prepare(&program::encode(k, m, bytes).map_err(fail("program"))?).map_err(fail("upload"))?;
        let recovery = gpu.run(&encode, &data).map_err(fail("encode"))?;
        let pipelined = gpu.run_pipelined(&encode, &data, codewords.div_ceil(3)).map_err(fail("pipelined encode"))?;
        if recovery != pipelined {
            return Err(format!("{k}+{m}/{bytes}: the pipelined run differs from the one-shot run"));
        }
        let steps = gpu.prepare_steps(encode.program()).map_err(fail("upload"))?;
        if encode.is_fused() && gpu.run(&steps, &data).map_err(fail("encode step by step"))? != recovery {
            return Err(format!("{k}+{m}/{bytes}: the fused kernel and the step kernels differ"));
        }
        for c in 0..codewords {
            let originals: Vec<&[u8]> = data[c * k * bytes..(c + 1) * k * bytes].chunks(bytes).collect();
            let expected = reed_solomon_simd::encode(k, m, &originals).map_err(fail("reed-solomon-simd"))?.concat();
            if recovery[c * m * bytes..(c + 1) * m * bytes] != expected[..] {
                return Err(format!("{k}+{m}/{bytes}: codeword {c}'s recovery shards differ from reed-solomon-simd's"));
            }
        }
        let lost = k.min(m);
        let (decode, inputs) = twin::decode_first_lost(k, m, bytes, lost, &data, &recovery).map_err(fail("program"))?;
        let decode = gpu.prepare(&decode).map_err(fail("upload"))?;
        let restored = gpu.run(&decode, &inputs).map_err(fail("decode"))?;
        let steps = gpu.prepare_steps(decode.program()).map_err(fail("upload"))?;
        if decode.is_fused() && gpu.run(&steps, &inputs).map_err(fail("decode step by step"))? != restored {
            return Err(format!("{k}+{m}/{bytes}: the fused and step-by-step decodes differ"));
        }
        for c in 0..codewords {
            if restored[c * lost * bytes..(c + 1) * lost * bytes] != data[c * k * bytes..c * k * bytes + lost * bytes] {
                return Err(format!("{k}+{m}/{bytes}: codeword {c}'s {lost} lost originals not restored"));
            }
        }
        codewords_checked += codewords;
    }
    for seed in 0..40u64 {
        let (k, m) = (1 + (seed * 7 % 47) as usize, 1 + (seed * 13 % 53) as usize);
        let bytes = 2 * (1 + (seed * 29 % 300) as usize);
        let data = twin::sample_bytes(k * bytes, seed);
        let encode = program::encode(k, m, bytes).map_err(fail("program"))?;
        let originals: Vec<&[u8]> = data.chunks(bytes).collect();
        let expected = twin::run(&encode, &originals).map_err(fail("twin"))?.concat();
        let got = gpu.run(&gpu.prepare(&encode).map_err(fail("upload"))?, &data).map_err(fail("encode"))?;
        if got != expected {
            return Err(format!("seed {seed}: {k}+{m}/{bytes}: GPU encoding differs from the twin"));
        }
        let present: Vec<bool> = (0..k + m).map(|i| !(i as u64 * 2_654_435_761 + seed).is_multiple_of(3)).collect();
        if present.iter().filter(|p| **p).count() < k {
            continue;
        }
        let decode = program::decode(&present[..k], &present[k..], bytes).map_err(fail("program"))?;
        let all: Vec<&[u8]> = originals.iter().copied().chain(expected.chunks(bytes)).collect();
        let inputs: Vec<&[u8]> = all.iter().zip(&present).filter(|(_, p)| **p).map(|(s, _)| *s).collect();
        let want = twin::run(&decode, &inputs).map_err(fail("twin"))?.concat();
        let got = gpu.run(&gpu.prepare(&decode).map_err(fail("upload"))?, &inputs.concat()).map_err(fail("decode"))?;
        if got != want {
            return Err(format!("seed {seed}: {k}+{m}/{bytes}: GPU decoding differs from the twin"));
        }
    }
    let small = gpu.prepare(&program::encode(4, 2, 64).map_err(fail("program"))?).map_err(fail("upload"))?;
    if gpu.run(&small, &[]).is_ok() || gpu.run(&small, &[0u8; 255]).is_ok() || gpu.run_pipelined(&small, &[0u8; 256], 0).is_ok() {
        return Err("a malformed batch was run instead of refused".into());
    }
    Ok(format!("erasure: {codewords_checked} codewords of 6 shapes identical to reed-solomon-simd (encode, decode; fused and step kernels; pipelined), 40 random shapes identical to the CPU twin, malformed batches refused"))
}

fn values(count: usize, seed: u32) -> Vec<f32> {
    let mut state = seed | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

/// f32, f16 and bf16 products within [`tolerance`] of the CPU's, int8 products identical, bad
/// shapes refused, and a small Llama's logits with every matrix on the card within 1e-4 of the
/// logits' scale of the CPU's, token after token.
pub fn matvec(card: &Gpu) -> Check {
    let gpu = GpuMatVec::load(card).map_err(fail("load"))?;
    for (rows, cols) in [(1, 1), (7, 33), (300, 1000), (4096, 512)] {
        let x = values(cols, 9);
        let exact = values(rows * cols, 3);
        let halves: Vec<f32> = exact.iter().map(|v| half::f16::from_f32(*v).to_f32()).collect();
        let brains: Vec<f32> = exact.iter().map(|v| half::bf16::from_f32(*v).to_f32()).collect();
        for (data, format) in [(&exact, WeightFormat::F32), (&halves, WeightFormat::F16), (&brains, WeightFormat::Bf16)] {
            let matrix = gpu.upload(rows, cols, data).map_err(fail("upload"))?;
            if matrix.format() != format {
                return Err(format!("{rows}x{cols}: kept as {:?}, expected {format:?}", matrix.format()));
            }
            let y = gpu.product(&matrix, &x).map_err(fail("product"))?;
            for (r, (got, row)) in y.iter().zip(data.chunks(cols)).enumerate() {
                let cpu: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
                if (got - cpu).abs() > tolerance(row, &x) {
                    return Err(format!("{rows}x{cols} {format:?} row {r}: GPU {got}, CPU {cpu}, beyond the tolerance"));
                }
            }
        }
        let w: Vec<i8> = (0..rows * cols).map(|i| (i as i64 * 7_919 % 256 - 128) as i8).collect();
        let xi: Vec<i8> = (0..cols).map(|i| (i as i64 * 31 % 256 - 128) as i8).collect();
        if gpu.product_i8(&w, rows, &xi).map_err(fail("int8 product"))? != mat_vec_i8(&w, &xi) {
            return Err(format!("{rows}x{cols}: int8 products differ"));
        }
    }
    let matrix = gpu.upload(2, 2, &[1.0; 4]).map_err(fail("upload"))?;
    if gpu.product(&matrix, &[1.0; 3]).is_ok() || gpu.upload(2, 2, &[1.0; 3]).is_ok() || gpu.product_i8(&[1; 3], 2, &[1; 2]).is_ok() {
        return Err("a malformed product was run instead of refused".into());
    }
    let config = LlamaConfig {
        hidden_size: 128,
        intermediate_size: 256,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: Some(2),
        vocab_size: 300,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        max_position_embeddings: 64,
        tie_word_embeddings: false,
    };
    let cpu = crate::compute::backend::llama::random::random_llama(&config, 5).map_err(fail("model"))?;
    let mut on_gpu = crate::compute::backend::llama::random::random_llama(&config, 5).map_err(fail("model"))?;
    let mut accelerator = GpuMatVec::load(card).map_err(fail("load"))?;
    let held = accelerator.attach(&on_gpu.matrices(), 0).map_err(fail("attach"))?;
    on_gpu.set_accelerator(Arc::new(accelerator));
    let (mut a, mut b) = (cpu.new_cache(), on_gpu.new_cache());
    let mut worst_seen = 0.0f32;
    for token in [1u32, 17, 250, 3] {
        let (x, y) = (cpu.forward(token, &mut a), on_gpu.forward(token, &mut b));
        let scale = x.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
        let worst = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max) / scale;
        worst_seen = worst_seen.max(worst);
        if worst > 1e-4 {
            return Err(format!("token {token}: logits differ by {worst:.2e} of their scale"));
        }
    }
    Ok(format!("matrix products: f32/f16/bf16 within the rounding bound, int8 identical, 4 shapes; a 2-layer Llama with {held} matrices on the GPU: logits within {worst_seen:.1e} of the CPU's scale"))
}
