use super::*;
use crate::compute::backend::llama::model::{Llama, LlamaConfig};

#[test]
fn the_matvec_kernels_compile_with_nvrtc() {
    match crate::gpu::compile(KERNEL_SOURCE) {
        Ok(ptx) => {
            let text = ptx.to_src();
            for kernel in ["matvec_f32", "matvec_f16", "matvec_bf16", "matvec_i8"] {
                assert!(text.contains(kernel), "{kernel} missing from the PTX");
            }
        }
        Err(GpuError::Absent(why)) if std::env::var("ZG_REQUIRE_NVRTC").is_err() => eprintln!("skipped: {why}"),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn weights_keep_the_narrowest_exact_format() {
    assert_eq!(exact_format(&[1.0, -2.5, 0.0, 2f32.powi(100)]), WeightFormat::Bf16);
    assert_eq!(exact_format(&[1.0, 0.333_251_95]), WeightFormat::F16, "an f16 value bf16 cannot hold");
    assert_eq!(exact_format(&[1.0, 0.1]), WeightFormat::F32);
    assert_eq!(exact_format(&[]), WeightFormat::Bf16);
    assert_eq!(mat_vec_i8(&[1, -2, 127, -128], &[3, 4]), vec![-5, -131]);
    assert_eq!(mat_vec_i8(&[-128; 4], &[-128; 4]), vec![65_536]);
    assert!(tolerance(&[1.0; 64], &[1.0; 64]) > 0.0);
}

fn gpu() -> Option<Gpu> {
    match crate::gpu::detect(0) {
        Ok(gpu) => Some(gpu),
        Err(why) => {
            eprintln!("skipped (runs on a GPU host): {why}");
            None
        }
    }
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

/// On a GPU host: f32, f16 and bf16 products within the stated tolerance of the CPU's; int8
/// products identical; bad shapes refused.
#[test]
fn gpu_products_match_the_cpu() {
    let Some(card) = gpu() else { return };
    let gpu = GpuMatVec::load(&card).expect("kernels load");
    for (rows, cols) in [(1, 1), (7, 33), (300, 1000), (4096, 512)] {
        let x = values(cols, 9);
        let exact = values(rows * cols, 3);
        let halves: Vec<f32> = exact.iter().map(|v| half::f16::from_f32(*v).to_f32()).collect();
        let brains: Vec<f32> = exact.iter().map(|v| half::bf16::from_f32(*v).to_f32()).collect();
        for (data, format) in [(&exact, WeightFormat::F32), (&halves, WeightFormat::F16), (&brains, WeightFormat::Bf16)] {
            let matrix = gpu.upload(rows, cols, data).expect("uploads");
            assert_eq!(matrix.format(), format);
            let y = gpu.product(&matrix, &x).expect("multiplies");
            for (r, (got, row)) in y.iter().zip(data.chunks(cols)).enumerate() {
                let cpu: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
                assert!((got - cpu).abs() <= tolerance(row, &x), "{rows}x{cols} {format:?} row {r}: {got} vs {cpu}");
            }
        }
        let w: Vec<i8> = (0..rows * cols).map(|i| (i as i64 * 7_919 % 256 - 128) as i8).collect();
        let xi: Vec<i8> = (0..cols).map(|i| (i as i64 * 31 % 256 - 128) as i8).collect();
        assert_eq!(gpu.product_i8(&w, rows, &xi).expect("multiplies"), mat_vec_i8(&w, &xi));
    }
    let matrix = gpu.upload(2, 2, &[1.0; 4]).expect("uploads");
    assert!(gpu.product(&matrix, &[1.0; 3]).is_err());
    assert!(gpu.upload(2, 2, &[1.0; 3]).is_err());
    assert!(gpu.product_i8(&[1; 3], 2, &[1; 2]).is_err());
}

/// On a GPU host: a model whose every matrix is on the card gives the CPU's logits within the
/// tolerance, token after token.
#[test]
fn gpu_llama_logits_match_the_cpu() {
    let Some(card) = gpu() else { return };
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
    let cpu = crate::bench::llm::random_llama(&config, 5).expect("builds");
    let mut on_gpu = crate::bench::llm::random_llama(&config, 5).expect("builds");
    let mut accelerator = GpuMatVec::load(&card).expect("kernels load");
    assert_eq!(accelerator.attach(&on_gpu.matrices(), 0).expect("uploads"), 2 * 7 + 1);
    on_gpu.set_accelerator(Arc::new(accelerator));
    let (mut a, mut b) = (cpu.new_cache(), on_gpu.new_cache());
    for token in [1u32, 17, 250, 3] {
        let (x, y) = (cpu.forward(token, &mut a), on_gpu.forward(token, &mut b));
        let scale = x.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
        let worst = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "token {token}: logits differ by {worst} (scale {scale})");
    }
    let _: &Llama = &cpu;
}
