//! The per-pod circuit breaker: closed while calls succeed; open after `failure_threshold`
//! consecutive failures, failing calls fast for `open_for`; then half-open, letting one trial
//! call through, which closes it on success or re-opens it on failure. The scheduler and the
//! health checker read its state, not only the HTTP path.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Tuning of a [`Breaker`].
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

/// The state a breaker shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// A circuit breaker for one pod.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.opened_at {
            None => BreakerState::Closed,
            Some(at) if at.elapsed() >= self.config.open_for => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    /// Asks to make a call: `true` when allowed (closed, or the one half-open trial).
    pub fn try_acquire(&self) -> bool {
        let mut inner = self.lock();
        match inner.opened_at {
            None => true,
            Some(at) if at.elapsed() >= self.config.open_for && !inner.trial_in_flight => {
                inner.trial_in_flight = true;
                true
            }
            Some(_) => false,
        }
    }

    /// Records a call that the pod answered properly.
    pub fn on_success(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        inner.opened_at = None;
        inner.trial_in_flight = false;
    }

    /// Records a call that failed because of the pod.
    pub fn on_failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if inner.trial_in_flight || inner.consecutive_failures >= self.config.failure_threshold {
            inner.opened_at = Some(Instant::now());
        }
        inner.trial_in_flight = false;
    }

    /// Records a call that ended without telling anything about the pod (e.g. a 404).
    pub fn on_neutral(&self) {
        let mut inner = self.lock();
        if inner.trial_in_flight {
            inner.consecutive_failures = 0;
            inner.opened_at = None;
            inner.trial_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_and_recovers_through_half_open() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(5),
        });
        for _ in 0..2 {
            assert!(b.try_acquire());
            b.on_failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire());
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.try_acquire(), "open breaker fails fast");

        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.try_acquire(), "one trial call");
        assert!(!b.try_acquire(), "only one trial at a time");
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open, "failed trial re-opens");

        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(b.try_acquire());
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire());
    }

    #[test]
    fn successes_reset_the_count() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_secs(5),
        });
        b.on_failure();
        b.on_success();
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
