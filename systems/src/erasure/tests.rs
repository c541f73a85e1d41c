use std::collections::BTreeMap;

use proptest::prelude::*;

use super::program::{self, ProgramError, derivative_sources, symbol_offsets};
use super::twin;

fn shards(count: usize, bytes: usize, seed: u64) -> Vec<Vec<u8>> {
    twin::sample_bytes(count * bytes.max(1), seed).chunks(bytes.max(1)).map(<[u8]>::to_vec).collect()
}

fn twin_encode(k: usize, m: usize, originals: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let program = program::encode(k, m, originals[0].len()).expect("supported");
    let inputs: Vec<&[u8]> = originals.iter().map(Vec::as_slice).collect();
    twin::run(&program, &inputs).expect("runs")
}

fn check_round_trip(k: usize, m: usize, bytes: usize, seed: u64, lost: &[bool]) {
    let originals = shards(k, bytes, seed);
    let expected = reed_solomon_simd::encode(k, m, &originals).expect("reed-solomon-simd encodes");
    let recovery = twin_encode(k, m, &originals);
    assert_eq!(recovery, expected, "{k}+{m} shards of {bytes} bytes: recovery shards differ");

    let present_originals: Vec<bool> = (0..k).map(|i| !lost[i]).collect();
    let present_recovery: Vec<bool> = (0..m).map(|i| !lost[k + i]).collect();
    let program = program::decode(&present_originals, &present_recovery, bytes).expect("enough shards");
    let inputs: Vec<&[u8]> = (0..k)
        .filter(|i| present_originals[*i])
        .map(|i| originals[i].as_slice())
        .chain((0..m).filter(|i| present_recovery[*i]).map(|i| expected[i].as_slice()))
        .collect();
    let restored = twin::run(&program, &inputs).expect("runs");
    let reference: BTreeMap<usize, Vec<u8>> = reed_solomon_simd::decode(
        k,
        m,
        (0..k).filter(|i| present_originals[*i]).map(|i| (i, &originals[i])),
        (0..m).filter(|i| present_recovery[*i]).map(|i| (i, &expected[i])),
    )
    .expect("reed-solomon-simd decodes");
    let missing: Vec<usize> = (0..k).filter(|i| !present_originals[*i]).collect();
    assert_eq!(restored.len(), missing.len());
    for (index, shard) in missing.iter().zip(&restored) {
        assert_eq!(shard, &originals[*index], "{k}+{m}/{bytes}: original {index} not restored");
        assert_eq!(Some(shard), reference.get(index));
    }
}

/// Loses `lose` shards of `k + m` (at most `m`), chosen by the seed.
fn loss_pattern(k: usize, m: usize, lose: usize, seed: u64) -> Vec<bool> {
    let mut lost = vec![false; k + m];
    let mut state = seed | 1;
    let mut left = lose.min(m);
    while left > 0 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let at = (state >> 33) as usize % (k + m);
        if !lost[at] {
            lost[at] = true;
            left -= 1;
        }
    }
    lost
}

/// The storage default (8+4), the DA squares' k+k, both rates, several chunks, partial chunks
/// and shard sizes with and without a tail under 64 bytes.
#[test]
fn the_twin_matches_reed_solomon_simd_on_the_shapes_the_node_uses() {
    for (k, m, bytes) in [(8, 4, 256), (8, 4, 1024), (4, 4, 512), (16, 16, 512), (1, 1, 2), (3, 200, 66), (200, 3, 130), (33, 31, 62), (5, 9, 64), (64, 64, 128)] {
        for (seed, lose) in [(1, m), (2, m / 2), (3, 1)] {
            check_round_trip(k, m, bytes, seed, &loss_pattern(k, m, lose, seed));
        }
    }
}

/// The largest DA square (k = 357, a 512-shard work array) and the squares just past 256 (where
/// the work array first doubles), and storage as a 4-validator testnet codes it (2+2): the
/// production shapes no other test reaches.
#[test]
fn the_twin_matches_reed_solomon_simd_on_the_largest_squares() {
    for (k, bytes) in [(crate::da::pieces::MAX_K as usize, 256), (257, 64)] {
        for (seed, lose) in [(11, k), (12, 1)] {
            check_round_trip(k, k, bytes, seed, &loss_pattern(k, k, lose, seed));
        }
    }
    check_round_trip(2, 2, 128 * 1024, 13, &loss_pattern(2, 2, 2, 13));
}

#[test]
fn losing_every_original_is_restored() {
    for (k, m) in [(4, 4), (3, 5), (6, 6), (8, 12)] {
        let lost: Vec<bool> = (0..k + m).map(|i| i < k).collect();
        check_round_trip(k, m, 192, 7, &lost);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// For random shard counts, sizes, data and loss patterns, the twin's recovery shards are
    /// reed-solomon-simd's and its decoding restores exactly the lost originals.
    #[test]
    fn the_twin_is_reed_solomon_simd(k in 1usize..48, m in 1usize..48, half_bytes in 1usize..100, seed in any::<u64>(), lose_seed in any::<u64>()) {
        let lose = (lose_seed % (m as u64 + 1)) as usize;
        check_round_trip(k, m, half_bytes * 2, seed, &loss_pattern(k, m, lose, lose_seed));
    }

    /// The derivative's closed form is reed-solomon-simd's sequential loop.
    #[test]
    fn the_formal_derivative_closed_form_is_the_loop(log_len in 0u32..9, seed in any::<u64>()) {
        let len = 1usize << log_len;
        let values: Vec<u64> = (0..len as u64).map(|i| (i + 1).wrapping_mul(seed | 1).rotate_left(i as u32)).collect();
        let mut looped = values.clone();
        for i in 1..len {
            let width = 1usize << i.trailing_zeros();
            for q in 0..width {
                looped[i - width + q] ^= looped[i + q];
            }
        }
        let closed: Vec<u64> = (0..len).map(|j| derivative_sources(j, len).fold(values[j], |acc, s| acc ^ values[s])).collect();
        prop_assert_eq!(closed, looped);
    }
}

#[test]
fn symbol_offsets_cover_every_byte_once() {
    for bytes in [2, 4, 62, 64, 66, 126, 128, 130, 256, 1000] {
        let mut seen = vec![false; bytes];
        for p in 0..bytes / 2 {
            let (lo, hi) = symbol_offsets(p, bytes);
            for at in [lo, hi] {
                assert!(!seen[at], "{bytes}: byte {at} twice");
                seen[at] = true;
            }
        }
        assert!(seen.iter().all(|s| *s), "{bytes}: a byte never addressed");
    }
}

#[test]
fn bad_shapes_are_refused_with_reasons() {
    assert!(matches!(program::encode(0, 4, 64), Err(ProgramError::UnsupportedShardCount { .. })));
    assert!(matches!(program::encode(4, 0, 64), Err(ProgramError::UnsupportedShardCount { .. })));
    assert!(matches!(program::encode(40_000, 40_000, 64), Err(ProgramError::UnsupportedShardCount { .. })));
    assert!(matches!(program::encode(4, 4, 63), Err(ProgramError::ShardBytes(63))));
    assert!(matches!(program::encode(4, 4, 0), Err(ProgramError::ShardBytes(0))));
    let too_few = program::decode(&[true, false, false], &[true], 64);
    assert_eq!(too_few, Err(ProgramError::NotEnoughShards { have: 2, need: 3 }));
    let whole = program::decode(&[true, true], &[false], 64).expect("nothing to restore");
    assert!(whole.outputs.is_empty() && whole.steps.is_empty());
    let program = program::encode(2, 2, 64).expect("supported");
    assert!(twin::run(&program, &[&[0u8; 64]]).is_err(), "one input of two");
    assert!(twin::run(&program, &[&[0u8; 64], &[0u8; 62]]).is_err(), "a short shard");
}

/// The shapes at the code's edges: reed-solomon-simd supports them and so does the program.
#[test]
fn counts_at_the_fields_edge_are_accepted_like_reed_solomon_simd() {
    for (k, m) in [(65_535, 1), (1, 65_535), (32_768, 32_768), (32_769, 32_767)] {
        assert_eq!(program::encode(k, m, 2).is_ok(), reed_solomon_simd::ReedSolomonEncoder::new(k, m, 2).is_ok(), "{k}+{m}");
    }
}
