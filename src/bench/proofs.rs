//! `zgnode bench proofs`: halo2 proofs of the reference int8 models (`assets/models/digits`):
//! key generation, proving, verification and proof size, against the same inference run
//! plainly on the CPU in the same process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zg_components::verifiable::{ModelFile, QuantizedModel};
use zg_systems::verifiable::{circuit, inference};

pub const SMALL_MODEL: &str = include_str!("../../assets/models/digits/digits-small.json");
pub const LARGE_MODEL: &str = include_str!("../../assets/models/digits/digits-large.json");

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
        let input = file.test.inputs.first().ok_or_else(|| anyhow::anyhow!("the model file has no held-out inputs"))?.clone();
        let started = Instant::now();
        let keys = circuit::setup(&model)?;
        let setup = started.elapsed();
        let (mut proving, mut verifying, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        let mut proof_bytes = 0;
        for _ in 0..runs.max(1) {
            let started = Instant::now();
            let (proof, public) = circuit::prove(&keys, &model, &input)?;
            proving.push(started.elapsed());
            proof_bytes = proof.len();
            for _ in 0..5 {
                let started = Instant::now();
                circuit::verify(&keys.params, keys.vk(), &public, &proof)?;
                verifying.push(started.elapsed());
            }
            let started = Instant::now();
            for _ in 0..1000 {
                std::hint::black_box(inference::infer(&model, std::hint::black_box(&input))?);
            }
            plain.push(started.elapsed() / 1000);
        }
        out.push(ProofFigures {
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
