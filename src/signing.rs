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
