//! `zgnode bench proofs`: halo2 inference proofs (and the batched settlement circuit) with
//! EZKL on the same models and digits in the same run when a Python with it is at hand;
//! `--plot` draws proving and verifying time beside EZKL's.

use std::path::PathBuf;

pub(super) async fn proofs(runs: usize, ezkl: Option<PathBuf>, no_ezkl: bool, plot: Option<PathBuf>) -> anyhow::Result<()> {
    // Whether EZKL runs, decided before any proving: a named Python without it is an
    // error; the default one without it is said after our figures.
    let ezkl = match no_ezkl {
        true => None,
        false => {
            let explicit = ezkl.is_some();
            let python = ezkl.unwrap_or_else(|| PathBuf::from("python3"));
            match crate::tools::bench::ezkl::check(&python) {
                Ok(()) => Some(Ok(python)),
                Err(error) if !explicit => Some(Err(error)),
                Err(error) => return Err(error.into()),
            }
        }
    };
    if plot.is_some()
        && let Some(Err(absent)) = &ezkl
    {
        anyhow::bail!("--plot draws proving time against EZKL's from the same run, and {absent}");
    }
    let figures = tokio::task::spawn_blocking(move || crate::tools::bench::proofs::proofs(runs)).await??;
    println!("proofs: halo2_proofs (PLONK, IPA over Pasta, no trusted setup), input private, Poseidon input commitment and logits public; median of {runs}");
    for f in &figures {
        println!(
            "  {} ({} parameters, 2^{} rows): keygen {:.2} s, prove {:.2} s, verify {:.1} ms, proof {} bytes | plain int8 inference {:.1} µs",
            f.model,
            f.parameters,
            f.k,
            f.setup.as_secs_f64(),
            f.prove.as_secs_f64(),
            f.verify.as_secs_f64() * 1e3,
            f.proof_bytes,
            f.inference.as_secs_f64() * 1e6
        );
    }
    let theirs = match ezkl {
        Some(Ok(python)) => compare_with_ezkl(&figures, python, runs).await?,
        Some(Err(absent)) => {
            println!("  {absent}");
            Vec::new()
        }
        None => Vec::new(),
    };
    crate::tools::bench::plot::save_if(plot, || crate::tools::bench::charts::proofs(&figures, &theirs))?;
    let rate = crate::tools::bench::proofs::gas_rate();
    println!("  gas rate here: ecrecover (3,000 gas) takes {:.1} µs = {:.1} ns per gas", rate.ecrecover.as_secs_f64() * 1e6, rate.nanos_per_gas());
    use zg_systems::verifiable::precompile::verify_gas;
    for f in &figures {
        println!(
            "  {} precompile: {} gas charged (verify {} + input words); measured: the whole call {:.1} ms = {:.0} gas at ecrecover's rate; deriving the key (ahead of time, unpriced) {:.1} ms = {:.0} gas; IPA parameters for 2^{} rows {:.2} s (once per size, kept)",
            f.model,
            f.precompile_gas,
            verify_gas(f.k),
            f.precompile_warm.as_secs_f64() * 1e3,
            rate.gas_for(f.precompile_warm),
            f.derive_key.as_secs_f64() * 1e3,
            rate.gas_for(f.derive_key),
            f.k,
            f.make_params.as_secs_f64()
        );
    }
    for (text, batch) in [(crate::tools::bench::proofs::SMALL_MODEL, 8), (crate::tools::bench::proofs::LARGE_MODEL, 4)] {
        let gas = tokio::task::spawn_blocking(move || crate::tools::bench::verified_chain::chain_gas(text, batch)).await??;
        let (one, many) = (gas.settle[0], gas.settle[1]);
        println!(
            "  {} on chain (a dev node in this process): register {} gas + {} 0G fee burnt; verifyInference in a transaction {} gas; VerifiedInference.settle {} result {} gas, {} results {} gas ({} a result)",
            gas.model,
            gas.register_gas,
            crate::compute::client::format_0g(gas.register_fee),
            gas.verify_gas,
            one.0,
            one.1,
            many.0,
            many.1,
            many.1 / many.0 as u64
        );
    }
    let batches = tokio::task::spawn_blocking(move || crate::tools::bench::proofs::batch_figures(runs)).await??;
    let signatures = tokio::task::spawn_blocking(|| crate::tools::bench::settlement::settlement(50)).await??;
    let per_signature = signatures.batch_per_request();
    println!(
        "  batched settlement circuit (N records of one user: nonce, tokens, price private; Poseidon commitment, floor/last nonce, total fee public) against InferenceServing's one signature a request ({per_signature:.0} gas a request in a batch of 50, measured now):"
    );
    let mut crossover = None;
    for b in &batches {
        let gas = b.chain_gas(&rate);
        let per_request = gas / b.requests as f64;
        if crossover.is_none() && per_request < per_signature {
            crossover = Some(b.requests);
        }
        println!(
            "    N = {:>2} (2^{} rows): keygen {:.2} s, prove {:.2} s, verify {:.1} ms, proof {} bytes -> on chain ~{:.0} gas = {:.0} a request ({:.2}x the signature path)",
            b.requests,
            b.k,
            b.setup.as_secs_f64(),
            b.prove.as_secs_f64(),
            b.verify.as_secs_f64() * 1e3,
            b.proof_bytes,
            gas,
            per_request,
            per_request / per_signature
        );
    }
    match crossover {
        Some(n) => println!("    crossover: a proof is cheaper than signatures from {n} requests a batch"),
        None => println!("    crossover: none up to 64 requests a batch (IPA verification grows with the circuit, so the per-request cost falls only slowly)"),
    }
    Ok(())
}

/// EZKL (present in `python`) on the same models and digits, same run.
async fn compare_with_ezkl(
    figures: &[crate::tools::bench::proofs::ProofFigures],
    python: PathBuf,
    runs: usize,
) -> anyhow::Result<Vec<crate::tools::bench::ezkl::EzklFigures>> {
    use crate::tools::bench::ezkl;
    let mut all = Vec::new();
    for (ours, text) in figures.iter().zip([crate::tools::bench::proofs::SMALL_MODEL, crate::tools::bench::proofs::LARGE_MODEL]) {
        let python = python.clone();
        let theirs = tokio::task::spawn_blocking(move || ezkl::run(&python, text, runs)).await??;
        ezkl::print(ours, &theirs);
        all.push(theirs);
    }
    Ok(all)
}

