//! Delivery's cryptography, byte for byte as 0G's SDK undoes it (`decryptModel`): the model is
//! AES-256-GCM in 64 MiB chunks under a fresh key, the file laid out as `signature(65) ‖ iv(12) ‖
//! (ciphertext ‖ tag)…` with the iv counting up per chunk and the signature the provider's
//! signer over keccak-256 of every tag; the key is sealed to the user with eciesjs's ECIES
//! (secp256k1, uncompressed ephemeral key, HKDF-SHA256 over ephemeral ‖ shared point,
//! AES-256-GCM with a 16-byte nonce: `ephemeral(65) ‖ nonce(16) ‖ tag(16) ‖ ciphertext`). The
//! user's public key comes from the signature on their task.

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use alloy_primitives::{Address, B256, Signature, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;

/// Plaintext per chunk (the SDK reads 64 MiB + a tag at a time).
pub const CHUNK: usize = 64 << 20;
const TAG: usize = 16;
const IV: usize = 12;
const SIGNATURE: usize = 65;
const ECIES_NONCE: usize = 16;

type EciesAes = AesGcm<Aes256, aes_gcm::aead::consts::U16>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeliveryCryptoError {
    #[error("the signature is not 65 bytes of hex")]
    SignatureShape,
    #[error("the signature recovers no key")]
    Unrecoverable,
    #[error("the encrypted model is malformed or its tags do not verify")]
    Corrupt,
    #[error("the model's tag signature is not by {0}")]
    WrongSigner(Address),
}

/// The account and public key that `personal_sign`ed `digest` (32 bytes, as the SDK signs).
pub fn recover_personal(digest: B256, signature_hex: &str) -> Result<(Address, k256::PublicKey), DeliveryCryptoError> {
    let bytes = alloy_primitives::hex::decode(signature_hex.trim()).map_err(|_| DeliveryCryptoError::SignatureShape)?;
    let signature = Signature::try_from(bytes.as_slice()).map_err(|_| DeliveryCryptoError::SignatureShape)?;
    let prehash = alloy_primitives::eip191_hash_message(digest.as_slice());
    let key = signature.recover_from_prehash(&prehash).map_err(|_| DeliveryCryptoError::Unrecoverable)?;
    let public = k256::PublicKey::from(&key);
    let point = public.to_encoded_point(false);
    let address = Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..]);
    Ok((address, public))
}

/// A fresh model key and iv.
pub fn fresh_key() -> ([u8; 32], [u8; IV]) {
    let mut key = [0u8; 32];
    let mut iv = [0u8; IV];
    rand::rngs::OsRng.fill_bytes(&mut key);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    (key, iv)
}

fn increment(iv: &mut [u8; IV]) {
    for byte in iv.iter_mut().rev() {
        *byte = byte.wrapping_add(1);
        if *byte != 0 {
            break;
        }
    }
}

/// The encrypted model file for `plain`, its tags signed by `signer`.
pub fn encrypt_model(plain: &[u8], key: &[u8; 32], iv: [u8; IV], signer: &PrivateKeySigner) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut body = Vec::with_capacity(plain.len() + plain.len() / CHUNK * TAG + TAG);
    let mut tags = Vec::new();
    let mut counter = iv;
    // An empty model is still one (empty) chunk, so the file carries a tag to sign.
    let chunks: Vec<&[u8]> = if plain.is_empty() { vec![&[]] } else { plain.chunks(CHUNK).collect() };
    for chunk in chunks {
        let mut buffer = chunk.to_vec();
        let tag = cipher.encrypt_in_place_detached(&Nonce::from(counter), b"", &mut buffer).expect("AES-GCM encrypts any chunk under 64 GiB");
        body.extend_from_slice(&buffer);
        body.extend_from_slice(&tag);
        tags.extend_from_slice(&tag);
        increment(&mut counter);
    }
    let signature = signer.sign_hash_sync(&keccak256(&tags)).expect("a local key always signs");
    let mut file = Vec::with_capacity(SIGNATURE + IV + body.len());
    file.extend_from_slice(&signature.as_bytes());
    file.extend_from_slice(&iv);
    file.extend_from_slice(&body);
    file
}

/// The model back from its encrypted file, checking every tag and that `signer` signed them.
pub fn decrypt_model(file: &[u8], key: &[u8; 32], signer: Address) -> Result<Vec<u8>, DeliveryCryptoError> {
    if file.len() < SIGNATURE + IV + TAG {
        return Err(DeliveryCryptoError::Corrupt);
    }
    let signature = Signature::try_from(&file[..SIGNATURE]).map_err(|_| DeliveryCryptoError::Corrupt)?;
    let mut counter: [u8; IV] = file[SIGNATURE..SIGNATURE + IV].try_into().map_err(|_| DeliveryCryptoError::Corrupt)?;
    let cipher = Aes256Gcm::new(key.into());
    let (mut plain, mut tags) = (Vec::new(), Vec::new());
    for chunk in file[SIGNATURE + IV..].chunks(CHUNK + TAG) {
        if chunk.len() < TAG {
            return Err(DeliveryCryptoError::Corrupt);
        }
        let (data, tag) = chunk.split_at(chunk.len() - TAG);
        let mut buffer = data.to_vec();
        cipher.decrypt_in_place_detached(&Nonce::from(counter), b"", &mut buffer, tag.into()).map_err(|_| DeliveryCryptoError::Corrupt)?;
        plain.extend_from_slice(&buffer);
        tags.extend_from_slice(tag);
        increment(&mut counter);
    }
    let recovered = signature.recover_address_from_prehash(&keccak256(&tags)).map_err(|_| DeliveryCryptoError::Corrupt)?;
    if recovered != signer {
        return Err(DeliveryCryptoError::WrongSigner(signer));
    }
    Ok(plain)
}

fn ecies_key(ephemeral: &[u8], shared: &[u8]) -> [u8; 32] {
    let mut master = Vec::with_capacity(ephemeral.len() + shared.len());
    master.extend_from_slice(ephemeral);
    master.extend_from_slice(shared);
    let mut key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, &master).expand(&[], &mut key).expect("32 bytes is a valid HKDF-SHA256 length");
    key
}

/// `secret` sealed to `receiver` as eciesjs 0.4 seals (what `decryptModel` opens).
pub fn seal_to(receiver: &k256::PublicKey, secret: &[u8]) -> Vec<u8> {
    let ephemeral = k256::SecretKey::random(&mut rand::rngs::OsRng);
    let ephemeral_public = ephemeral.public_key().to_encoded_point(false);
    let shared = (receiver.to_projective() * *ephemeral.to_nonzero_scalar()).to_affine().to_encoded_point(false);
    let key = ecies_key(ephemeral_public.as_bytes(), shared.as_bytes());
    let mut nonce = [0u8; ECIES_NONCE];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut buffer = secret.to_vec();
    let tag = EciesAes::new((&key).into()).encrypt_in_place_detached((&nonce).into(), b"", &mut buffer).expect("AES-GCM encrypts a key");
    let mut sealed = ephemeral_public.as_bytes().to_vec();
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&tag);
    sealed.extend_from_slice(&buffer);
    sealed
}

/// [`seal_to`]'s inverse, for the receiver.
pub fn open_sealed(receiver: &k256::SecretKey, sealed: &[u8]) -> Result<Vec<u8>, DeliveryCryptoError> {
    if sealed.len() < 65 + ECIES_NONCE + TAG {
        return Err(DeliveryCryptoError::Corrupt);
    }
    let ephemeral = k256::PublicKey::from_sec1_bytes(&sealed[..65]).map_err(|_| DeliveryCryptoError::Corrupt)?;
    let shared = (ephemeral.to_projective() * *receiver.to_nonzero_scalar()).to_affine().to_encoded_point(false);
    let key = ecies_key(&sealed[..65], shared.as_bytes());
    let (nonce, rest) = sealed[65..].split_at(ECIES_NONCE);
    let (tag, data) = rest.split_at(TAG);
    let mut combined = data.to_vec();
    combined.extend_from_slice(tag);
    EciesAes::new((&key).into()).decrypt(nonce.into(), combined.as_slice()).map_err(|_| DeliveryCryptoError::Corrupt)
}

/// The adapter's files as one zip (stored, not deflated: safetensors do not compress).
pub fn zip_files(files: &[(&str, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        writer.start_file(*name, options).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut writer, bytes)?;
    }
    Ok(writer.finish().map_err(std::io::Error::other)?.into_inner())
}

/// The files of a zip made by [`zip_files`] (for tests and for serving what was delivered).
pub fn unzip_files(bytes: &[u8]) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(std::io::Error::other)?;
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(std::io::Error::other)?;
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content)?;
        files.push((file.name().to_string(), content));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_round_trips_and_a_flipped_bit_or_another_signer_is_caught() {
        let signer = PrivateKeySigner::random();
        let (key, iv) = fresh_key();
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let file = encrypt_model(&plain, &key, iv, &signer);
        assert_eq!(file.len(), 65 + 12 + plain.len() + 16);
        assert_eq!(decrypt_model(&file, &key, signer.address()).unwrap(), plain);
        let mut flipped = file.clone();
        flipped[200] ^= 1;
        assert_eq!(decrypt_model(&flipped, &key, signer.address()), Err(DeliveryCryptoError::Corrupt));
        let other = Address::repeat_byte(9);
        assert_eq!(decrypt_model(&file, &key, other), Err(DeliveryCryptoError::WrongSigner(other)));
        assert_eq!(decrypt_model(&file[..50], &key, signer.address()), Err(DeliveryCryptoError::Corrupt));
    }

    #[test]
    fn a_sealed_key_opens_for_its_receiver_only() {
        let receiver = k256::SecretKey::random(&mut rand::rngs::OsRng);
        let sealed = seal_to(&receiver.public_key(), b"thirty-two bytes of model key!!!");
        assert_eq!(sealed.len(), 65 + 16 + 16 + 32);
        assert_eq!(open_sealed(&receiver, &sealed).unwrap(), b"thirty-two bytes of model key!!!");
        let stranger = k256::SecretKey::random(&mut rand::rngs::OsRng);
        assert_eq!(open_sealed(&stranger, &sealed), Err(DeliveryCryptoError::Corrupt));
    }

    #[test]
    fn the_signers_public_key_is_recovered_from_a_personal_signature() {
        let user = PrivateKeySigner::random();
        let digest = keccak256(b"task");
        let signature = user.sign_message_sync(digest.as_slice()).unwrap();
        let (address, public) = recover_personal(digest, &alloy_primitives::hex::encode_prefixed(signature.as_bytes())).unwrap();
        assert_eq!(address, user.address());
        assert_eq!(public, k256::PublicKey::from(user.credential().verifying_key()));
        assert_eq!(recover_personal(digest, "0x1234"), Err(DeliveryCryptoError::SignatureShape));
        assert!(matches!(recover_personal(digest, &"zz".repeat(65)), Err(DeliveryCryptoError::SignatureShape)));
    }

    #[test]
    fn adapters_zip_and_unzip() {
        let files = vec![("adapter_config.json", b"{}".to_vec()), ("adapter_model.safetensors", vec![1, 2, 3])];
        let zipped = zip_files(&files).unwrap();
        let back = unzip_files(&zipped).unwrap();
        assert_eq!(back, files.into_iter().map(|(n, b)| (n.to_string(), b)).collect::<Vec<_>>());
        assert!(unzip_files(b"not a zip").is_err());
    }
}
