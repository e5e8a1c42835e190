//! The cryptography of personal data, and nothing else: AES-256-GCM with a fresh random nonce
//! per sealed value (a data key sealing a reporter's fields, the master key wrapping a data
//! key), and HMAC-SHA256 for the blind index and for deriving keys from the master key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// An AES-256 key.
pub type Key = [u8; 32];

const NONCE_LEN: usize = 12;

/// A sealed value could not be opened: wrong key, wrong context, or tampered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sealed value does not open with this key (wrong key, wrong context or tampered)")]
pub struct OpenError;

/// A fresh random key.
pub fn random_key() -> Key {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// `nonce || ciphertext || tag` of `plaintext` under `key`, bound to `context` (authenticated,
/// not stored): a value sealed for one field or key reference does not open as another.
pub fn seal(key: &Key, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(key.into());
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
        .expect("AES-GCM encrypts any message shorter than 64 GiB");
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// The plaintext of a value [`seal`]ed under `key` with `context`.
pub fn open(key: &Key, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < NONCE_LEN {
        return Err(OpenError);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: context })
        .map_err(|_| OpenError)
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let key = random_key();
        let sealed = seal(&key, "13800138000".as_bytes(), b"phone");
        assert!(!sealed.windows(11).any(|w| w == b"13800138000"), "the plaintext is not in the sealed bytes");
        assert_eq!(open(&key, &sealed, b"phone").unwrap(), b"13800138000");
        assert_eq!(open(&key, &sealed, b"name"), Err(OpenError), "another field's context");
        assert_eq!(open(&random_key(), &sealed, b"phone"), Err(OpenError), "another key");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&key, &tampered, b"phone"), Err(OpenError));
        assert_eq!(open(&key, &sealed[..5], b"phone"), Err(OpenError));
    }

    #[test]
    fn every_seal_draws_a_fresh_nonce() {
        let key = random_key();
        assert_ne!(seal(&key, b"same", b"c"), seal(&key, b"same", b"c"));
    }

    #[test]
    fn the_hmac_is_rfc_4231_test_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
