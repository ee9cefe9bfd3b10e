//! x509 key pairs (`type: x509`, microversion 2.2): Nova generates a self-signed certificate
//! and its private key when no `public_key` is given, and fingerprints a certificate by the
//! SHA-1 of its DER encoding. Cascade's certificates are Ed25519 (RFC 8410), encoded here in
//! DER by hand: version 3, a random serial, `CN=<project>-<user>` as subject and issuer, ten
//! years of validity; the private key is PKCS#8 PEM.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey};
use sha1::{Digest, Sha1};

/// `AlgorithmIdentifier { id-Ed25519 }`.
const ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn name(cn: &str) -> Vec<u8> {
    let atv = seq(&[&[0x06, 0x03, 0x55, 0x04, 0x03], &tlv(0x0c, cn.as_bytes())]);
    let org = seq(&[&[0x06, 0x03, 0x55, 0x04, 0x0a], &tlv(0x0c, b"OpenStack")]);
    seq(&[&tlv(0x31, &org), &tlv(0x31, &atv)])
}

fn utc_time(t: DateTime<Utc>) -> Vec<u8> {
    tlv(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A self-signed certificate (PEM) and its PKCS#8 private key (PEM).
pub(crate) fn generate(common_name: &str, now: DateTime<Utc>) -> (String, String) {
    let seed: [u8; 32] = rand::random();
    let key = SigningKey::from_bytes(&seed);
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let spki = seq(&[
        ED25519,
        &tlv(
            0x03,
            &[&[0u8][..], &key.verifying_key().to_bytes()].concat(),
        ),
    ]);
    let subject = name(common_name);
    let validity = seq(&[
        &utc_time(now),
        &utc_time(now + chrono::Duration::days(3650)),
    ]);
    let tbs = seq(&[
        &[0xa0, 0x03, 0x02, 0x01, 0x02],
        &tlv(0x02, &serial),
        ED25519,
        &subject,
        &validity,
        &subject,
        &spki,
    ]);
    let signature = key.sign(&tbs).to_bytes();
    let cert = seq(&[
        &tbs,
        ED25519,
        &tlv(0x03, &[&[0u8][..], &signature].concat()),
    ]);
    let private = seq(&[&[0x02, 0x01, 0x00], ED25519, &tlv(0x04, &tlv(0x04, &seed))]);
    (pem("CERTIFICATE", &cert), pem("PRIVATE KEY", &private))
}

/// Nova's x509 fingerprint: the SHA-1 of the certificate's DER, colon-separated hex; `None`
/// when the text is not a PEM certificate.
pub(crate) fn fingerprint(cert_pem: &str) -> Option<String> {
    let body = cert_pem
        .trim()
        .strip_prefix("-----BEGIN CERTIFICATE-----")?
        .strip_suffix("-----END CERTIFICATE-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).ok()?;
    if der.first() != Some(&0x30) {
        return None;
    }
    Some(
        Sha1::digest(&der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_parse_and_fingerprint() {
        let (cert, key) = generate("p-u", Utc::now());
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let fp = fingerprint(&cert).unwrap();
        assert_eq!(fp.len(), 59);
        assert_eq!(fp.matches(':').count(), 19);
        assert!(fingerprint("ssh-rsa AAAA").is_none());
        assert!(
            fingerprint("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_none()
        );
    }
}
