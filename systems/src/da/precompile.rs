//! The DA fraud-proof precompile: a contract hands it a bad-encoding fraud proof (the bytes of
//! `zg_components::da::wire`) and learns whether it proves the blob under its data root badly
//! encoded. The work (Merkle paths, decoding `k` shares, re-encoding the axis, its root) is
//! bounded by the input's size, so it is priced per input word.
//!
//! Output: `valid (32-byte word, 1 or 0) ‖ data root (32 bytes) ‖ k (a word)`, root and k
//! zero when the proof is not even well formed. The entrance requires k to be the one the
//! blob was registered with (the data root commits to it too). A proof that fails answers 0,
//! never reverts: the caller decides.

use alloy_primitives::{Address, Bytes, address};
use revm::precompile::{EthPrecompileOutput, EthPrecompileResult, Precompile, PrecompileHalt, PrecompileId};

use zg_components::da::wire::decode_fraud_proof;

use super::encoding::check_bad_encoding;

pub const DA_FRAUD_PROOF_ADDRESS: Address = address!("000000000000000000000000000000000000da01");
pub const DA_FRAUD_PROOF_BASE_GAS: u64 = 20_000;
pub const DA_FRAUD_PROOF_WORD_GAS: u64 = 60;

pub fn check_fraud_proof(input: &[u8], gas_limit: u64) -> EthPrecompileResult {
    let gas = DA_FRAUD_PROOF_BASE_GAS + DA_FRAUD_PROOF_WORD_GAS * input.len().div_ceil(32) as u64;
    if gas > gas_limit {
        return Err(PrecompileHalt::OutOfGas);
    }
    let mut output = [0u8; 96];
    if let Ok(proof) = decode_fraud_proof(input) {
        output[32..64].copy_from_slice(proof.data_root.as_slice());
        output[92..].copy_from_slice(&(proof.layout.k as u32).to_be_bytes());
        output[31] = check_bad_encoding(&proof).is_ok() as u8;
    }
    Ok(EthPrecompileOutput::new(gas, Bytes::copy_from_slice(&output)))
}

revm::precompile::eth_precompile_fn!(da_fraud_proof_precompile, check_fraud_proof);

/// The precompile, for the chain's set.
pub fn fraud_proof_precompile() -> Precompile {
    Precompile::new(PrecompileId::Custom("da_fraud_proof".into()), DA_FRAUD_PROOF_ADDRESS, da_fraud_proof_precompile)
}

/// Adds DA's precompile to the chain's registry.
pub fn register(registry: &mut crate::chain::precompile::PrecompileRegistry) {
    registry.register(fraud_proof_precompile());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::da::encoding::{extend_blob, prove_bad_encoding};
    use zg_components::da::wire::encode_fraud_proof;
    use zg_components::da::{Axis, SHARE_SIZE};

    #[test]
    fn a_true_fraud_proof_answers_one_with_its_data_root_and_anything_else_zero() {
        let square = extend_blob(&vec![7u8; 3_000]).unwrap();
        let mut bad = square.clone();
        let width = bad.layout.width();
        bad.data[(2 * width - 1) * SHARE_SIZE] ^= 1;
        let roots = bad.commit();
        let proof = prove_bad_encoding(&bad, &roots, Axis::Row, 1).unwrap().expect("row 1 is bad");
        let input = encode_fraud_proof(&proof);
        let output = check_fraud_proof(&input, 10_000_000).unwrap();
        assert_eq!(output.bytes[31], 1);
        assert_eq!(&output.bytes[32..64], roots.data_root().as_slice());
        assert_eq!(output.bytes[95] as usize, bad.layout.k);
        assert_eq!(output.gas_used, DA_FRAUD_PROOF_BASE_GAS + DA_FRAUD_PROOF_WORD_GAS * input.len().div_ceil(32) as u64);

        let mut tampered = input.clone();
        tampered[200] ^= 1;
        assert_eq!(check_fraud_proof(&tampered, 10_000_000).unwrap().bytes[31], 0);
        let garbage = check_fraud_proof(&[1, 2, 3], 10_000_000).unwrap();
        assert_eq!(garbage.bytes.as_ref(), &[0u8; 96], "malformed: zero, no root, no k");
        assert!(check_fraud_proof(&input, 1_000).is_err(), "out of gas");
        assert!(crate::chain_rules().contains(&DA_FRAUD_PROOF_ADDRESS));
    }
}
