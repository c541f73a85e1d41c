//! `zgnode bench da`: a blob extended to its 2D Reed–Solomon square, against bare
//! reed-solomon-simd doing the same coding work on the same data in the same run: the `k`
//! original rows and then all `2k` columns, each `k` data shares to `k` parity shares, on the
//! same rayon pool. The node's extension adds the square's layout (the blob's length, padding,
//! the column copies); its commitments (a keccak leaf per share, a root per row and column, the
//! data root) are timed apart, against a bare keccak loop over the same shares.

use alloy_primitives::keccak256;
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
    pub bare_rs_s: f64,
    pub commit_s: f64,
    pub bare_keccak_s: f64,
    /// Rebuilding the square with its whole original quarter missing.
    pub repair_s: f64,
    /// Checking one bad-encoding fraud proof, and its size in bytes.
    pub fraud_check_s: f64,
    pub fraud_proof_bytes: usize,
    pub share_verify_us: f64,
}

impl DaEncodeReport {
    pub fn extend_mb_s(&self) -> f64 {
        self.blob_bytes as f64 / 1e6 / self.extend_s
    }
    pub fn bare_mb_s(&self) -> f64 {
        self.blob_bytes as f64 / 1e6 / self.bare_rs_s
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

/// Two runs timed turn about, so a noisy neighbour or a frequency change hits both alike; the
/// medians of each.
fn timed_pair<A, B>(rounds: usize, mut first: impl FnMut() -> A, mut second: impl FnMut() -> B) -> (f64, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        a.push(timed(1, &mut first));
        b.push(timed(1, &mut second));
    }
    (median(a), median(b))
}

/// The same coding work with reed-solomon-simd alone: `k` rows, then `2k` columns (each column
/// gathered from the rows above it, as any 2D extension must).
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

pub fn encode(blob_bytes: usize, rounds: usize) -> anyhow::Result<DaEncodeReport> {
    let data = blob(blob_bytes);
    let layout = SquareLayout::for_blob(data.len())?;
    let (_, original) = zg_components::da::square::original_square(&data)?;
    let square = encoding::extend_blob(&data)?;
    let (extend_s, bare_rs_s) =
        timed_pair(rounds, || encoding::extend_blob(&data).map(|s| s.data.len()), || bare_extension(layout.k, &original).len());
    let commit_s = timed(rounds, || square.commit().data_root());
    let bare_keccak_s = timed(rounds, || square.data.par_chunks(SHARE_SIZE).map(keccak256).count());

    let width = layout.width();
    let k = layout.k;
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
        commit_s,
        bare_keccak_s,
        repair_s,
        fraud_check_s,
        fraud_proof_bytes,
        share_verify_us,
    })
}
