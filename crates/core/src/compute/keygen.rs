//! Key pairs Nova generates for a create without `public_key` (microversions below 2.92): an
//! Ed25519 key, the public half as an OpenSSH line and the private half in OpenSSH's own
//! unencrypted format (`-----BEGIN OPENSSH PRIVATE KEY-----`), which `ssh` reads as it is.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;

const KEY_TYPE: &[u8] = b"ssh-ed25519";

/// A generated key pair: the OpenSSH public key line and the private key file.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct GeneratedKey {
    pub(crate) public_key: String,
    pub(crate) private_key: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn public_blob(public: &[u8; 32]) -> Vec<u8> {
    let mut blob = Vec::new();
    put_string(&mut blob, KEY_TYPE);
    put_string(&mut blob, public);
    blob
}

/// Makes a new Ed25519 key pair; `comment` ends the public line and is stored in the private
/// key, as `ssh-keygen -C` does.
pub(crate) fn generate(comment: &str) -> GeneratedKey {
    let seed: [u8; 32] = rand::random();
    from_seed(&seed, rand::random(), comment)
}

fn from_seed(seed: &[u8; 32], check: u32, comment: &str) -> GeneratedKey {
    let signing = SigningKey::from_bytes(seed);
    let public = signing.verifying_key().to_bytes();
    let blob = public_blob(&public);
    let public_key = format!("ssh-ed25519 {} {comment}", STANDARD.encode(&blob));

    // The private section: two equal check words, the key, its comment, padding 1, 2, 3...
    let mut private = Vec::new();
    private.extend_from_slice(&check.to_be_bytes());
    private.extend_from_slice(&check.to_be_bytes());
    put_string(&mut private, KEY_TYPE);
    put_string(&mut private, &public);
    let mut secret = Vec::with_capacity(64);
    secret.extend_from_slice(seed);
    secret.extend_from_slice(&public);
    put_string(&mut private, &secret);
    put_string(&mut private, comment.as_bytes());
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }

    let mut file = Vec::new();
    file.extend_from_slice(b"openssh-key-v1\0");
    put_string(&mut file, b"none");
    put_string(&mut file, b"none");
    put_string(&mut file, b"");
    file.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut file, &blob);
    put_string(&mut file, &private);
    let encoded = STANDARD.encode(&file);
    let mut private_key = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for chunk in encoded.as_bytes().chunks(70) {
        private_key.push_str(&String::from_utf8_lossy(chunk));
        private_key.push('\n');
    }
    private_key.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    GeneratedKey {
        public_key,
        private_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_matches_rfc8032_vector_and_private_file_is_openssh() {
        // RFC 8032 test 1: this secret key has this public key.
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let k = from_seed(&seed, 7, "Generated-by-Nova");
        let mut parts = k.public_key.split(' ');
        assert_eq!(parts.next(), Some("ssh-ed25519"));
        let blob = STANDARD.decode(parts.next().unwrap()).unwrap();
        assert_eq!(parts.next(), Some("Generated-by-Nova"));
        assert_eq!(&blob[..4], &11u32.to_be_bytes());
        assert_eq!(&blob[4..15], b"ssh-ed25519");
        let public_hex: String = blob[19..].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            public_hex,
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );

        let body: String = k
            .private_key
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(
            k.private_key
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        );
        assert!(
            k.private_key
                .ends_with("-----END OPENSSH PRIVATE KEY-----\n")
        );
        let file = STANDARD.decode(body).unwrap();
        assert!(file.starts_with(b"openssh-key-v1\0"));
        // After magic, cipher "none", kdf "none", empty options, one key and its public blob
        // comes the private section, a whole number of 8-byte blocks.
        let at = 15 + 8 + 8 + 4 + 4 + 4 + blob.len();
        let private_len = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
        assert_eq!(private_len % 8, 0);
        assert_eq!(file.len(), at + 4 + private_len);
        assert!(format!("{k:?}").contains("<redacted>"));
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(generate("a").public_key, generate("a").public_key);
    }
}
