//! `zgnode bench da`: a blob extended to its 2D Reed–Solomon square, against bare
//! reed-solomon-simd doing the same coding work on the same data in the same run: the `k`
//! original rows and then all `2k` columns, each `k` data shares to `k` parity shares, on the
//! same rayon pool. The node's extension adds the square's layout (the blob's length, padding,
//! the column copies); its commitments (a SHA-256 leaf per share, a root per row and column, the
//! data root) are timed apart, against a bare SHA-256 loop over the same shares.

use sha2::{Digest, Sha256};
use rayon::prelude::*;
use std::time::Instant;

use zg_components::da::{SHARE_SIZE, SquareLayout};
use zg_systems::da::encoding;

#[derive(Clone, Debug)]
pub struct DaEncodeReport {
    pub blob_bytes: usize,
    pub k: usize,
    /// Median seconds per run.
    pub extend_s: f64,
    /// Bare reed-solomon-simd, naive: a new encoder and new buffers per shard set.
    pub bare_rs_s: f64,
    /// Bare reed-solomon-simd with the node's advantages: encoders reused per thread, parity
    /// written into the same square layout, each column its own codeword.
    pub bare_fair_s: f64,
    /// The same, with each stripe of columns coded as one codeword of wide shards.
    pub bare_striped_s: f64,
    pub commit_s: f64,
    pub bare_sha256_s: f64,
    /// Rebuilding the square with its whole original quarter missing.
    pub repair_s: f64,
    /// Checking one bad-encoding fraud proof, and its size in bytes.
    pub fraud_check_s: f64,
    pub fraud_proof_bytes: usize,
    pub share_verify_us: f64,
}

impl DaEncodeReport {
    pub fn mb_s(&self, seconds: f64) -> f64 {
        self.blob_bytes as f64 / 1e6 / seconds
    }
}

fn blob(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i * 131 + 7) % 251) as u8).collect()
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[runs.len() / 2]
}

fn timed<T>(rounds: usize, mut run: impl FnMut() -> T) -> f64 {
    median(
        (0..rounds.max(1))
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(run());
                started.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Runs timed turn about, so a noisy neighbour or a frequency change hits all alike; the
/// medians of each.
fn timed_in_turn(rounds: usize, runs: &mut [&mut dyn FnMut() -> usize]) -> Vec<f64> {
    let mut times = vec![Vec::new(); runs.len()];
    for _ in 0..rounds.max(1) {
        for (run, seen) in runs.iter_mut().zip(&mut times) {
            seen.push(timed(1, &mut **run));
        }
    }
    times.into_iter().map(median).collect()
}

/// The same coding work with reed-solomon-simd alone: `k` rows, then `2k` columns (each column
/// gathered from the rows above it, as any 2D extension must), written the naive way: a new
/// encoder and a new buffer per shard set (what the bench compared against until 2026-12).
fn bare_extension(k: usize, original: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let rows: Vec<Vec<Vec<u8>>> = original
        .par_chunks(k * SHARE_SIZE)
        .map(|row| reed_solomon_simd::encode(k, k, row.chunks(SHARE_SIZE)).expect("supported"))
        .collect();
    (0..2 * k)
        .into_par_iter()
        .map(|c| {
            let column: Vec<&[u8]> = (0..k)
                .map(|r| if c < k { &original[(r * k + c) * SHARE_SIZE..(r * k + c + 1) * SHARE_SIZE] } else { &rows[r][c - k][..] })
                .collect();
            reed_solomon_simd::encode(k, k, column).expect("supported")
        })
        .collect()
}

/// An encoder for `k + k` shards of `bytes`, the thread's own reset when it has one.
fn thread_encoder(slot: &mut Option<reed_solomon_simd::ReedSolomonEncoder>, k: usize, bytes: usize) -> &mut reed_solomon_simd::ReedSolomonEncoder {
    match slot {
        Some(encoder) => {
            encoder.reset(k, k, bytes).expect("supported");
            encoder
        }
        None => slot.insert(reed_solomon_simd::ReedSolomonEncoder::new(k, k, bytes).expect("supported")),
    }
}

/// The fair baseline: bare reed-solomon-simd with the node's advantages — one encoder per
/// worker thread, reset between codewords, every parity share written once straight into a
/// `2k × 2k` square laid out as the node's (rows, then columns in stripes of the square handed
/// to the workers), each column its own codeword. With `stripes_as_codewords`, a stripe of
/// columns is coded as one codeword of wide shards instead (reed-solomon-simd codes each 64-byte
/// piece on its own, so it is the same parity): the node's way until 2026-12, measured slower.
fn bare_square(k: usize, original: &[u8], stripes_as_codewords: bool) -> Vec<u8> {
    let width = 2 * k;
    let row_bytes = width * SHARE_SIZE;
    let half = k * SHARE_SIZE;
    let mut square = vec![0u8; width * row_bytes];
    let (top, bottom) = square.split_at_mut(k * row_bytes);
    top.par_chunks_mut(row_bytes).enumerate().for_each_init(
        || None,
        |slot, (r, row)| {
            let (data, parity) = row.split_at_mut(half);
            data.copy_from_slice(&original[r * half..(r + 1) * half]);
            let encoder = thread_encoder(slot, k, SHARE_SIZE);
            for share in data.chunks(SHARE_SIZE) {
                encoder.add_original_shard(share).expect("supported");
            }
            let result = encoder.encode().expect("supported");
            for (out, shard) in parity.chunks_mut(SHARE_SIZE).zip(result.recovery_iter()) {
                out.copy_from_slice(shard);
            }
        },
    );
    let top: &[u8] = top;
    let stripe_shares = width.div_ceil(rayon::current_num_threads() * 4).max(1);
    let stripe_bytes = stripe_shares * SHARE_SIZE;
    let mut stripes: Vec<Vec<&mut [u8]>> = (0..width.div_ceil(stripe_shares)).map(|_| Vec::with_capacity(k)).collect();
    for row in bottom.chunks_mut(row_bytes) {
        for (stripe, piece) in stripes.iter_mut().zip(row.chunks_mut(stripe_bytes)) {
            stripe.push(piece);
        }
    }
    stripes.into_par_iter().enumerate().for_each_init(
        || None,
        |slot, (s, mut pieces)| {
            let first = s * stripe_shares * SHARE_SIZE;
            let bytes = pieces.first().map_or(0, |piece| piece.len());
            let codewords: Vec<(usize, usize)> =
                if stripes_as_codewords { vec![(0, bytes)] } else { (0..bytes / SHARE_SIZE).map(|c| (c * SHARE_SIZE, SHARE_SIZE)).collect() };
            for (offset, len) in codewords {
                let encoder = thread_encoder(slot, k, len);
                for r in 0..k {
                    let at = r * row_bytes + first + offset;
                    encoder.add_original_shard(&top[at..at + len]).expect("supported");
                }
                let result = encoder.encode().expect("supported");
                for (piece, shard) in pieces.iter_mut().zip(result.recovery_iter()) {
                    piece[offset..offset + len].copy_from_slice(shard);
                }
            }
        },
    );
    square
}

pub fn encode(blob_bytes: usize, rounds: usize) -> anyhow::Result<DaEncodeReport> {
    let data = blob(blob_bytes);
    let layout = SquareLayout::for_blob(data.len())?;
    let (_, original) = zg_components::da::square::original_square(&data)?;
    let square = encoding::extend_blob(&data)?;
    // The baselines code the same square the node does.
    for stripes_as_codewords in [false, true] {
        anyhow::ensure!(bare_square(layout.k, &original, stripes_as_codewords) == square.data, "the bare square differs from the node's");
    }
    let k = layout.k;
    let times = timed_in_turn(
        rounds,
        &mut [
            &mut || encoding::extend_blob(&data).map_or(0, |s| s.data.len()),
            &mut || bare_extension(k, &original).len(),
            &mut || bare_square(k, &original, false).len(),
            &mut || bare_square(k, &original, true).len(),
        ],
    );
    let [extend_s, bare_rs_s, bare_fair_s, bare_striped_s] = times[..] else { anyhow::bail!("four runs timed") };
    let commit_s = timed(rounds, || square.commit().data_root());
    let bare_sha256_s = timed(rounds, || square.data.par_chunks(SHARE_SIZE).map(Sha256::digest).count());

    let width = layout.width();
    let held: Vec<Option<Vec<u8>>> = (0..width * width)
        .map(|i| (i / width >= k || i % width >= k).then(|| square.share(i / width, i % width).map(<[u8]>::to_vec).unwrap_or_default()))
        .collect();
    let repair_s = timed(rounds.min(3), || encoding::rebuild_square(layout, &held).map(|s| s.data.len()));
    anyhow::ensure!(encoding::rebuild_square(layout, &held)? == square, "the repaired square differs");

    // A square with one parity share changed and committed as it is: its row's fraud proof.
    let mut bad = square.clone();
    let at = (width - 1) * SHARE_SIZE;
    bad.data[at] ^= 0x5a;
    let bad_roots = bad.commit();
    let proof = encoding::prove_bad_encoding(&bad, &bad_roots, zg_components::da::Axis::Row, 0)?
        .ok_or_else(|| anyhow::anyhow!("the corrupted row was not caught"))?;
    let fraud_check_s = timed(rounds, || encoding::check_bad_encoding(&proof).is_ok());
    anyhow::ensure!(encoding::check_bad_encoding(&proof).is_ok(), "the fraud proof was refused");
    let fraud_proof_bytes = 32 * 2
        + proof.accused_proof.lemma.len() * 32
        + proof
            .shares
            .iter()
            .map(|(share, p)| share.len() + (p.to_axis.lemma.len() + p.to_data_root.lemma.len() + 1) * 32)
            .sum::<usize>();

    let leaves = square.leaf_hashes();
    let roots = zg_components::da::AxisRoots::from_leaf_hashes(layout, &leaves);
    let data_tree = roots.tree();
    let data_root = roots.data_root_with(&data_tree);
    let proofs: Vec<_> = (0..256)
        .map(|i| {
            let (r, c) = ((i * 7919) % width, (i * 104_729) % width);
            encoding::share_proof(&square, &roots, &data_tree, &leaves, r, c, zg_components::da::Axis::Row).map(|p| (r, c, p))
        })
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for (r, c, proof) in &proofs {
        proof.verify(&data_root, layout, square.share(*r, *c).unwrap_or_default())?;
    }
    let share_verify_us = started.elapsed().as_secs_f64() * 1e6 / proofs.len() as f64;

    Ok(DaEncodeReport {
        blob_bytes,
        k,
        extend_s,
        bare_rs_s,
        bare_fair_s,
        bare_striped_s,
        commit_s,
        bare_sha256_s,
        repair_s,
        fraud_check_s,
        fraud_proof_bytes,
        share_verify_us,
    })
}

pub fn print(r: &DaEncodeReport, rounds: usize) {
    let width = 2 * r.k;
    println!("da: a {} byte blob as a {k}×{k} square of 256-byte shares, extended to {width}×{width} (median of {rounds} runs, all cores, timed in turn)", r.blob_bytes, k = r.k);
    println!("  extend   {:>8.1} ms  {:>7.0} MB/s of blob (the node: encoders reused per thread, parity written in place, each column its own codeword)", r.extend_s * 1e3, r.mb_s(r.extend_s));
    println!(
        "  bare reed-solomon-simd, the same {} row and {width} column codes on the same pool and the same square layout, encoders reused per thread: {:>8.1} ms {:>7.0} MB/s | ratio node/bare {:.2}",
        r.k,
        r.bare_fair_s * 1e3,
        r.mb_s(r.bare_fair_s),
        r.bare_fair_s / r.extend_s
    );
    println!(
        "  the same, a stripe of columns coded as one codeword of wide shards: {:>8.1} ms {:>7.0} MB/s | ratio node/bare {:.2}",
        r.bare_striped_s * 1e3,
        r.mb_s(r.bare_striped_s),
        r.bare_striped_s / r.extend_s
    );
    println!(
        "  (naive: a new encoder and buffers per codeword, as compared until 2026-12: {:.1} ms {:.0} MB/s | ratio {:.2})",
        r.bare_rs_s * 1e3,
        r.mb_s(r.bare_rs_s),
        r.bare_rs_s / r.extend_s
    );
    println!(
        "  commit   {:>8.1} ms  (a SHA-256 leaf per share, {} axis roots, the data root) | bare SHA-256 over the same {} shares: {:.1} ms | ratio {:.2}",
        r.commit_s * 1e3,
        2 * width,
        width * width,
        r.bare_sha256_s * 1e3,
        r.bare_sha256_s / r.commit_s
    );
    println!("  extend + commit {:.1} ms: {:.0} MB/s of blob", (r.extend_s + r.commit_s) * 1e3, r.mb_s(r.extend_s + r.commit_s));
    println!("  repair with the original quarter missing: {:.1} ms", r.repair_s * 1e3);
    println!("  a share's proof checked (to its row root, that root to the data root): {:.1} µs", r.share_verify_us);
    println!("  a bad-encoding fraud proof: {} bytes ({} shares with proofs), checked in {:.2} ms", r.fraud_proof_bytes, r.k, r.fraud_check_s * 1e3);
}
