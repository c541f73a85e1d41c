//! The QUIC endpoint's TLS 1.3 and transport settings: each side proves its node key and
//! accepts only keys on the allowlist.

use std::sync::Arc;
use std::time::Duration;

use quinn::VarInt;

use super::identity::{Identity, PeerAllowlist, PeerVerifier};
use super::{ALPN, NetError};

fn transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(500)));
    // A peer silent this long is gone: its connection closes and the dialer starts again.
    transport.max_idle_timeout(Some(VarInt::from_u32(3_000).into()));
    transport.max_concurrent_uni_streams(VarInt::from_u32(8));
    transport.max_concurrent_bidi_streams(VarInt::from_u32(0));
    Arc::new(transport)
}

pub(super) fn tls_configs(identity: &Identity, allowlist: PeerAllowlist) -> Result<(quinn::ServerConfig, quinn::ClientConfig), NetError> {
    let tls = |e: &dyn std::fmt::Display| NetError::Tls(e.to_string());
    let (certificate, key) = identity.certificate()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PeerVerifier::new(allowlist);

    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(vec![certificate.clone()], key.clone_key())
        .map_err(|e| tls(&e))?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls(&e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![certificate], key)
        .map_err(|e| tls(&e))?;
    client.alpn_protocols = vec![ALPN.to_vec()];

    let server_crypto = quinn::crypto::rustls::QuicServerConfig::try_from(server).map_err(|e| tls(&e))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
    server.transport_config(transport());
    let client_crypto = quinn::crypto::rustls::QuicClientConfig::try_from(client).map_err(|e| tls(&e))?;
    let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
    client.transport_config(transport());
    Ok((server, client))
}
