//! The chain's own precompiles: ed25519 signature verification, so contracts (the staking
//! contract's double-sign check) can verify what validators sign; and the DA domain's
//! bad-encoding fraud-proof check (`crate::da::precompile`); and the inference-proof verifier
//! (`crate::verifiable::precompile`).
//!
//! Input: `public key (32) ‖ signature (64) ‖ message`. Output: a 32-byte word, 1 when the
//! signature is valid, 0 when not (malformed input included). Gas: 2,000 + 6 per message word.

use alloy_primitives::{Address, Bytes, address};
use revm::context_interface::{Cfg, ContextTr};
use revm::handler::{EthPrecompiles, PrecompileProvider};
use revm::interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult};
use revm::precompile::{EthPrecompileOutput, EthPrecompileResult, Precompile, PrecompileHalt, PrecompileId, Precompiles};
use revm::primitives::AddressSet;
use std::sync::OnceLock;

pub const ED25519_VERIFY_ADDRESS: Address = address!("000000000000000000000000000000000000ed25");
/// Priced from `zgnode bench precompiles` (ed25519 against ecrecover's 3,000 gas in one run):
/// 83 µs against ecrecover's 54.6 µs here, 4,561 gas at that rate (2,000 was 2.25× too cheap).
pub const ED25519_VERIFY_BASE_GAS: u64 = 5_000;
pub const ED25519_VERIFY_WORD_GAS: u64 = 6;

pub fn ed25519_verify(input: &[u8], gas_limit: u64) -> EthPrecompileResult {
    let words = input.len().saturating_sub(96).div_ceil(32) as u64;
    let gas = ED25519_VERIFY_BASE_GAS + ED25519_VERIFY_WORD_GAS * words;
    if gas > gas_limit {
        return Err(PrecompileHalt::OutOfGas);
    }
    let mut word = [0u8; 32];
    if input.len() >= 96 {
        let key: [u8; 32] = input[..32].try_into().expect("32 bytes");
        let signature: [u8; 64] = input[32..96].try_into().expect("64 bytes");
        let valid = malachite_ed25519::PublicKey::from_bytes(key)
            .map(|key| key.verify(&input[96..], &malachite_ed25519::Signature::from_bytes(signature)).is_ok())
            .unwrap_or(false);
        word[31] = valid as u8;
    }
    Ok(EthPrecompileOutput::new(gas, Bytes::copy_from_slice(&word)))
}

revm::precompile::eth_precompile_fn!(ed25519_verify_precompile, ed25519_verify);

/// Prague's precompiles plus the chain's own.
pub fn chain_precompiles() -> &'static Precompiles {
    static PRECOMPILES: OnceLock<Precompiles> = OnceLock::new();
    PRECOMPILES.get_or_init(|| {
        let mut precompiles = Precompiles::new(revm::precompile::PrecompileSpecId::PRAGUE).clone();
        precompiles.extend([
            Precompile::new(PrecompileId::Custom("ed25519_verify".into()), ED25519_VERIFY_ADDRESS, ed25519_verify_precompile),
            crate::da::precompile::fraud_proof_precompile(),
            crate::verifiable::precompile::inference_precompile(),
        ]);
        precompiles
    })
}

/// The chain's precompile provider: [`chain_precompiles`], with one rule revm's plain provider
/// cannot express — the inference-proof verifier answers only the ModelRegistry. Its price
/// covers verifying, not deriving a model's key (seconds), which nodes do ahead of time for
/// registered models; an arbitrary caller with a fresh model would get that work unpaid.
#[derive(Debug, Clone)]
pub struct ChainPrecompiles(pub EthPrecompiles);

impl ChainPrecompiles {
    pub fn new() -> Self {
        Self(EthPrecompiles { precompiles: chain_precompiles(), spec: super::evm::SPEC })
    }
}

impl Default for ChainPrecompiles {
    fn default() -> Self {
        Self::new()
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for ChainPrecompiles {
    type Output = InterpreterResult;

    /// The chain runs [`super::evm::SPEC`], which this starts at (so nothing changes); another
    /// spec would swap in that fork's standard precompiles alone.
    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.0, spec)
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address == crate::verifiable::precompile::INFERENCE_VERIFIER_ADDRESS
            && inputs.caller != crate::verifiable::contracts::MODEL_REGISTRY_ADDRESS
        {
            let mut gas = Gas::new(inputs.gas_limit);
            if !gas.record_regular_cost(crate::verifiable::precompile::BASE_GAS) {
                gas.spend_all();
                return Ok(Some(InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), gas)));
            }
            return Ok(Some(InterpreterResult::new(InstructionResult::Return, Bytes::from(vec![0u8; 32]), gas)));
        }
        self.0.run(context, inputs)
    }

    fn warm_addresses(&self) -> &AddressSet {
        self.0.warm_addresses()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_ed25519_and_answers_zero_for_anything_else() {
        let key = malachite_ed25519::PrivateKey::from([3; 32]);
        let message = b"zgnode vote";
        let mut input = key.public_key().as_bytes().to_vec();
        input.extend_from_slice(&key.sign(message).to_bytes());
        input.extend_from_slice(message);
        let output = ed25519_verify(&input, 10_000).unwrap();
        assert_eq!(output.bytes[31], 1);
        assert_eq!(output.gas_used, ED25519_VERIFY_BASE_GAS + ED25519_VERIFY_WORD_GAS);
        let mut tampered = input.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(ed25519_verify(&tampered, 10_000).unwrap().bytes[31], 0);
        assert_eq!(ed25519_verify(&input[..50], 10_000).unwrap().bytes[31], 0, "short input");
        assert!(ed25519_verify(&input, 100).is_err(), "out of gas");
        assert!(chain_precompiles().contains(&ED25519_VERIFY_ADDRESS));
    }
}
