//! The typed-data signature `admin_addStream` takes (0G's KV node and its storage-scan frontend):
//! domain `{name: "0G Storage Scan", version: "1", chainId}`, message
//! `RegisterStream(string purpose, address wallet, bytes32 streamId)` with purpose
//! "register-stream".

use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use alloy_sol_types::SolValue;

pub const DOMAIN_NAME: &str = "0G Storage Scan";
pub const DOMAIN_VERSION: &str = "1";
pub const PURPOSE: &str = "register-stream";

/// The digest a wallet signs to register `stream`.
pub fn register_stream_digest(wallet: Address, stream: B256, chain_id: u64) -> B256 {
    let domain = keccak256(
        (
            keccak256("EIP712Domain(string name,string version,uint256 chainId)"),
            keccak256(DOMAIN_NAME),
            keccak256(DOMAIN_VERSION),
            U256::from(chain_id),
        )
            .abi_encode(),
    );
    let message = keccak256(
        (keccak256("RegisterStream(string purpose,address wallet,bytes32 streamId)"), keccak256(PURPOSE), wallet, stream).abi_encode(),
    );
    let mut payload = Vec::with_capacity(66);
    payload.extend_from_slice(b"\x19\x01");
    payload.extend_from_slice(domain.as_slice());
    payload.extend_from_slice(message.as_slice());
    keccak256(payload)
}

/// Who signed the registration of `stream` claimed by `wallet` (hex signature, 65 bytes).
pub fn signer_of(wallet: Address, stream: B256, chain_id: u64, signature: &str) -> Result<Address, String> {
    let bytes = alloy_primitives::hex::decode(signature.trim()).map_err(|e| format!("not valid hex: {e}"))?;
    let signature = Signature::from_raw(&bytes).map_err(|e| format!("not a 65-byte signature: {e}"))?;
    signature.recover_address_from_prehash(&register_stream_digest(wallet, stream, chain_id)).map_err(|e| format!("recovery failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_signer::SignerSync;

    #[test]
    fn a_wallet_signature_recovers_its_wallet_and_nothing_else() {
        let wallet = alloy_signer_local::PrivateKeySigner::random();
        let stream = B256::repeat_byte(0xab);
        let signature = wallet.sign_hash_sync(&register_stream_digest(wallet.address(), stream, 16601)).expect("signs");
        let hex = format!("0x{}", alloy_primitives::hex::encode(signature.as_bytes()));
        assert_eq!(signer_of(wallet.address(), stream, 16601, &hex), Ok(wallet.address()));
        // Another chain, another stream, another claimed wallet: someone else's signature.
        assert_ne!(signer_of(wallet.address(), stream, 1, &hex), Ok(wallet.address()));
        assert_ne!(signer_of(wallet.address(), B256::ZERO, 16601, &hex), Ok(wallet.address()));
        assert_ne!(signer_of(Address::repeat_byte(1), stream, 16601, &hex), Ok(Address::repeat_byte(1)));
        assert!(signer_of(wallet.address(), stream, 16601, "0x1234").is_err());
        assert!(signer_of(wallet.address(), stream, 16601, "zz").is_err());
    }
}
