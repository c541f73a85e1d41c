use super::*;

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

/// On a GPU host: products and a small Llama against the CPU (`gpu::selftest::matvec`, which
/// `zgnode bench gpu` also runs).
#[test]
fn gpu_products_match_the_cpu() {
    match crate::gpu::detect(0) {
        Ok(card) => match crate::gpu::selftest::matvec(&card) {
            Ok(covered) => eprintln!("{covered}"),
            Err(difference) => panic!("{difference}"),
        },
        Err(why) => eprintln!("skipped (runs on a GPU host): {why}"),
    }
}
