//! Per-source rate limiting of failed `POST /identity/v3/auth/tokens`: one token bucket per
//! client address (an IPv6 client by its /64, which one host usually holds whole), charged one
//! token per failed authentication, so a single source cannot guess passwords at line rate. A
//! source whose failures emptied its bucket is refused (429) before any password work; a
//! source that only succeeds (Tempest's workers signing in their test users) is never slowed,
//! and the Argon2 slots are guarded by their own bounded queue (`identity::password`). The table of buckets is
//! bounded: buckets that have refilled (idle sources) are dropped when it fills or once a
//! minute, and a table still full after that gives up its oldest entries. The binary attaches
//! one [`AuthRateLimit`] to the router as an extension; without it nothing is limited.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use cascade_model::fault::Service;
use http::HeaderValue;
use tokio::time::Instant;

use crate::error::ApiError;

/// Sources tracked at once by default.
const DEFAULT_MAX_SOURCES: usize = 100_000;
/// How often idle buckets are dropped even when the table is not full.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The shared limiter (cheap to clone).
#[derive(Debug, Clone)]
pub struct AuthRateLimit(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Tokens per second; 0 turns the limit off.
    rate: f64,
    burst: f64,
    max_sources: usize,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    swept: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The key of a source: its IPv4 address, or the /64 of its IPv6 address.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl AuthRateLimit {
    /// `rate_per_sec` sustained, `burst` at once, per source; a rate of 0 (or less) is no limit.
    pub fn new(rate_per_sec: f64, burst: u32) -> AuthRateLimit {
        AuthRateLimit::with_max_sources(rate_per_sec, burst, DEFAULT_MAX_SOURCES)
    }

    /// Like [`AuthRateLimit::new`] with a bound on the sources tracked at once.
    pub fn with_max_sources(rate_per_sec: f64, burst: u32, max_sources: usize) -> AuthRateLimit {
        AuthRateLimit(Arc::new(Inner {
            rate: if rate_per_sec.is_finite() {
                rate_per_sec.max(0.0)
            } else {
                0.0
            },
            burst: f64::from(burst.max(1)),
            max_sources: max_sources.max(1),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                swept: Instant::now(),
            }),
        }))
    }

    /// Whether `source` may try to authenticate now, or how long until it may: its failures
    /// have not used up its bucket. Takes nothing.
    pub fn admit(&self, source: IpAddr) -> Result<(), Duration> {
        self.take_at(source, Instant::now(), false)
    }

    /// Counts one failed authentication from `source`.
    pub fn charge(&self, source: IpAddr) {
        // An empty bucket stays empty: the answer is already a failure.
        let _ = self.take_at(source, Instant::now(), true);
    }

    /// Refills `source`'s bucket to `now`; with `take`, takes one token. Err: the bucket is
    /// empty, with the time until a token is back. A source without a bucket that only asks
    /// is not given one (the table holds only sources that failed).
    fn take_at(&self, source: IpAddr, now: Instant, take: bool) -> Result<(), Duration> {
        let inner = &*self.0;
        if inner.rate <= 0.0 {
            return Ok(());
        }
        let key = source_key(source);
        let mut table = inner.table.lock().unwrap_or_else(|p| p.into_inner());
        if !take && !table.buckets.contains_key(&key) {
            return Ok(());
        }
        if !table.buckets.contains_key(&key)
            && (table.buckets.len() >= inner.max_sources
                || now.duration_since(table.swept) >= SWEEP_EVERY)
        {
            inner.sweep(&mut table, now);
        }
        let bucket = table.buckets.entry(key).or_insert(Bucket {
            tokens: inner.burst,
            at: now,
        });
        let refilled = now.duration_since(bucket.at).as_secs_f64() * inner.rate;
        bucket.tokens = (bucket.tokens + refilled).min(inner.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            if take {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / inner.rate))
        }
    }

    #[cfg(test)]
    fn sources(&self) -> usize {
        let table = self.0.table.lock().unwrap_or_else(|p| p.into_inner());
        table.buckets.len()
    }
}

impl Inner {
    /// Drops the buckets that have refilled (forgetting them changes nothing); if the table is
    /// still full, drops the least recently used tenth, so a flood of new sources pays for
    /// one sort per many inserts.
    fn sweep(&self, table: &mut Table, now: Instant) {
        table.swept = now;
        let (rate, burst) = (self.rate, self.burst);
        table
            .buckets
            .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        if table.buckets.len() >= self.max_sources {
            let excess = (self.max_sources / 10).max(1);
            let mut by_age: Vec<(Instant, IpAddr)> =
                table.buckets.iter().map(|(k, b)| (b.at, *k)).collect();
            by_age.sort_unstable();
            for (_, k) in by_age.into_iter().take(excess) {
                table.buckets.remove(&k);
            }
        }
    }
}

/// The refusal: 429 in Keystone's envelope with `Retry-After` in whole seconds.
pub(crate) fn too_many_requests(retry_after: Duration) -> Response {
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut resp = ApiError::new(
        Service::Identity,
        429,
        "Too many authentication requests from this address; please retry later.",
    )
    .into_response();
    resp.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_refill_per_source() {
        let l = AuthRateLimit::new(2.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take_at(ip("10.0.0.1"), t0, true).is_ok());
        }
        let wait = l.take_at(ip("10.0.0.1"), t0, true).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        // Another source has its own bucket.
        assert!(l.take_at(ip("10.0.0.2"), t0, true).is_ok());
        // Half a second later one token is back.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.take_at(ip("10.0.0.1"), t1, true).is_ok());
        assert!(l.take_at(ip("10.0.0.1"), t1, true).is_err());
        // One IPv6 host's /64 is one source.
        let l = AuthRateLimit::new(1.0, 1);
        assert!(l.take_at(ip("2001:db8::1"), t0, true).is_ok());
        assert!(l.take_at(ip("2001:db8::2"), t0, true).is_err());
        assert!(l.take_at(ip("2001:db8:0:1::1"), t0, true).is_ok());
    }

    #[test]
    fn asking_takes_nothing_and_adds_no_source() {
        let l = AuthRateLimit::new(1.0, 2);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.take_at(ip("10.0.0.1"), t0, false).is_ok());
        }
        assert_eq!(l.sources(), 0);
        // Two failures empty the bucket; then even asking is refused until a token is back.
        assert!(l.take_at(ip("10.0.0.1"), t0, true).is_ok());
        assert!(l.take_at(ip("10.0.0.1"), t0, true).is_ok());
        assert!(l.take_at(ip("10.0.0.1"), t0, false).is_err());
        assert!(
            l.take_at(ip("10.0.0.1"), t0 + Duration::from_secs(1), false)
                .is_ok()
        );
    }

    #[test]
    fn zero_rate_is_no_limit() {
        let l = AuthRateLimit::new(0.0, 1);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(l.take_at(ip("10.0.0.1"), t0, true).is_ok());
        }
        assert_eq!(l.sources(), 0);
    }

    #[test]
    fn the_table_is_bounded() {
        let l = AuthRateLimit::with_max_sources(1.0, 5, 100);
        let t0 = Instant::now();
        for i in 0..1000u32 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.take_at(a, t0, true).is_ok());
            assert!(l.sources() <= 100);
        }
        // Once idle long enough to refill, a source's bucket is dropped at the next sweep.
        let later = t0 + Duration::from_secs(3600);
        assert!(l.take_at(ip("192.0.2.1"), later, true).is_ok());
        assert_eq!(l.sources(), 1);
    }
}
