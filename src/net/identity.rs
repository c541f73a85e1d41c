//! The node's identity: an ed25519 key kept in the data directory, the self-signed certificate
//! bound to it, and the TLS verifiers that accept a peer only when its certificate carries a
//! key this node knows.
//!
//! The certificate is only a carrier: trust comes from the key inside it (no CA, no names). A
//! verifier parses the certificate with webpki, compares its SubjectPublicKeyInfo byte for byte
//! with the ed25519 SPKI of a known key, and checks the handshake signature against it, so a
//! peer must hold the private key of an allowed identity.

use malachite_ed25519::PrivateKey;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, RwLock};

use zg_components::consensus::PeerKey;

/// RFC 8410 PKCS#8 v1 prefix of an ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
/// RFC 8410 SubjectPublicKeyInfo prefix of an ed25519 public key; the 32-byte key follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the node key {path}: {message}")]
    Read { path: String, message: String },
    #[error("the node key {path} is not 64 hex characters (a 32-byte ed25519 seed)")]
    Format { path: String },
    #[error("cannot write the node key {path}: {message}")]
    Write { path: String, message: String },
    #[error("cannot make the TLS certificate: {0}")]
    Certificate(String),
}

/// This node's key and certificate.
#[derive(Clone)]
pub struct Identity {
    pub key: PrivateKey,
    seed: [u8; 32],
}

impl Identity {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { key: PrivateKey::from(seed), seed }
    }

    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Self::from_seed(seed)
    }

    /// Reads the key file, or creates it (owner-only permissions) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, IdentityError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).ok_or_else(|| IdentityError::Format { path: path.display().to_string() }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let identity = Self::generate();
                identity.write(path)?;
                Ok(identity)
            }
            Err(error) => Err(IdentityError::Read { path: path.display().to_string(), message: error.to_string() }),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim().trim_start_matches("0x")).ok()?;
        Some(Self::from_seed(bytes.try_into().ok()?))
    }

    /// Writes the seed as hex, readable by the owner only, via a temporary file so a crash never
    /// leaves half a key.
    pub fn write(&self, path: &Path) -> Result<(), IdentityError> {
        let error = |e: std::io::Error| IdentityError::Write { path: path.display().to_string(), message: e.to_string() };
        crate::store::durable::write_atomically(path, hex::encode(self.seed).as_bytes(), 0o600).map_err(error)
    }

    pub fn public(&self) -> PeerKey {
        *self.key.public_key().as_bytes()
    }

    /// A self-signed certificate for this key, and the key in the form TLS wants.
    pub fn certificate(&self) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), IdentityError> {
        let mut pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
        pkcs8.extend_from_slice(&self.seed);
        let der = PrivatePkcs8KeyDer::from(pkcs8);
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        let params = rcgen::CertificateParams::new(vec!["zgnode".to_string()])
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        let certificate = params.self_signed(&key_pair).map_err(|e| IdentityError::Certificate(e.to_string()))?;
        Ok((certificate.der().clone(), PrivateKeyDer::Pkcs8(der)))
    }
}

/// The ed25519 key a certificate carries, if it is a well-formed certificate for one.
pub fn certificate_key(certificate: &CertificateDer<'_>) -> Option<PeerKey> {
    let parsed = webpki::EndEntityCert::try_from(certificate).ok()?;
    let spki = parsed.subject_public_key_info();
    let spki = spki.as_ref();
    if spki.len() != SPKI_ED25519_PREFIX.len() + 32 || spki[..SPKI_ED25519_PREFIX.len()] != SPKI_ED25519_PREFIX {
        return None;
    }
    spki[SPKI_ED25519_PREFIX.len()..].try_into().ok()
}

/// The keys this node talks to. Shared with the verifiers, so it can change while running.
#[derive(Clone, Default, Debug)]
pub struct PeerAllowlist(Arc<RwLock<HashSet<PeerKey>>>);

impl PeerAllowlist {
    pub fn new(keys: impl IntoIterator<Item = PeerKey>) -> Self {
        Self(Arc::new(RwLock::new(keys.into_iter().collect())))
    }

    pub fn allows(&self, key: &PeerKey) -> bool {
        self.0.read().map(|set| set.contains(key)).unwrap_or(false)
    }

    pub fn insert(&self, key: PeerKey) {
        if let Ok(mut set) = self.0.write() {
            set.insert(key);
        }
    }

    /// Allows exactly `keys` from now on (new handshakes; live connections are closed apart).
    pub fn replace(&self, keys: HashSet<PeerKey>) {
        if let Ok(mut set) = self.0.write() {
            *set = keys;
        }
    }
}

/// Accepts a certificate only if it carries an allowed ed25519 key.
#[derive(Debug)]
pub struct PeerVerifier {
    allowlist: PeerAllowlist,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PeerVerifier {
    pub fn new(allowlist: PeerAllowlist) -> Arc<Self> {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        Arc::new(Self { allowlist, algorithms })
    }

    fn check(&self, certificate: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let key = certificate_key(certificate)
            .ok_or(rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
        if self.allowlist.allows(&key) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))
        }
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity).map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity).map(|_| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_carries_the_node_key() {
        let identity = Identity::from_seed([5; 32]);
        let (certificate, _) = identity.certificate().unwrap();
        assert_eq!(certificate_key(&certificate), Some(identity.public()));
        assert_eq!(certificate_key(&CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])), None);
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node_key");
        let created = Identity::load_or_create(&path).unwrap();
        assert_eq!(Identity::load_or_create(&path).unwrap().public(), created.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(Identity::load_or_create(&path), Err(IdentityError::Format { .. })));
        std::fs::write(&path, "abcd").unwrap();
        assert!(matches!(Identity::load_or_create(&path), Err(IdentityError::Format { .. })));
    }
}
