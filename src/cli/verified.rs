//! `zgnode compute verified-ask` and `report-wrong`: a verifiable service from a user's side.

use std::path::Path;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;

use crate::compute::client::{MarketClient, format_0g};
use crate::compute::verifiable::client::{self, VerifiedAnswer};
use zg_components::verifiable::ModelFile;

/// The input: a held-out digit of the reference model, or 64 comma-separated int8 values.
fn input_of(digit: Option<usize>, input: Option<&str>) -> anyhow::Result<Vec<i8>> {
    match (digit, input) {
        (Some(digit), _) => {
            let file: ModelFile = serde_json::from_str(crate::compute::verifiable::SMALL_MODEL)?;
            let count = file.test.inputs.len();
            file.test.inputs.get(digit).cloned().with_context(|| format!("--digit {digit}: the held-out split has {count} digits (0-{})", count - 1))
        }
        (None, Some(text)) => {
            let values: Vec<i8> = text
                .split(',')
                .map(|v| v.trim().parse::<i8>().map_err(|_| anyhow::anyhow!("--input: {v:?} is not an integer in -128..=127")))
                .collect::<anyhow::Result<_>>()?;
            anyhow::ensure!(values.len() == 64, "--input holds {} values; the model takes 64", values.len());
            Ok(values)
        }
        (None, None) => anyhow::bail!("say what to classify: --digit N or --input v1,v2,…"),
    }
}

pub(super) async fn ask(market: &MarketClient, key: &PrivateKeySigner, url: &str, digit: Option<usize>, input: Option<&str>, nonce: Option<u64>, save: Option<&Path>) -> anyhow::Result<()> {
    let values = input_of(digit, input)?;
    let nonce = nonce.unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_micros() as u64));
    let started = std::time::Instant::now();
    let answer = client::ask(market, key, url, &values, U256::from(nonce), None).await?;
    println!("class {}  logits {:?}", answer.class, answer.logits);
    println!(
        "proof {} bytes in {:.2} s; signed by the provider: {}; verified on chain (ModelRegistry.verifyInference): {}; fee {} 0G (nonce {nonce})",
        answer.proof.len(),
        started.elapsed().as_secs_f64(),
        yes(answer.signed_by_provider),
        yes(answer.verified_on_chain),
        format_0g(answer.request.fee)
    );
    if let Some(path) = save {
        std::fs::write(path, serde_json::to_string_pretty(&answer.to_json())?).with_context(|| format!("writing {}", path.display()))?;
        println!("answer saved to {}", path.display());
    }
    if answer.signed_by_provider && !answer.verified_on_chain {
        println!("the provider signed a result its proof does not show: `zgnode compute report-wrong` with the saved answer takes its stake");
    }
    Ok(())
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "NO" }
}

pub(super) async fn report(market: &MarketClient, key: &PrivateKeySigner, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let answer = VerifiedAnswer::from_json(&serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?)?;
    let hash = client::report_wrong(market, key, &answer, None).await?;
    println!("provider {} slashed on your evidence (tx {hash}); half its stake is yours", answer.request.provider);
    Ok(())
}
