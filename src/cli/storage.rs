//! `zgnode storage upload | download | ...`: the storage client with progress.

use super::*;

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn mb_per_s(bytes: u64, took: std::time::Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64().max(1e-9)
}

pub(super) async fn storage(command: StorageCommand) -> anyhow::Result<()> {
    use crate::storage::client::StorageClient;
    match command {
        StorageCommand::Upload { file, endpoints, key } => {
            let key: alloy_signer_local::PrivateKeySigner =
                key.trim().parse().map_err(|e| anyhow::anyhow!("--key is not a private key: {e}"))?;
            let data = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let client = StorageClient::new(&endpoints.rpc, &endpoints.storage)?;
            let bar = progress_bar(data.len() as u64, "upload");
            let report = client.upload(&data, &key, |done| bar.set_position(done)).await?;
            bar.finish();
            println!("root     {}", report.root);
            println!("tx seq   {}", report.tx_seq);
            match report.tx_hash {
                Some(hash) => println!("tx       {hash}"),
                None => println!("tx       none: the node already held the whole file"),
            }
            println!(
                "stored   {} bytes in {:.2} s ({:.1} MB/s, hashing and publishing included; segments alone {:.2} s, {:.1} MB/s)",
                report.bytes,
                report.took.as_secs_f64(),
                mb_per_s(report.bytes, report.took),
                report.transfer.as_secs_f64(),
                mb_per_s(report.bytes, report.transfer)
            );
        }
        StorageCommand::Download { root, out, endpoints } => {
            let client = StorageClient::new(&endpoints.rpc, &endpoints.storage)?;
            let started = std::time::Instant::now();
            let size = client
                .file_info(root)
                .await?
                .and_then(|info| info["tx"]["size"].as_u64())
                .with_context(|| format!("file {root} not found on {}", endpoints.storage))?;
            let bar = progress_bar(size, "download");
            let data = client.download(root, |done| bar.set_position(done)).await?;
            bar.finish();
            std::fs::write(&out, &data).with_context(|| format!("cannot write {}", out.display()))?;
            let took = started.elapsed();
            println!("wrote {} ({} bytes, root verified) in {:.2} s ({:.1} MB/s)", out.display(), data.len(), took.as_secs_f64(), mb_per_s(data.len() as u64, took));
        }
        StorageCommand::Status { root, endpoints } => {
            let client = StorageClient::new(&endpoints.rpc, &endpoints.storage)?;
            match client.file_info(root).await? {
                Some(info) => {
                    println!("root        {root}");
                    println!("tx seq      {}", info["tx"]["seq"]);
                    println!("size        {} bytes", info["tx"]["size"]);
                    println!("segments    {} of {} held", info["uploadedSegNum"], zg_components::storage::merkle::data_segments(info["tx"]["size"].as_u64().unwrap_or(0)));
                    println!("finalized   {}", info["finalized"]);
                    let shards = client.shard_status(root).await?;
                    if shards["erasureCoding"] == true {
                        println!(
                            "shards      {} of the {} this node keeps held ({}+{} per segment; out of placement: {})",
                            shards["held"],
                            shards["responsible"],
                            shards["dataShards"],
                            shards["parityShards"],
                            shards["outOfPlacement"].as_array().map(|out| out.len()).unwrap_or(0)
                        );
                    }
                }
                None => bail!("file {root} is not known to {}", endpoints.storage),
            }
        }
    }
    Ok(())
}
