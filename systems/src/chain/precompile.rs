//! The chain's own precompiles: ed25519 signature verification, so contracts (the staking
//! contract's double-sign check) can verify what validators sign; and the DA domain's
//! bad-encoding fraud-proof check (`crate::da::precompile`); and the inference-proof verifier
//! (`crate::verifiable::precompile`).
//!
//! Input: `public key (32) ‖ signature (64) ‖ message`. Output: a 32-byte word, 1 when the
//! signature is valid, 0 when not (malformed input included). Gas: 2,000 + 6 per message word.

use alloy_primitives::{Address, Bytes, address};
use revm::precompile::{EthPrecompileOutput, EthPrecompileResult, Precompile, PrecompileHalt, PrecompileId, Precompiles};
use std::sync::OnceLock;

pub const ED25519_VERIFY_ADDRESS: Address = address!("000000000000000000000000000000000000ed25");
pub const ED25519_VERIFY_BASE_GAS: u64 = 2_000;
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
