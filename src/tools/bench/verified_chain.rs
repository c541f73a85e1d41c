//! `zgnode bench proofs`' on-chain figures: for a reference model, the gas of registering it,
//! of one `ModelRegistry.verifyInference` in a transaction, and of `VerifiedInference.settle`
//! carrying one result and a batch, on a hand-ticked dev node in this process (as `bench
//! settlement` measures InferenceServing's signature settlement).

use std::sync::Arc;

use alloy_primitives::{B256, I256, U256};
use alloy_signer::SignerSync;
use alloy_sol_types::SolCall;

use super::settlement::Chain;
use zg_components::chain::GrantEntry;
use zg_components::verifiable::{ModelFile, QuantizedModel};
use zg_systems::verifiable::circuit;
use zg_systems::verifiable::contracts::{
    IModelRegistry, IVerifiedInference, MODEL_REGISTRY_ADDRESS, VERIFIED_INFERENCE_ADDRESS, VerifiedRequest, VerifiedResult, commitment_word, model_id,
    request_hash,
};
use zg_systems::verifiable::precompile::field_to_word;

#[derive(Clone, Debug)]
pub struct ChainGas {
    pub model: String,
    pub k: u32,
    pub register_gas: u64,
    pub register_fee: U256,
    pub verify_gas: u64,
    /// (results in the settlement, its gas)
    pub settle: Vec<(usize, u64)>,
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// Registers `model_text`'s model, verifies one proof in a transaction, then settles one
/// result and a batch of `batch`.
pub fn chain_gas(model_text: &str, batch: usize) -> anyhow::Result<ChainGas> {
    let file: ModelFile = serde_json::from_str(model_text)?;
    let model: Arc<QuantizedModel> = Arc::new(file.model);
    let (provider, user) = (super::key(20_000), super::key(20_001));
    let mut genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    genesis.grants.extend([&provider, &user].map(|k| GrantEntry { address: k.address(), tokens: 1_000, from: "ecosystem".into() }));
    let mut chain = Chain::start(genesis)?;
    let keys = circuit::setup(&model)?;
    let bytes = zg_components::verifiable::wire::encode_model(&model)?;
    // The node in this process shares the precompile's key cache: derive it first, as a node
    // does during the activation delay.
    zg_systems::verifiable::precompile::warm(&bytes).ok_or_else(|| anyhow::anyhow!("the model is not provable"))?;
    let id = model_id(&model.name);
    let fee_call = IModelRegistry::registrationFeeCall { k: keys.k };
    let register_fee = IModelRegistry::registrationFeeCall::abi_decode_returns(&chain.handle.call(provider.address(), MODEL_REGISTRY_ADDRESS, fee_call.abi_encode())?)?;
    let register = IModelRegistry::registerCall { modelId: id, model: bytes.into(), vkHash: circuit::vk_hash(keys.vk()).into() };
    let register_gas = chain.run(vec![chain.call_with_gas(&provider, MODEL_REGISTRY_ADDRESS, &register, register_fee, 0, 25_000_000)])?[0];
    // Past the activation delay.
    chain.now_ms += 10_000;
    let stake = IVerifiedInference::registerProviderCall { modelId: id, price: U256::from(1_000u64), url: "http://127.0.0.1:1".into() };
    chain.run(vec![
        chain.call(&provider, VERIFIED_INFERENCE_ADDRESS, &stake, ether(10), 1),
        chain.call(&user, VERIFIED_INFERENCE_ADDRESS, &IVerifiedInference::depositCall {}, ether(100), 0),
    ])?;

    let mut results = Vec::with_capacity(batch + 1);
    for nonce in 1..=(batch + 1) as u64 {
        let input = &file.test.inputs[(nonce as usize) % file.test.inputs.len()];
        let (proof, public) = circuit::prove(&keys, &model, input)?;
        let request = VerifiedRequest {
            user: user.address(),
            provider: provider.address(),
            modelId: id,
            nonce: U256::from(nonce),
            inputCommitment: commitment_word(&public[0]),
            fee: U256::from(1_000u64),
        };
        let signature = user.sign_message_sync(request_hash(VERIFIED_INFERENCE_ADDRESS, chain.chain_id, &request).as_slice())?;
        let logits = zg_systems::verifiable::inference::infer(&model, input)?.logits.iter().map(|l| I256::try_from(i64::from(*l)).unwrap_or_default()).collect();
        results.push((VerifiedResult { request, userSignature: signature.as_bytes().to_vec().into(), logits, proof: proof.into() }, public));
    }
    let (first, public) = &results[0];
    let verify = IModelRegistry::verifyInferenceCall {
        modelId: id,
        publicInputs: public.iter().map(|p| B256::from(field_to_word(p))).collect(),
        proof: first.proof.clone(),
    };
    let verified = IModelRegistry::verifyInferenceCall::abi_decode_returns(&chain.handle.call(user.address(), MODEL_REGISTRY_ADDRESS, verify.abi_encode())?)?;
    anyhow::ensure!(verified, "the registry refused a true proof");
    let verify_gas = chain.run(vec![chain.call_with_gas(&user, MODEL_REGISTRY_ADDRESS, &verify, U256::ZERO, 1, 25_000_000)])?[0];
    let mut settle = Vec::new();
    for (provider_nonce, group) in (2u64..).zip([&results[..1], &results[1..]]) {
        let call = IVerifiedInference::settleCall { results: group.iter().map(|(r, _)| r.clone()).collect() };
        let preview = IVerifiedInference::settleCall::abi_decode_returns(&chain.handle.call(provider.address(), VERIFIED_INFERENCE_ADDRESS, call.abi_encode())?)?;
        anyhow::ensure!(preview.refused.is_zero(), "a true result was refused");
        let gas = chain.run(vec![chain.call_with_gas(&provider, VERIFIED_INFERENCE_ADDRESS, &call, U256::ZERO, provider_nonce, 29_000_000)])?[0];
        settle.push((group.len(), gas));
    }
    Ok(ChainGas { model: model.name.clone(), k: keys.k, register_gas, register_fee, verify_gas, settle })
}

#[cfg(test)]
mod tests {
    /// The on-chain path pays a true result (one proof; the figures are the bench's business).
    #[test]
    fn a_registered_model_verifies_and_settles_on_a_dev_node() {
        let gas = super::chain_gas(super::super::proofs::SMALL_MODEL, 1).unwrap();
        assert_eq!(gas.k, 11);
        assert!(gas.verify_gas > zg_systems::verifiable::precompile::verify_gas(11));
        assert_eq!(gas.settle.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 1]);
    }
}
