//! Sealing of secrets at rest (pod credentials): ChaCha20-Poly1305 with a 256-bit key from the
//! configuration (or a key file), a random nonce per secret, stored as base64 `nonce || ct`.
//! Every Cascade instance sharing a database must share the key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use crate::{CoreError, Result};

/// Encrypts and decrypts secrets with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key>)")
    }
}

impl Sealer {
    /// A sealer from a base64-encoded 32-byte key.
    pub fn from_base64(key: &str) -> Result<Sealer> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|e| CoreError::internal(format!("secret key is not base64: {e}")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            CoreError::internal("secret key must be 32 bytes (base64 of 32 random bytes)")
        })?;
        Ok(Sealer {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        })
    }

    /// A new random key, base64-encoded.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<String> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), plaintext)
            .map_err(|_| CoreError::internal("cannot seal secret"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>> {
        let raw = STANDARD
            .decode(sealed)
            .map_err(|_| CoreError::internal("sealed secret is not base64"))?;
        if raw.len() < 12 {
            return Err(CoreError::internal("sealed secret is truncated"));
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| CoreError::internal("sealed secret is truncated"))?;
        self.cipher.decrypt(&Nonce::from(nonce), ct).map_err(|_| {
            CoreError::internal("cannot open sealed secret: wrong key or corrupted data")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let s = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let sealed = s.seal(b"hunter2").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(s.open(&sealed).unwrap(), b"hunter2");
        let other = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(Sealer::from_base64("c2hvcnQ=").is_err());
    }
}
