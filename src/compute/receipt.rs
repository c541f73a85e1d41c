//! What a provider signs for each response, served at `/v1/proxy/signature/{chatID}` as
//! `{text, signature}`: 0G's SDK (`processResponse`) checks
//! `recoverAddress(hashMessage(text), signature)` against the service's acknowledged signer,
//! i.e. `text` signed with `personal_sign`. The text is ours: a JSON record binding the chat id
//! to the request and response bodies (by keccak), the metered tokens and the fee charged, so a
//! user holding it can prove what was served and billed.

use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// The response header naming the chat id whose signed record `/v1/proxy/signature/{chatID}`
/// serves (the SDK reads it from every response, proxied or served here).
pub const RES_KEY_HEADER: &str = "ZG-Res-Key";

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResponseRecord {
    pub chat_id: String,
    pub model: String,
    pub user: Address,
    pub request_hash: B256,
    pub response_hash: B256,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// In neuron.
    pub fee: U256,
}

/// The body of `/v1/proxy/signature/{chatID}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignedResponse {
    pub text: String,
    /// 0x-hex, 65 bytes (r ‖ s ‖ v with v = 27/28), as ethers produces and reads.
    pub signature: String,
}

impl ResponseRecord {
    pub fn for_bodies(chat_id: &str, model: &str, user: Address, request: &[u8], response: &[u8], tokens: (u64, u64), fee: U256) -> Self {
        Self {
            chat_id: chat_id.to_string(),
            model: model.to_string(),
            user,
            request_hash: keccak256(request),
            response_hash: keccak256(response),
            prompt_tokens: tokens.0,
            completion_tokens: tokens.1,
            fee,
        }
    }

    pub fn sign(&self, signer: &PrivateKeySigner) -> Result<SignedResponse, alloy_signer::Error> {
        // A struct of plain fields always serializes.
        let text = serde_json::to_string(self).unwrap_or_default();
        let signature = signer.sign_message_sync(text.as_bytes())?;
        Ok(SignedResponse { text, signature: alloy_primitives::hex::encode_prefixed(signature.as_bytes()) })
    }
}

impl SignedResponse {
    /// The signer the SDK would recover; `None` for a malformed signature.
    pub fn signer(&self) -> Option<Address> {
        let bytes = alloy_primitives::hex::decode(&self.signature).ok()?;
        Signature::try_from(bytes.as_slice()).ok()?.recover_address_from_msg(self.text.as_bytes()).ok()
    }

    /// The record, when the text is one of ours.
    pub fn record(&self) -> Option<ResponseRecord> {
        serde_json::from_str(&self.text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_response_recovers_to_the_signer_and_only_for_its_text() {
        let signer = PrivateKeySigner::random();
        let record = ResponseRecord::for_bodies("chat-1", "tiny", Address::repeat_byte(3), b"{\"messages\":[]}", b"{\"choices\":[]}", (12, 34), U256::from(99));
        let signed = record.sign(&signer).unwrap();
        assert_eq!(signed.signer(), Some(signer.address()));
        assert_eq!(signed.record(), Some(record.clone()));
        let signature = alloy_primitives::hex::decode(&signed.signature).unwrap();
        assert_eq!(signature.len(), 65);
        assert!(signature[64] == 27 || signature[64] == 28, "v as ethers reads it");
        // Any change to the text recovers someone else.
        let altered = SignedResponse { text: signed.text.replace("\"completion_tokens\":34", "\"completion_tokens\":35"), ..signed.clone() };
        assert_ne!(altered.signer(), Some(signer.address()));
        // Malformed signatures are None, not panics.
        for bad in ["", "0x", "0x1234", "zz", &"ab".repeat(65)] {
            let _ = SignedResponse { text: signed.text.clone(), signature: bad.to_string() }.signer();
        }
        assert_eq!(SignedResponse { text: "not json".into(), signature: signed.signature }.record(), None);
    }
}
