//! The user's request token, as 0G's user SDK makes it: `Authorization: Bearer app-sk-<b64>`
//! where `<b64>` is base64 of `rawMessage | signature`, `rawMessage` the JSON
//! `{address, provider, timestamp, expiresAt, nonce, generation, tokenId}` (milliseconds;
//! `expiresAt` 0 = never) and `signature` the user's `personal_sign` over
//! `keccak256(utf8(rawMessage))`. Token 255 is the SDK's ephemeral session token (at most 24 h);
//! 0–254 are API keys the user can revoke one by one on chain, and `revokeAllTokens` bumps the
//! account's generation, which voids every token made before.

use alloy_primitives::{Address, Signature, U256, keccak256};
use base64::Engine;

pub const EPHEMERAL_TOKEN_ID: u8 = 255;
pub const EPHEMERAL_MAX_MS: u64 = 24 * 60 * 60 * 1000;
/// A token issued further ahead than this of the provider's clock is refused.
pub const CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
const PREFIX: &str = "app-sk-";
/// Real tokens are ~400 bytes; anything this long is not one.
const MAX_TOKEN_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no Authorization header: send `Authorization: Bearer app-sk-…` (the SDK's getRequestHeaders)")]
    Missing,
    #[error("the Authorization header is not `Bearer app-sk-…`")]
    NotAppToken,
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("the token is not base64 of `message|signature`")]
    Encoding,
    #[error("the token's message is not the SDK's JSON: {0}")]
    Message(String),
    #[error("the token's signature is not a 65-byte hex signature")]
    SignatureFormat,
    #[error("the token is signed by {recovered}, not by the user it names ({claimed})")]
    WrongSigner { claimed: Address, recovered: Address },
    #[error("the token is for provider {token}, not this provider ({ours})")]
    WrongProvider { token: Address, ours: Address },
    #[error("the token expired at {expired_ms} ms (now {now_ms} ms)")]
    Expired { expired_ms: u64, now_ms: u64 },
    #[error("the token was issued in the future ({issued_ms} ms, now {now_ms} ms)")]
    FromTheFuture { issued_ms: u64, now_ms: u64 },
    #[error("an ephemeral token (id 255) must expire within 24 hours of its issue")]
    EphemeralTooLong,
    #[error("token id {0} is not 0-255")]
    BadTokenId(u64),
    #[error("the token is of generation {token}; the account revoked every token before generation {current}")]
    OldGeneration { token: u64, current: u64 },
    #[error("API key {0} was revoked on chain")]
    Revoked(u8),
}

/// A token's claims once its signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub user: Address,
    pub provider: Address,
    pub issued_ms: u64,
    /// 0: never expires.
    pub expires_ms: u64,
    pub generation: u64,
    pub token_id: u8,
}

/// The on-chain account state a token is checked against (from `getAccount`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenState {
    pub generation: u64,
    pub revoked_bitmap: U256,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    address: String,
    provider: String,
    timestamp: u64,
    expires_at: u64,
    generation: u64,
    token_id: u64,
}

fn address(field: &str, text: &str) -> Result<Address, TokenError> {
    text.parse().map_err(|_| TokenError::Message(format!("`{field}` is not an address")))
}

/// An `Authorization` header value for `message` signed by `signer`, exactly as the SDK makes
/// one (`generateSessionToken` + `getHeader`).
pub fn sign_header(signer: &alloy_signer_local::PrivateKeySigner, message: &str) -> Result<String, alloy_signer::Error> {
    use alloy_signer::SignerSync;
    let signature = signer.sign_message_sync(keccak256(message.as_bytes()).as_slice())?;
    let raw = format!("{message}|0x{}", alloy_primitives::hex::encode(signature.as_bytes()));
    Ok(format!("Bearer {PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(raw)))
}

/// A session token (id 255) for `provider`, good for an hour from `now_ms`.
pub fn session_header(signer: &alloy_signer_local::PrivateKeySigner, provider: Address, now_ms: u64, generation: u64) -> Result<String, alloy_signer::Error> {
    let message = serde_json::json!({
        "address": signer.address().to_string(),
        "provider": provider.to_string(),
        "timestamp": now_ms,
        "expiresAt": now_ms + 60 * 60 * 1000,
        "nonce": format!("{now_ms}-{}", alloy_primitives::hex::encode(rand::random::<[u8; 8]>())),
        "generation": generation,
        "tokenId": EPHEMERAL_TOKEN_ID,
    });
    sign_header(signer, &message.to_string())
}

/// Reads an `Authorization` header value and checks that the user it names signed it.
pub fn parse(header: Option<&str>) -> Result<UserToken, TokenError> {
    let header = header.ok_or(TokenError::Missing)?.trim();
    if header.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    let encoded = header
        .strip_prefix("Bearer ")
        .and_then(|token| token.trim().strip_prefix(PREFIX))
        .ok_or(TokenError::NotAppToken)?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| TokenError::Encoding)?;
    let decoded = String::from_utf8(decoded).map_err(|_| TokenError::Encoding)?;
    let (message, signature) = decoded.rsplit_once('|').ok_or(TokenError::Encoding)?;
    let claims: Claims = serde_json::from_str(message).map_err(|e| TokenError::Message(e.to_string()))?;
    let token_id = u8::try_from(claims.token_id).map_err(|_| TokenError::BadTokenId(claims.token_id))?;
    let signature_bytes = alloy_primitives::hex::decode(signature).map_err(|_| TokenError::SignatureFormat)?;
    let signature = Signature::try_from(signature_bytes.as_slice()).map_err(|_| TokenError::SignatureFormat)?;
    let user = address("address", &claims.address)?;
    let digest = keccak256(message.as_bytes());
    let recovered = signature.recover_address_from_msg(digest.as_slice()).map_err(|_| TokenError::SignatureFormat)?;
    if recovered != user {
        return Err(TokenError::WrongSigner { claimed: user, recovered });
    }
    Ok(UserToken {
        user,
        provider: address("provider", &claims.provider)?,
        issued_ms: claims.timestamp,
        expires_ms: claims.expires_at,
        generation: claims.generation,
        token_id,
    })
}

impl UserToken {
    /// Whether the token is good for `provider` at `now_ms` against the account's revocations.
    pub fn check(&self, provider: Address, now_ms: u64, state: &TokenState) -> Result<(), TokenError> {
        if self.provider != provider {
            return Err(TokenError::WrongProvider { token: self.provider, ours: provider });
        }
        if self.issued_ms > now_ms.saturating_add(CLOCK_SKEW_MS) {
            return Err(TokenError::FromTheFuture { issued_ms: self.issued_ms, now_ms });
        }
        if self.token_id == EPHEMERAL_TOKEN_ID
            && (self.expires_ms == 0 || self.expires_ms.saturating_sub(self.issued_ms) > EPHEMERAL_MAX_MS)
        {
            return Err(TokenError::EphemeralTooLong);
        }
        if self.expires_ms != 0 && now_ms >= self.expires_ms {
            return Err(TokenError::Expired { expired_ms: self.expires_ms, now_ms });
        }
        if self.generation != state.generation {
            return Err(TokenError::OldGeneration { token: self.generation, current: state.generation });
        }
        if self.token_id != EPHEMERAL_TOKEN_ID && state.revoked_bitmap.bit(self.token_id as usize) {
            return Err(TokenError::Revoked(self.token_id));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
