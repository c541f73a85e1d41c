//! After training: the adapter zipped and encrypted under a key chosen once (kept before the
//! first upload, so a retried delivery uploads the same file), uploaded to 0G storage,
//! recorded on chain (`addDeliverable`); then, on the user's acknowledgement, settled with the
//! key sealed to the user, or — never acknowledged within the lock time — settled for the
//! contract's 30 % with no key. Every step reads the chain before acting, so a provider killed
//! at any point neither records a deliverable twice nor is paid twice.

use std::time::Instant;

use alloy_primitives::{Address, Bytes, U256, keccak256};
use tokio::sync::watch;

use super::FineTuningService;
use super::PRIVATE;
use crate::store::durable::write_atomically;
use super::crypto::{encrypt_model, fresh_key, seal_to, zip_files};
use super::store::TaskRecord;
use crate::compute::client::format_0g;
use zg_components::compute::fine_tuning::TaskProgress;
use zg_components::compute::training_tasks::TaskOrder;
use zg_systems::compute::fine_tuning::settled_fee;

/// Takes the tick's `Deliver` and `Settle` orders, one at a time, on a thread of its own (the
/// steps' chain and storage calls run on `runtime`).
pub fn run(ft: &FineTuningService, orders: &crossbeam_channel::Receiver<TaskOrder>, runtime: &tokio::runtime::Handle, stopped: &watch::Receiver<bool>) {
    let mut last_errors: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    while let Some(order) = super::next_order(orders, stopped) {
        let id = order.task_id().to_string();
        let done = runtime.block_on(async {
            let Some(mut record) = ft.store.get(&id)? else { return Ok(true) };
            match (&order, record.task.progress) {
                (TaskOrder::Deliver(_), TaskProgress::Trained | TaskProgress::Delivering) => deliver(ft, &mut record).await.map(|()| true),
                (TaskOrder::Settle(_), TaskProgress::Delivered | TaskProgress::UserAcknowledged) => settle(ft, &mut record).await,
                // Moved on since the order was sent.
                _ => Ok(true),
            }
        });
        let wait = match done {
            Ok(done) => {
                last_errors.remove(&id);
                !done
            }
            Err(error) => {
                // A step that keeps failing the same way is logged once, not every poll.
                let text = format!("{error:#}");
                if last_errors.get(&id) != Some(&text) {
                    let _ = ft.store.log(&id, &format!("will retry: {text}"));
                    tracing::warn!(task = %id, error = %text, "fine-tuning delivery step failed; it retries");
                    last_errors.insert(id.clone(), text);
                }
                true
            }
        };
        ft.release(&id, wait);
    }
}

fn hex32(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = alloy_primitives::hex::decode(text)?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("a stored model key is not 32 bytes"))
}

/// The encrypted model file of a trained task (made once, then read back).
pub fn encrypted_model(ft: &FineTuningService, record: &TaskRecord) -> anyhow::Result<Vec<u8>> {
    let path = ft.store.task_dir(&record.task.id).join("lora.enc");
    if let Ok(bytes) = std::fs::read(&path) {
        return Ok(bytes);
    }
    let adapter = ft.store.task_dir(&record.task.id).join("adapter");
    let files = ["adapter_config.json", "adapter_model.safetensors"]
        .into_iter()
        .map(|name| Ok((name, std::fs::read(adapter.join(name))?)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let plain = zip_files(&files)?;
    let iv: [u8; 12] = alloy_primitives::hex::decode(&record.model_iv)?.try_into().map_err(|_| anyhow::anyhow!("a stored iv is not 12 bytes"))?;
    let file = encrypt_model(&plain, &hex32(&record.model_key)?, iv, &ft.signer);
    write_atomically(&path, &file, PRIVATE)?;
    Ok(file)
}

async fn deliver(ft: &FineTuningService, record: &mut TaskRecord) -> anyhow::Result<()> {
    let started = Instant::now();
    if record.model_key.is_empty() {
        let (key, iv) = fresh_key();
        record.model_key = alloy_primitives::hex::encode(key);
        record.model_iv = alloy_primitives::hex::encode(iv);
        ft.advance(record, TaskProgress::Delivering, "")?;
    }
    let file = encrypted_model(ft, record)?;
    let encrypted = started.elapsed();
    let (root, upload_gas) = match &ft.storage {
        Some(storage) => {
            let report = storage.upload(&file, &ft.key, |_| {}).await?;
            ft.store.log(&record.task.id, &format!("uploaded the encrypted model ({} bytes) to 0G storage: root {}", file.len(), report.root))?;
            crate::crash_drill::point("fine-tuning:uploaded");
            let gas = match report.tx_hash {
                Some(hash) => ft.market.gas_used(hash).await?,
                None => 0,
            };
            (report.root, gas)
        }
        None => (keccak256(&file), 0),
    };
    let uploaded = started.elapsed();
    let user: Address = record.task.user_address.parse()?;
    let mut add_gas = 0;
    if super::chain::deliverable(ft, user, &record.task.id).await?.is_none() {
        add_gas = super::chain::add_deliverable(ft, user, &record.task.id, Bytes::copy_from_slice(root.as_slice())).await?;
        crate::crash_drill::point("fine-tuning:deliverable-added");
    }
    record.task.deliver_index = root.to_string();
    // The figures `zgnode bench training` reads: keep the wording.
    ft.store.log(
        &record.task.id,
        &format!(
            "delivery: {} ms (encrypt {} ms, storage upload {} ms), gas {upload_gas} for the storage submission, {add_gas} for addDeliverable",
            started.elapsed().as_millis(),
            encrypted.as_millis(),
            (uploaded - encrypted).as_millis()
        ),
    )?;
    ft.advance(record, TaskProgress::Delivered, "")?;
    Ok(())
}

/// Settles when it may; false while the user has neither acknowledged nor run out the lock time.
async fn settle(ft: &FineTuningService, record: &mut TaskRecord) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut gas = 0;
    let user: Address = record.task.user_address.parse()?;
    let Some(deliverable) = super::chain::deliverable(ft, user, &record.task.id).await? else {
        anyhow::bail!("the deliverable is not on chain (was the sub-account deleted?)");
    };
    let fee: U256 = record.task.fee.parse()?;
    let (lock_time, penalty) = super::chain::lock_time_and_penalty(ft).await?;
    if !deliverable.settled {
        if deliverable.acknowledged {
            if record.task.progress == TaskProgress::Delivered {
                ft.advance(record, TaskProgress::UserAcknowledged, "")?;
            }
            let public = k256::PublicKey::from_sec1_bytes(&alloy_primitives::hex::decode(&record.user_public_key)?)?;
            // The SDK opens this to the raw key bytes (and hex-encodes them itself).
            let secret = seal_to(&public, &hex32(&record.model_key)?);
            gas = super::chain::settle(ft, user, &record.task.id, deliverable.modelRootHash.clone(), Bytes::from(secret), fee).await?;
            crate::crash_drill::point("fine-tuning:settled");
        } else if ft.market.head_timestamp().await? >= deliverable.timestamp.saturating_to::<u64>().saturating_add(lock_time) {
            gas = super::chain::settle(ft, user, &record.task.id, deliverable.modelRootHash.clone(), Bytes::new(), fee).await?;
        } else {
            return Ok(false);
        }
    }
    let settled = super::chain::deliverable(ft, user, &record.task.id).await?.ok_or_else(|| anyhow::anyhow!("the deliverable vanished"))?;
    anyhow::ensure!(settled.settled, "the settlement did not land");
    let paid = settled_fee(fee, settled.acknowledged, penalty);
    record.paid = paid.to_string();
    let how = if settled.acknowledged {
        format!("settled: {} 0G paid; the model's key is on chain, sealed to {user}", format_0g(paid))
    } else {
        format!("settled without acknowledgement within {lock_time} s: {} 0G ({penalty} %) paid, no key revealed", format_0g(paid))
    };
    // Published before the task is Finished: a crash between the two publishes it again.
    if settled.acknowledged {
        publish_adapter(ft, record, user)?;
    }
    ft.store.log(&record.task.id, &format!("settlement: {} ms, gas {gas} for settleFees", started.elapsed().as_millis()))?;
    ft.advance(record, TaskProgress::Finished, &how)?;
    Ok(true)
}

/// A paid-for adapter goes where the inference side's LoRA endpoints find it, owned by its user
/// (`deployAdapter(provider, base, taskId)`).
fn publish_adapter(ft: &FineTuningService, record: &TaskRecord, user: Address) -> anyhow::Result<()> {
    let Some(lora_dir) = &ft.lora_dir else { return Ok(()) };
    let from = ft.store.task_dir(&record.task.id).join("adapter");
    let to = lora_dir.join(&record.task.id);
    for name in ["adapter_config.json", "adapter_model.safetensors"] {
        write_atomically(&to.join(name), &std::fs::read(from.join(name))?, PRIVATE)?;
    }
    write_atomically(&to.join("owner.json"), serde_json::json!({"userAddress": user}).to_string().as_bytes(), PRIVATE)?;
    Ok(())
}
