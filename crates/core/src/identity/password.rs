//! Password hashing with Argon2id (PHC string format, random salt per password).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::{CoreError, Result};

/// Argon2id takes ~19 MiB and tens of milliseconds per call: at most this many run at once
/// (about one per core), on blocking threads, so a burst of logins (every pod client signing
/// in after a restart) neither stalls the async runtime nor multiplies memory.
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`hash`] off the async threads, bounded by [`SLOTS`].
pub(crate) async fn hash_async(password: &str) -> Result<String> {
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|_| CoreError::internal("password slots closed"))?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|_| CoreError::internal("password hashing failed"))?
}

/// [`verify`] off the async threads, bounded by [`SLOTS`].
pub(crate) async fn verify_async(password: &str, phc: &str) -> bool {
    let Ok(_slot) = SLOTS.acquire().await else {
        return false;
    };
    let (password, phc) = (password.to_string(), phc.to_string());
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

pub(crate) fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| CoreError::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::internal(format!("cannot hash password: {e}")))
}

pub(crate) fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn async_forms_agree() {
        let h = super::hash_async("pw").await.unwrap();
        assert!(super::verify_async("pw", &h).await);
        assert!(!super::verify_async("nope", &h).await);
    }

    #[test]
    fn hashes_verify_and_differ() {
        let a = super::hash("secret").unwrap();
        let b = super::hash("secret").unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(super::verify("secret", &a));
        assert!(!super::verify("wrong", &a));
        assert!(!super::verify("secret", "not-a-hash"));
    }
}
