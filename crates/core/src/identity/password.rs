//! Password hashing with Argon2id (PHC string format, random salt per password).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::{CoreError, ErrorKind, Result};

/// Argon2id takes ~19 MiB and tens of milliseconds per call: at most this many run at once
/// (about one per core), on blocking threads, so a burst of logins (every pod client signing
/// in after a restart) neither stalls the async runtime nor multiplies memory.
const SLOTS: usize = 2;

/// How password checks wait for a slot.
#[derive(Debug, Clone, Copy)]
pub struct PasswordLimits {
    /// Checks that may wait for a slot at once; one more is refused with 503 at once.
    pub queue: usize,
    /// How long a check may wait for a slot before it is refused with 503.
    pub queue_timeout: Duration,
}

impl Default for PasswordLimits {
    fn default() -> Self {
        PasswordLimits {
            queue: 64,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

/// The refusal when the queue is full or the wait too long (Keystone answers 503 when it is
/// overloaded).
fn busy() -> CoreError {
    CoreError::new(
        ErrorKind::Unavailable,
        "The service is temporarily unavailable: too many password checks are waiting. Please try again later.",
    )
}

/// A password check that no stored hash matches: an unknown user (or one without a password)
/// is verified against it, so such a request costs the same Argon2 work as a real one and its
/// timing does not tell which users exist. Computed once, on a blocking thread.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("cascade-dummy-password").unwrap_or_default());

/// The bounded queue in front of the Argon2 slots: at most [`SLOTS`] hashes run at once and
/// at most `queue` more wait, each for at most `queue_timeout`.
#[derive(Debug)]
pub(crate) struct PasswordGate {
    /// Running plus waiting checks.
    admitted: Semaphore,
    running: Semaphore,
    queue_timeout: Duration,
    /// Argon2 verifications performed (tests read it).
    verifies: AtomicU64,
}

impl PasswordGate {
    pub(crate) fn new(limits: PasswordLimits) -> PasswordGate {
        PasswordGate {
            admitted: Semaphore::new(SLOTS + limits.queue),
            running: Semaphore::new(SLOTS),
            queue_timeout: limits.queue_timeout,
            verifies: AtomicU64::new(0),
        }
    }

    /// Waits for a slot within the queue's bounds; the permits free the slot when dropped.
    async fn slot(&self) -> Result<(SemaphorePermit<'_>, SemaphorePermit<'_>)> {
        let admitted = self.admitted.try_acquire().map_err(|_| busy())?;
        let running = tokio::time::timeout(self.queue_timeout, self.running.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| CoreError::internal("password slots closed"))?;
        Ok((admitted, running))
    }

    /// [`hash`] off the async threads, through the queue.
    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        let _slot = self.slot().await?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash(&password))
            .await
            .map_err(|_| CoreError::internal("password hashing failed"))?
    }

    /// [`verify`] off the async threads, through the queue. `phc` `None` (an unknown user, or
    /// one without a password) verifies against [`DUMMY_HASH`] and answers false, in the same
    /// time as a wrong password.
    pub(crate) async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        let _slot = self.slot().await?;
        self.verifies.fetch_add(1, Ordering::Relaxed);
        let (password, phc) = (password.to_string(), phc.map(str::to_string));
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => verify(&password, &phc),
            None => {
                verify(&password, &DUMMY_HASH);
                false
            }
        })
        .await
        .map_err(|_| CoreError::internal("password verification failed"))
    }

    #[cfg(test)]
    pub(crate) fn verifies(&self) -> u64 {
        self.verifies.load(Ordering::Relaxed)
    }
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
    use std::time::Duration;

    use super::{PasswordGate, PasswordLimits};
    use crate::ErrorKind;

    #[tokio::test]
    async fn async_forms_agree() {
        let gate = PasswordGate::new(PasswordLimits::default());
        let h = gate.hash("pw").await.unwrap();
        assert!(gate.verify("pw", Some(&h)).await.unwrap());
        assert!(!gate.verify("nope", Some(&h)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_costs_a_verification() {
        let gate = PasswordGate::new(PasswordLimits::default());
        assert!(!gate.verify("pw", None).await.unwrap());
        assert!(!gate.verify("cascade-dummy-password", None).await.unwrap());
        assert_eq!(gate.verifies(), 2);
    }

    #[tokio::test]
    async fn a_full_queue_or_a_long_wait_is_unavailable() {
        // No queue at all: with both slots taken, a third check is refused at once.
        let gate = PasswordGate::new(PasswordLimits {
            queue: 0,
            queue_timeout: Duration::from_secs(60),
        });
        let held = (gate.slot().await.unwrap(), gate.slot().await.unwrap());
        let started = std::time::Instant::now();
        let e = gate.verify("pw", None).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(held);
        assert!(!gate.verify("pw", None).await.unwrap());

        // A queue, but the wait outlasts its timeout.
        let gate = PasswordGate::new(PasswordLimits {
            queue: 4,
            queue_timeout: Duration::from_millis(100),
        });
        let _held = (gate.slot().await.unwrap(), gate.slot().await.unwrap());
        let e = gate.hash("pw").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(e.kind.status(), 503);
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
