use super::*;
use zg_systems::erasure::program;

/// Every kernel compiles wherever NVRTC is installed (CI sets ZG_REQUIRE_NVRTC=1 with the
/// NVRTC wheel, so there a missing library fails instead of skipping).
#[test]
fn the_erasure_kernels_compile_with_nvrtc() {
    match crate::gpu::compile(KERNEL_SOURCE) {
        Ok(ptx) => {
            let text = ptx.to_src();
            for kernel in ["rs_butterflies", "rs_scale", "rs_shards", "rs_move", "rs_derivative"] {
                assert!(text.contains(kernel), "{kernel} missing from the PTX");
            }
        }
        Err(GpuError::Absent(why)) if std::env::var("ZG_REQUIRE_NVRTC").is_err() => eprintln!("skipped: {why}"),
        Err(error) => panic!("{error}"),
    }
}

fn gpu() -> Option<GpuErasure> {
    match crate::gpu::detect(0) {
        Ok(gpu) => Some(GpuErasure::load(&gpu).expect("the erasure kernels load")),
        Err(why) => {
            eprintln!("skipped (runs on a GPU host): {why}");
            None
        }
    }
}

fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// On a GPU host: a batch of codewords encoded and decoded on the GPU gives exactly
/// reed-solomon-simd's recovery shards and the lost originals, for the node's shapes and
/// odd ones (both rates, tails under 64 bytes, more codewords than one launch takes).
#[test]
fn gpu_shards_are_reed_solomon_simd_shards() {
    let Some(gpu) = gpu() else { return };
    for (k, m, bytes, codewords) in [(8, 4, 1024, 64), (16, 16, 512, 40), (3, 200, 66, 3), (200, 3, 130, 5), (33, 31, 62, 7), (1, 1, 2, 70_000)] {
        let data = random(k * bytes * codewords, (k * 31 + m) as u64);
        let encode = program::encode(k, m, bytes).expect("supported");
        let encode = gpu.prepare(&encode).expect("uploads");
        let recovery = gpu.run(&encode, &data).expect("GPU encodes");
        let pipelined = gpu.run_pipelined(&encode, &data, codewords.div_ceil(3)).expect("GPU encodes in chunks");
        assert_eq!(recovery, pipelined, "{k}+{m}: pipelined run differs");
        for c in 0..codewords {
            let originals: Vec<&[u8]> = data[c * k * bytes..(c + 1) * k * bytes].chunks(bytes).collect();
            let expected = reed_solomon_simd::encode(k, m, &originals).expect("encodes").concat();
            assert_eq!(&recovery[c * m * bytes..(c + 1) * m * bytes], expected.as_slice(), "{k}+{m}/{bytes}: codeword {c}");
        }
        // Lose the first min(k, m) originals; keep the rest and every recovery shard.
        let lost = k.min(m);
        let present: Vec<bool> = (0..k).map(|i| i >= lost).collect();
        let decode = program::decode(&present, &vec![true; m], bytes).expect("enough shards");
        let mut inputs = Vec::new();
        for c in 0..codewords {
            inputs.extend_from_slice(&data[c * k * bytes + lost * bytes..(c + 1) * k * bytes]);
            inputs.extend_from_slice(&recovery[c * m * bytes..(c + 1) * m * bytes]);
        }
        let restored = gpu.run(&gpu.prepare(&decode).expect("uploads"), &inputs).expect("GPU decodes");
        for c in 0..codewords {
            assert_eq!(&restored[c * lost * bytes..(c + 1) * lost * bytes], &data[c * k * bytes..c * k * bytes + lost * bytes], "{k}+{m}: codeword {c} not restored");
        }
    }
}

/// On a GPU host: random shapes and loss patterns, GPU against the CPU twin step for step.
#[test]
fn gpu_matches_the_twin_on_random_shapes() {
    let Some(gpu) = gpu() else { return };
    for seed in 0..40u64 {
        let (k, m) = (1 + (seed * 7 % 47) as usize, 1 + (seed * 13 % 53) as usize);
        let bytes = 2 * (1 + (seed * 29 % 300) as usize);
        let data = random(k * bytes, seed);
        let encode = program::encode(k, m, bytes).expect("supported");
        let originals: Vec<&[u8]> = data.chunks(bytes).collect();
        let twin = zg_systems::erasure::twin::run(&encode, &originals).expect("twin").concat();
        assert_eq!(gpu.run(&gpu.prepare(&encode).expect("uploads"), &data).expect("GPU"), twin, "seed {seed}: {k}+{m}/{bytes}");
        let present: Vec<bool> = (0..k + m).map(|i| !(i as u64 * 2_654_435_761 + seed).is_multiple_of(3)).collect();
        if present.iter().filter(|p| **p).count() < k {
            continue;
        }
        let decode = program::decode(&present[..k], &present[k..], bytes).expect("enough");
        let all: Vec<&[u8]> = originals.iter().copied().chain(twin.chunks(bytes)).collect();
        let inputs: Vec<&[u8]> = all.iter().zip(&present).filter(|(_, p)| **p).map(|(s, _)| *s).collect();
        let expected = zg_systems::erasure::twin::run(&decode, &inputs).expect("twin").concat();
        assert_eq!(gpu.run(&gpu.prepare(&decode).expect("uploads"), &inputs.concat()).expect("GPU"), expected, "seed {seed}: decode");
    }
}

#[test]
fn malformed_batches_are_refused_not_run() {
    let Some(gpu) = gpu() else { return };
    let encode = gpu.prepare(&program::encode(4, 2, 64).expect("supported")).expect("uploads");
    assert!(gpu.run(&encode, &[]).is_err());
    assert!(gpu.run(&encode, &[0u8; 255]).is_err());
    assert!(gpu.run_pipelined(&encode, &[0u8; 256], 0).is_err());
}
