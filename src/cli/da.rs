//! `zgnode da sample | submit | status | retrieve`: a DA node's `da_*` JSON-RPC from the shell.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use serde_json::Value;
use std::time::{Duration, Instant};

use super::*;

fn client(rpc: &str) -> anyhow::Result<jsonrpsee::http_client::HttpClient> {
    // A retrieved 32 MB blob is 65 MB of hex.
    Ok(HttpClientBuilder::default()
        .max_request_size(80 << 20)
        .max_response_size(80 << 20)
        .request_timeout(Duration::from_secs(600))
        .build(rpc)?)
}

fn hex_param(text: &str) -> anyhow::Result<String> {
    let bytes = alloy_primitives::hex::decode(text.trim()).map_err(|e| anyhow::anyhow!("{text:?} is not hex: {e}"))?;
    anyhow::ensure!(bytes.len() == 32 || bytes.len() == 40, "expected a 32-byte data root or a 40-byte request id");
    Ok(alloy_primitives::hex::encode_prefixed(bytes))
}

pub(super) async fn da(command: DaCommand) -> anyhow::Result<()> {
    match command {
        DaCommand::Sample { root, samples, rpc } => {
            anyhow::ensure!((1..=crate::da::rpc::MAX_SAMPLES).contains(&samples), "--samples must be 1..={}", crate::da::rpc::MAX_SAMPLES);
            let report: Value = client(&rpc)?.request("da_sample", rpc_params![hex_param(&root)?, samples]).await?;
            println!("blob        {}", report["dataRoot"].as_str().unwrap_or_default());
            println!("square      k = {} ({} shares)", report["k"], report["k"].as_u64().unwrap_or(0).pow(2) * 4);
            println!("samples     {} drawn, {} verified, {} failed", report["samples"], report["verified"], report["failed"]);
            let confidence = report["confidence"].as_f64().unwrap_or(0.0);
            if report["available"].as_bool() == Some(true) {
                println!("available   yes: an unrecoverable blob would have failed a sample with probability {confidence:.6}");
            } else {
                println!("available   NO: shares could not be had or did not prove against the data root");
                std::process::exit(2);
            }
        }
        DaCommand::Submit { file, rpc, r#final } => {
            let data = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let client = client(&rpc)?;
            let started = Instant::now();
            let submitted: Value = client.request("da_submitBlob", rpc_params![alloy_primitives::hex::encode_prefixed(&data)]).await?;
            let id = submitted["requestId"].as_str().unwrap_or_default().to_string();
            println!("request id  {id}");
            println!("data root   {}", submitted["dataRoot"].as_str().unwrap_or_default());
            let wanted = if r#final { "FINALIZED" } else { "CONFIRMED" };
            let mut last = String::new();
            loop {
                let status: Value = client.request("da_getBlobStatus", rpc_params![id.clone()]).await?;
                let name = status["status"].as_str().unwrap_or("UNKNOWN").to_string();
                if name != last {
                    println!("{:>8.2} s  {name}{}", started.elapsed().as_secs_f64(), status["detail"].as_str().map(|d| format!(" ({d})")).unwrap_or_default());
                    last = name.clone();
                }
                if name == wanted || (name == "FINALIZED" && wanted == "CONFIRMED") {
                    return Ok(());
                }
                anyhow::ensure!(!matches!(name.as_str(), "FAILED" | "INSUFFICIENT_SIGNATURES"), "the blob ended {name}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        DaCommand::Status { root, rpc } => {
            let status: Value = client(&rpc)?.request("da_getBlobStatus", rpc_params![hex_param(&root)?]).await?;
            println!("{}", serde_json::to_string_pretty(&status)?);
        }
        DaCommand::Retrieve { root, out, rpc } => {
            let blob: alloy_primitives::Bytes = client(&rpc)?.request("da_retrieveBlob", rpc_params![hex_param(&root)?]).await?;
            std::fs::write(&out, &blob).with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {} bytes to {}", blob.len(), out.display());
        }
    }
    Ok(())
}
