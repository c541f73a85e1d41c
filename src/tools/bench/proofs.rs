//! `zgnode bench proofs`: halo2 proofs of the reference int8 models (`assets/models/digits`):
//! key generation, proving, verification and proof size, against the same inference run
//! plainly on the CPU in the same process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zg_components::verifiable::{ModelFile, QuantizedModel};
use zg_systems::verifiable::{circuit, inference};

pub use crate::compute::verifiable::{LARGE_MODEL, SMALL_MODEL};

#[derive(Clone, Debug)]
pub struct ProofFigures {
    pub model: String,
    pub parameters: usize,
    pub k: u32,
    pub setup: Duration,
    pub prove: Duration,
    pub verify: Duration,
    pub proof_bytes: usize,
    pub inference: Duration,
    /// Deriving the verifying key alone (what the precompile does for a model it has not seen).
    pub derive_key: Duration,
    /// The IPA parameters for `2^k` rows (made once per `k` and kept).
    pub make_params: Duration,
    /// The precompile's whole verify operation with the key already derived, and its gas.
    pub precompile_warm: Duration,
    pub precompile_gas: u64,
}

/// The chain's time-to-gas rate, measured here: ecrecover's 3,000 gas over its time.
#[derive(Clone, Copy, Debug)]
pub struct GasRate {
    pub ecrecover: Duration,
}

impl GasRate {
    pub fn nanos_per_gas(&self) -> f64 {
        self.ecrecover.as_nanos() as f64 / 3_000.0
    }

    /// The gas `time` is worth at ecrecover's price.
    pub fn gas_for(&self, time: Duration) -> f64 {
        time.as_nanos() as f64 / self.nanos_per_gas()
    }
}

pub fn gas_rate() -> GasRate {
    use alloy_signer::SignerSync;
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&alloy_primitives::B256::repeat_byte(7)).expect("a valid key");
    let hash = alloy_primitives::B256::repeat_byte(9);
    let signature = signer.sign_hash_sync(&hash).expect("signing");
    let mut input = hash.to_vec();
    input.extend_from_slice(&alloy_primitives::U256::from(27 + u64::from(signature.v())).to_be_bytes::<32>());
    input.extend_from_slice(&signature.r().to_be_bytes::<32>());
    input.extend_from_slice(&signature.s().to_be_bytes::<32>());
    let runs = 2_000;
    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(revm::precompile::secp256k1::ec_recover_run(std::hint::black_box(&input), 10_000).ok());
    }
    GasRate { ecrecover: started.elapsed() / runs }
}

fn precompile_input(model: &QuantizedModel, vk_hash: &[u8; 32], public: &[circuit::Fp], proof: &[u8]) -> anyhow::Result<Vec<u8>> {
    use zg_systems::verifiable::precompile::{field_to_word, verify_call};
    let bytes = zg_components::verifiable::wire::encode_model(model)?;
    Ok(verify_call(vk_hash, &bytes, &public.iter().map(field_to_word).collect::<Vec<_>>(), proof))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn proofs(runs: usize) -> anyhow::Result<Vec<ProofFigures>> {
    let mut out = Vec::new();
    for text in [SMALL_MODEL, LARGE_MODEL] {
        let file: ModelFile = serde_json::from_str(text)?;
        let model: Arc<QuantizedModel> = Arc::new(file.model);
        anyhow::ensure!(!file.test.inputs.is_empty(), "the model file has no held-out inputs");
        let input = file.test.inputs[0].clone();
        let started = Instant::now();
        let keys = circuit::setup(&model)?;
        let setup = started.elapsed();
        let (mut proving, mut verifying, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        let mut proof_bytes = 0;
        // Each proof of a different held-out digit, as EZKL's side proves them.
        for run in 0..runs.max(1) {
            let digit = &file.test.inputs[run % file.test.inputs.len()];
            let started = Instant::now();
            let (proof, public) = circuit::prove(&keys, &model, digit)?;
            proving.push(started.elapsed());
            proof_bytes = proof.len();
            for _ in 0..5 {
                let started = Instant::now();
                circuit::verify(&keys.params, keys.vk(), &public, &proof)?;
                verifying.push(started.elapsed());
            }
            let started = Instant::now();
            for _ in 0..1000 {
                std::hint::black_box(inference::infer(&model, std::hint::black_box(digit))?);
            }
            plain.push(started.elapsed() / 1000);
        }
        let started = Instant::now();
        let (_, vk) = circuit::verifying_key(&model)?;
        let derive_key = started.elapsed();
        let started = Instant::now();
        std::hint::black_box(circuit::make_params(keys.k));
        let make_params = started.elapsed();
        let (proof, public) = circuit::prove(&keys, &model, &input)?;
        let call = precompile_input(&model, &circuit::vk_hash(&vk), &public, &proof)?;
        // As on a chain where the model is registered: its key derived ahead (nodes derive only
        // registered models' keys, never on a verification's path).
        zg_systems::verifiable::precompile::warm(&zg_components::verifiable::wire::encode_model(&model)?);
        let first = zg_systems::verifiable::precompile::verify_inference(&call, u64::MAX).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        anyhow::ensure!(first.bytes.last() == Some(&1), "the precompile refused a true proof");
        let mut warm = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            std::hint::black_box(zg_systems::verifiable::precompile::verify_inference(&call, u64::MAX).ok());
            warm.push(started.elapsed());
        }
        out.push(ProofFigures {
            derive_key,
            make_params,
            precompile_warm: median(warm),
            precompile_gas: first.gas_used,
            model: model.name.clone(),
            parameters: file.parameters,
            k: keys.k,
            setup,
            prove: median(proving),
            verify: median(verifying),
            proof_bytes,
            inference: median(plain),
        });
    }
    Ok(out)
}

/// One batched-settlement proof size: its circuit and costs.
#[derive(Clone, Debug)]
pub struct BatchFigures {
    pub requests: usize,
    pub k: u32,
    pub setup: Duration,
    pub prove: Duration,
    pub verify: Duration,
    pub proof_bytes: usize,
}

impl BatchFigures {
    /// What verifying it on chain would cost at this chain's gas rate (the rate the inference
    /// precompile is priced at), plus its calldata (16 gas a byte: proof and six public words)
    /// and one user signature and nonce/balance update (~30k, as a settlement contract needs).
    pub fn chain_gas(&self, rate: &GasRate) -> f64 {
        rate.gas_for(self.verify) + 16.0 * (self.proof_bytes + 6 * 32) as f64 + 30_000.0
    }
}

fn batch_once<const N: usize, const L: usize>(runs: usize) -> anyhow::Result<BatchFigures> {
    use zg_systems::verifiable::batch::{self, RequestRecord};
    let started = Instant::now();
    let keys = batch::setup::<N, L>()?;
    let setup = started.elapsed();
    let records: [RequestRecord; N] = std::array::from_fn(|i| RequestRecord { nonce: 1 + i as u64, tokens: 300 + i as u32, price: 1_000_000_000 });
    let (mut proving, mut verifying, mut proof_bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let (proof, public) = batch::prove::<N, L>(&keys, [1; 20], [2; 20], 0, records)?;
        proving.push(started.elapsed());
        proof_bytes = proof.len();
        for _ in 0..5 {
            let started = Instant::now();
            batch::verify(&keys, &public, &proof)?;
            verifying.push(started.elapsed());
        }
    }
    Ok(BatchFigures { requests: N, k: keys.k, setup, prove: median(proving), verify: median(verifying), proof_bytes })
}

/// The batched-settlement circuit at 8, 16, 32 and 64 requests.
pub fn batch_figures(runs: usize) -> anyhow::Result<Vec<BatchFigures>> {
    Ok(vec![batch_once::<8, 10>(runs)?, batch_once::<16, 18>(runs)?, batch_once::<32, 34>(runs)?, batch_once::<64, 66>(runs)?])
}
