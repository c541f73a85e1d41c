use super::*;
use alloy_signer_local::PrivateKeySigner;
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000_000;

fn provider() -> Address {
    Address::repeat_byte(0x77)
}

/// A token exactly as the SDK builds it (`generateSessionToken` + `getHeader`).
fn header_with(signer: &PrivateKeySigner, message: &str) -> String {
    sign_header(signer, message).unwrap()
}

fn message(user: Address, issued: u64, expires: u64, generation: u64, token_id: u64) -> String {
    format!(
        r#"{{"address":"{user}","provider":"{}","timestamp":{issued},"expiresAt":{expires},"nonce":"{issued}-abc0000000000000000","generation":{generation},"tokenId":{token_id}}}"#,
        provider()
    )
}

fn ephemeral(signer: &PrivateKeySigner) -> String {
    header_with(signer, &message(signer.address(), NOW - 1_000, NOW + EPHEMERAL_MAX_MS - 1_000, 0, 255))
}

#[test]
fn an_sdk_session_token_is_accepted() {
    let signer = PrivateKeySigner::random();
    let token = parse(Some(&ephemeral(&signer))).unwrap();
    assert_eq!(token.user, signer.address());
    assert_eq!(token.token_id, EPHEMERAL_TOKEN_ID);
    token.check(provider(), NOW, &TokenState::default()).unwrap();
}

#[test]
fn forged_expired_replayed_and_revoked_tokens_are_refused() {
    let signer = PrivateKeySigner::random();
    let other = PrivateKeySigner::random();
    let state = TokenState::default();
    // Signed by someone else than the user it names.
    let forged = header_with(&other, &message(signer.address(), NOW, NOW + 1_000, 0, 255));
    assert!(matches!(parse(Some(&forged)), Err(TokenError::WrongSigner { .. })));
    // The message changed after signing (the expiry pushed back).
    let good = message(signer.address(), NOW, NOW + 1_000, 0, 255);
    let signed = header_with(&signer, &good);
    let raw = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(signed.trim_start_matches("Bearer app-sk-")).unwrap()).unwrap();
    let tampered = raw.replace(&format!("\"expiresAt\":{}", NOW + 1_000), &format!("\"expiresAt\":{}", NOW + 9_000));
    let tampered = format!("Bearer {PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(tampered));
    assert!(matches!(parse(Some(&tampered)), Err(TokenError::WrongSigner { .. })));
    // Expired, and replayed after expiry.
    let token = parse(Some(&signed)).unwrap();
    assert!(matches!(token.check(provider(), NOW + 1_000, &state), Err(TokenError::Expired { .. })));
    // For another provider.
    assert!(matches!(token.check(Address::repeat_byte(1), NOW, &state), Err(TokenError::WrongProvider { .. })));
    // All tokens revoked on chain (generation bumped).
    assert!(matches!(token.check(provider(), NOW, &TokenState { generation: 1, ..state }), Err(TokenError::OldGeneration { .. })));
    // One API key revoked; another still good; the ephemeral id ignores the bitmap.
    let key7 = parse(Some(&header_with(&signer, &message(signer.address(), NOW, 0, 0, 7)))).unwrap();
    let revoked = TokenState { generation: 0, revoked_bitmap: U256::from(1u64) << 7 };
    assert_eq!(key7.check(provider(), NOW, &revoked), Err(TokenError::Revoked(7)));
    let key8 = parse(Some(&header_with(&signer, &message(signer.address(), NOW, 0, 0, 8)))).unwrap();
    key8.check(provider(), NOW, &revoked).unwrap();
    // An ephemeral token that never expires or lasts more than a day.
    for expires in [0, NOW + EPHEMERAL_MAX_MS + 1] {
        let long = parse(Some(&header_with(&signer, &message(signer.address(), NOW, expires, 0, 255)))).unwrap();
        assert_eq!(long.check(provider(), NOW, &state), Err(TokenError::EphemeralTooLong));
    }
    // Issued an hour ahead of the provider's clock.
    let ahead = parse(Some(&header_with(&signer, &message(signer.address(), NOW + 3_600_000, NOW + 3_700_000, 0, 255)))).unwrap();
    assert!(matches!(ahead.check(provider(), NOW, &state), Err(TokenError::FromTheFuture { .. })));
    // A token id past 255.
    assert_eq!(parse(Some(&header_with(&signer, &message(signer.address(), NOW, 0, 0, 300)))), Err(TokenError::BadTokenId(300)));
}

#[test]
fn malformed_headers_are_clear_errors() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(parse(None), Err(TokenError::Missing));
    assert_eq!(parse(Some("")), Err(TokenError::NotAppToken));
    assert_eq!(parse(Some("Basic abc")), Err(TokenError::NotAppToken));
    assert_eq!(parse(Some("Bearer sk-123")), Err(TokenError::NotAppToken));
    assert_eq!(parse(Some("Bearer app-sk-***")), Err(TokenError::Encoding));
    assert_eq!(parse(Some(&format!("Bearer app-sk-{}", b64("no separator")))), Err(TokenError::Encoding));
    assert!(matches!(parse(Some(&format!("Bearer app-sk-{}", b64("not json|0x00")))), Err(TokenError::Message(_))));
    let user = Address::repeat_byte(5);
    let json = message(user, NOW, 0, 0, 1);
    assert_eq!(parse(Some(&format!("Bearer app-sk-{}", b64(&format!("{json}|0x1234"))))), Err(TokenError::SignatureFormat));
    assert_eq!(parse(Some(&format!("Bearer app-sk-{}", b64(&format!("{json}|zz"))))), Err(TokenError::SignatureFormat));
    let bad_address = json.replace(&user.to_string(), "0xnot-an-address");
    assert!(matches!(parse(Some(&format!("Bearer app-sk-{}", b64(&format!("{bad_address}|0x00"))))), Err(TokenError::SignatureFormat | TokenError::Message(_))));
    assert_eq!(parse(Some(&format!("Bearer app-sk-{}", "A".repeat(5000)))), Err(TokenError::TooLong));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Whatever arrives in the header, parsing answers with a token or an error, never a panic.
    #[test]
    fn any_header_is_parsed_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600), prefixed: bool) {
        let body = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let header = if prefixed { format!("Bearer app-sk-{body}") } else { String::from_utf8_lossy(&bytes).into_owned() };
        let _ = parse(Some(&header));
    }
}
