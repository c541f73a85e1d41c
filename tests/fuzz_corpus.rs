//! The fuzz targets (`zgnode::tools::fuzz`) in the test suite: every committed seed under
//! `fuzz/corpus/<target>`, then a fixed budget of seeded mutations of them (bit flips, byte
//! overwrites, truncations, insertions, splices), so a run is the same every time and takes
//! seconds. Coverage-guided runs use the same targets under libFuzzer: see `fuzz/README.md`.

use std::path::PathBuf;

use zgnode::tools::seeded::SeededRng as Rng;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

trait BelowUsize {
    fn below_usize(&mut self, n: usize) -> usize;
}

impl BelowUsize for Rng {
    fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below_usize(4) {
        match rng.below_usize(6) {
            0 if !out.is_empty() => {
                let at = rng.below_usize(out.len());
                out[at] ^= 1 << rng.below_usize(8);
            }
            1 if !out.is_empty() => {
                let at = rng.below_usize(out.len());
                out[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below_usize(5)];
            }
            2 => out.truncate(rng.below_usize(out.len() + 1)),
            3 => {
                let at = rng.below_usize(out.len() + 1);
                let bytes: Vec<u8> = (0..1 + rng.below_usize(8)).map(|_| rng.next_u64() as u8).collect();
                out.splice(at..at, bytes);
            }
            4 if !out.is_empty() => {
                // A length or count field set huge.
                let at = rng.below_usize(out.len());
                let end = (at + 4).min(out.len());
                out[at..end].fill(0xff);
            }
            _ => {
                let cut = rng.below_usize(out.len() + 1);
                let from = rng.below_usize(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
        }
    }
    out
}

fn seeds_of(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target)).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files.into_iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn the_committed_corpus_holds_every_generated_seed() {
    let write = std::env::var("ZG_WRITE_CORPUS").is_ok_and(|v| v == "1");
    for (index, (target, seed)) in zgnode::tools::fuzz::seed_corpus().into_iter().enumerate() {
        let dir = corpus_dir(target);
        let hash = alloy_primitives::keccak256(&seed);
        let path = dir.join(format!("seed-{}", alloy_primitives::hex::encode(&hash[..8])));
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &seed).unwrap();
        }
        assert!(path.exists(), "seed {index} of {target} is missing from {} (regenerate: ZG_WRITE_CORPUS=1 cargo test --test fuzz_corpus)", dir.display());
    }
}

#[test]
fn every_target_survives_its_corpus_and_seeded_mutations() {
    for (name, target) in zgnode::tools::fuzz::TARGETS {
        let seeds = seeds_of(name);
        assert!(!seeds.is_empty(), "no seeds for {name}");
        for seed in &seeds {
            target(seed);
        }
        // The shard target rebuilds segments (reed-solomon + hashing) and the RPC target makes
        // HTTP requests: fewer rounds.
        let rounds = match *name {
            "shard" => 300,
            "rpc_request" => 400,
            // Decoding and re-encoding an axis, or a field-element parse and key lookup.
            "da_fraud_proof" | "verifier_input" => 1_000,
            _ => 3_000,
        };
        // A longer campaign by hand: ZG_FUZZ_ROUNDS_TIMES=50 (and ZG_FUZZ_SEED to vary it).
        let times: usize = std::env::var("ZG_FUZZ_ROUNDS_TIMES").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
        let rounds = rounds * times.max(1);
        let salt: u64 = std::env::var("ZG_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut rng = Rng::new(name.bytes().fold(salt, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
        for round in 0..rounds {
            let base = &seeds[rng.below_usize(seeds.len())];
            let other = &seeds[rng.below_usize(seeds.len())];
            let input = mutate(&mut rng, base, other);
            let outcome = std::panic::catch_unwind(|| target(&input));
            assert!(outcome.is_ok(), "{name} failed on mutation {round}: {}", alloy_primitives::hex::encode(&input[..input.len().min(512)]));
        }
    }
}
