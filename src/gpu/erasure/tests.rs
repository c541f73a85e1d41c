use super::*;

/// Every kernel compiles wherever NVRTC is installed (CI sets ZG_REQUIRE_NVRTC=1 with the
/// NVRTC wheel, so there a missing library fails instead of skipping).
#[test]
fn the_erasure_kernels_compile_with_nvrtc() {
    match crate::gpu::compile(KERNEL_SOURCE) {
        Ok(ptx) => {
            let text = ptx.to_src();
            for kernel in ["rs_butterflies", "rs_scale", "rs_shards", "rs_move", "rs_derivative", "rs_program"] {
                assert!(text.contains(kernel), "{kernel} missing from the PTX");
            }
        }
        Err(GpuError::Absent(why)) if std::env::var("ZG_REQUIRE_NVRTC").is_err() => eprintln!("skipped: {why}"),
        Err(error) => panic!("{error}"),
    }
}

/// On a GPU host: every erasure kernel against reed-solomon-simd and the CPU twin
/// (`gpu::selftest::erasure`, which `zgnode bench gpu` also runs).
#[test]
fn gpu_shards_are_reed_solomon_simd_shards() {
    match crate::gpu::detect(0) {
        Ok(card) => {
            let gpu = GpuErasure::load(&card).expect("the erasure kernels load");
            match crate::gpu::selftest::erasure(&gpu) {
                Ok(covered) => eprintln!("{covered}"),
                Err(difference) => panic!("{difference}"),
            }
        }
        Err(why) => eprintln!("skipped (runs on a GPU host): {why}"),
    }
}
