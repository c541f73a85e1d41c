//! Signing the transactions the node's own clients send (the storage client, the PoRA miner,
//! benchmarks, the chaos campaign, tests). A leaf: it imports nothing from this crate.

/// Signs an EIP-1559 transaction (100 gwei fee cap, 1 gwei tip): the shape scripts, tests and
/// benchmarks send.
pub fn sign_eip1559(
    signer: &alloy_signer_local::PrivateKeySigner,
    chain_id: u64,
    to: alloy_primitives::TxKind,
    value: alloy_primitives::U256,
    input: alloy_primitives::Bytes,
    nonce: u64,
    gas_limit: u64,
) -> alloy_consensus::TxEnvelope {
    use alloy_consensus::SignableTransaction;
    use alloy_signer::SignerSync;
    let tx = alloy_consensus::TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("a local key always signs");
    tx.into_signed(signature).into()
}

/// One lock per sending account, shared by every client in the process.
fn sender_lock(account: alloy_primitives::Address) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<alloy_primitives::Address, std::sync::Arc<tokio::sync::Mutex<()>>>>> =
        std::sync::OnceLock::new();
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.entry(account).or_default().clone()
}

/// Signs a call from `key` with the chain's id and the account's pending nonce, sends it over
/// `eth` and waits up to 60 s for a successful receipt; `what` names it in errors.
pub async fn send_and_wait(
    eth: &jsonrpsee::http_client::HttpClient,
    key: &alloy_signer_local::PrivateKeySigner,
    (to, value, input): (alloy_primitives::Address, alloy_primitives::U256, alloy_primitives::Bytes),
    gas_limit: u64,
    what: &str,
) -> anyhow::Result<alloy_primitives::B256> {
    use alloy_primitives::{B256, Bytes, TxKind, U256};
    use anyhow::{Context, ensure};
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::rpc_params;
    let chain_id: U256 = eth.request("eth_chainId", rpc_params![]).await.context("eth_chainId")?;
    // Two clients of one account in this process (a provider's inference settler and its
    // fine-tuning deliveries) would otherwise read the same pending nonce and one would be
    // dropped: the nonce is read and used under the account's lock.
    let account_lock = sender_lock(key.address());
    let sending = account_lock.lock().await;
    let nonce: U256 = eth.request("eth_getTransactionCount", rpc_params![key.address(), "pending"]).await.context("eth_getTransactionCount")?;
    let tx = sign_eip1559(key, chain_id.to(), TxKind::Call(to), value, input, nonce.to(), gas_limit);
    let raw = Bytes::from(alloy_eips::eip2718::Encodable2718::encoded_2718(&tx));
    let hash: B256 = eth.request("eth_sendRawTransaction", rpc_params![raw]).await.with_context(|| format!("sending {what}"))?;
    drop(sending);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let receipt: serde_json::Value = eth.request("eth_getTransactionReceipt", rpc_params![hash]).await.context("eth_getTransactionReceipt")?;
        if !receipt.is_null() {
            ensure!(receipt["status"] == "0x1", "{what} {hash} reverted: {receipt}");
            return Ok(hash);
        }
        ensure!(std::time::Instant::now() < deadline, "{what} {hash} was not mined within 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
