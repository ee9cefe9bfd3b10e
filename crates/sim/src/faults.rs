//! Fault injection. A region's faults live in a `tokio::sync::watch` channel so that the
//! listener (for `down`), the fault middleware (latency, error rates, `hang`) and the models
//! (slow builds, exhausted capacity) all see changes at once. Faults are set in
//! [`crate::RegionSpec::faults`], with [`crate::SimHandle::set_faults`], or over HTTP with
//! `POST /sim/faults` (replaces the whole set), `DELETE /sim/faults` and `GET /sim/faults`;
//! `POST /sim/regions/{name}/faults` reaches a region whose own listener is down.
//!
//! Simplifications: error rates apply per request path prefix and method-agnostically;
//! `hang` holds every request until the fault is cleared (then answers normally); `down`
//! closes the listening socket (new connections are refused) and resets kept-alive
//! connections at their next request, then re-binds the same port when cleared.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Service};
use crate::server::Ctx;

/// Added latency: uniform in `min_ms..=max_ms` (equal bounds for a fixed delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// Lower bound in milliseconds.
    pub min_ms: u64,
    /// Upper bound in milliseconds.
    pub max_ms: u64,
}

impl Latency {
    /// A fixed delay.
    pub fn fixed(ms: u64) -> Self {
        Latency {
            min_ms: ms,
            max_ms: ms,
        }
    }
    fn sample(&self) -> Duration {
        let (lo, hi) = (self.min_ms.min(self.max_ms), self.min_ms.max(self.max_ms));
        let ms = lo + (crate::util::rand_f64() * (hi - lo + 1) as f64) as u64;
        Duration::from_millis(ms.min(hi))
    }
}

/// Fails a fraction of the requests whose path starts with `prefix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRule {
    /// Request path prefix, e.g. `/compute/v2.1/servers` or `/network`.
    pub prefix: String,
    /// Fraction in `0.0..=1.0`.
    pub rate: f64,
    /// Status code answered (500 by default; 503 is the other usual choice).
    #[serde(default = "default_status")]
    pub status: u16,
}

fn default_status() -> u16 {
    500
}

/// The faults of one region. Every field defaults to "no fault".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultSpec {
    /// Latency added before every service request.
    pub latency: Option<Latency>,
    /// Error rates per path prefix (first matching rule wins).
    pub errors: Vec<ErrorRule>,
    /// The listener is closed: connections are refused.
    pub down: bool,
    /// Requests are accepted but not answered until the fault is cleared.
    pub hang: bool,
    /// Overrides the region's build time (a "slow build").
    pub build_time_ms: Option<u64>,
    /// The hypervisors report no free capacity: new servers go to ERROR.
    pub capacity_exhausted: bool,
    /// Server and volume lists (`GET …/servers[/detail]`, `…/volumes[/detail]`) answer an
    /// empty list, as a region whose service user lost its admin role answers `all_tenants`
    /// (single reads by id still answer).
    pub empty_lists: bool,
}

impl FaultSpec {
    /// No fault at all.
    pub fn none() -> Self {
        Self::default()
    }
    /// A fixed latency.
    pub fn latency_ms(ms: u64) -> Self {
        FaultSpec {
            latency: Some(Latency::fixed(ms)),
            ..Self::default()
        }
    }
    /// The region is unreachable.
    pub fn down() -> Self {
        FaultSpec {
            down: true,
            ..Self::default()
        }
    }
    /// The region accepts connections but never answers.
    pub fn hang() -> Self {
        FaultSpec {
            hang: true,
            ..Self::default()
        }
    }
    /// A fraction of requests under `prefix` fail with `status`.
    pub fn error_rate(prefix: impl Into<String>, rate: f64, status: u16) -> Self {
        FaultSpec {
            errors: vec![ErrorRule {
                prefix: prefix.into(),
                rate,
                status,
            }],
            ..Self::default()
        }
    }
    pub(crate) fn validate(&self) -> Result<(), String> {
        for r in &self.errors {
            if !(0.0..=1.0).contains(&r.rate) {
                return Err(format!("error rate {} is not within 0..1", r.rate));
            }
            if !(400..=599).contains(&r.status) {
                return Err(format!("status {} is not an error status", r.status));
            }
        }
        Ok(())
    }
}

/// Applies hang, latency and error-rate faults to every request except the `/sim` admin API
/// and `/healthcheck`'s own hang (a hung region's health check hangs too).
pub(crate) async fn fault_layer(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/sim") {
        return next.run(req).await;
    }
    let mut rx = ctx.region.faults.subscribe();
    loop {
        if !rx.borrow_and_update().hang {
            break;
        }
        if rx.changed().await.is_err() {
            break;
        }
    }
    let spec = ctx.region.faults.borrow().clone();
    if let Some(lat) = spec.latency {
        tokio::time::sleep(lat.sample()).await;
    }
    if spec.empty_lists && req.method() == axum::http::Method::GET {
        let collection = if path.ends_with("/servers") || path.ends_with("/servers/detail") {
            Some("servers")
        } else if path.ends_with("/volumes") || path.ends_with("/volumes/detail") {
            Some("volumes")
        } else {
            None
        };
        if let Some(key) = collection {
            return axum::response::IntoResponse::into_response(axum::Json(
                serde_json::json!({ key: [] }),
            ));
        }
    }
    if let Some(rule) = spec.errors.iter().find(|r| path.starts_with(&r.prefix))
        && crate::util::rand_f64() < rule.rate
    {
        let service = Service::of_path(&path);
        let msg = format!(
            "Injected fault: the simulated {} service failed this request.",
            ctx.region.name
        );
        let kind = if rule.status == 503 {
            "ServiceUnavailable"
        } else {
            "InjectedFault"
        };
        return crate::error::render(&ApiError::new(service, rule.status, kind, msg));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_samples_stay_in_bounds() {
        let l = Latency {
            min_ms: 5,
            max_ms: 9,
        };
        for _ in 0..200 {
            let d = l.sample().as_millis() as u64;
            assert!((5..=9).contains(&d), "{d}");
        }
        assert_eq!(Latency::fixed(7).sample(), Duration::from_millis(7));
    }

    #[test]
    fn spec_round_trips_and_validates() {
        let s: FaultSpec =
            serde_json::from_str(r#"{"errors":[{"prefix":"/network","rate":0.5}]}"#).unwrap();
        assert_eq!(s.errors[0].status, 500);
        assert!(s.validate().is_ok());
        assert!(FaultSpec::error_rate("/x", 1.5, 500).validate().is_err());
        assert!(FaultSpec::error_rate("/x", 0.5, 200).validate().is_err());
    }
}
