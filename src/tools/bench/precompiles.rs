//! `zgnode bench precompiles`: every precompile the chain adds, timed in the same run as
//! ecrecover (3,000 gas, the rate the chain's prices are pinned to), against the gas it
//! charges: a ratio above 1 means the precompile is underpriced at that rate.

use std::time::{Duration, Instant};

use zg_components::da::wire::encode_fraud_proof;
use zg_components::da::{Axis, SHARE_SIZE};
use zg_systems::chain::precompile::ed25519_verify;
use zg_systems::da::encoding::{extend_blob, prove_bad_encoding};
use zg_systems::da::precompile::check_fraud_proof;

use super::proofs::{GasRate, gas_rate};

/// One precompile input: what it charged and how long it took.
pub struct PrecompileFigure {
    pub name: String,
    pub charged_gas: u64,
    pub took: Duration,
}

impl PrecompileFigure {
    /// Measured cost over charged gas, at ecrecover's rate (above 1: underpriced).
    pub fn ratio(&self, rate: &GasRate) -> f64 {
        rate.gas_for(self.took) / self.charged_gas as f64
    }
}

fn time_per_call(runs: u32, mut call: impl FnMut()) -> Duration {
    call();
    let started = Instant::now();
    for _ in 0..runs {
        call();
    }
    started.elapsed() / runs
}

/// The ed25519 check on a true signature, and the DA fraud-proof check on true proofs against
/// badly encoded squares of several sizes (the work grows with k: decoding and re-encoding one
/// axis of 2k shares, k Merkle paths).
pub fn precompiles(runs: u32) -> anyhow::Result<(GasRate, Vec<PrecompileFigure>)> {
    let rate = gas_rate();
    let mut out = Vec::new();
    let key = malachite_ed25519::PrivateKey::from([3; 32]);
    let message = [7u8; 60];
    let mut input = key.public_key().as_bytes().to_vec();
    input.extend_from_slice(&key.sign(&message).to_bytes());
    input.extend_from_slice(&message);
    let charged = ed25519_verify(&input, u64::MAX).map_err(|e| anyhow::anyhow!("{e:?}"))?.gas_used;
    let took = time_per_call(runs.max(1) * 50, || {
        std::hint::black_box(ed25519_verify(std::hint::black_box(&input), u64::MAX).ok());
    });
    out.push(PrecompileFigure { name: "ed25519 verify (0x..ed25, an attestation's 60 bytes)".into(), charged_gas: charged, took });
    for blob_bytes in [1_400usize, 60_000, 1_000_000, 8_000_000] {
        let mut square = extend_blob(&vec![5u8; blob_bytes])?;
        let width = square.layout.width();
        square.data[(2 * width - 1) * SHARE_SIZE] ^= 1;
        let roots = square.commit();
        let proof = prove_bad_encoding(&square, &roots, Axis::Row, 1)?.ok_or_else(|| anyhow::anyhow!("row 1 should be bad"))?;
        let input = encode_fraud_proof(&proof);
        let first = check_fraud_proof(&input, u64::MAX).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        anyhow::ensure!(first.bytes[31] == 1, "a true fraud proof was refused");
        let took = time_per_call(runs.max(1), || {
            std::hint::black_box(check_fraud_proof(std::hint::black_box(&input), u64::MAX).ok());
        });
        out.push(PrecompileFigure {
            name: format!("DA fraud proof (0x..da01), k = {}, {} bytes", square.layout.k, input.len()),
            charged_gas: first.gas_used,
            took,
        });
    }
    Ok((rate, out))
}
