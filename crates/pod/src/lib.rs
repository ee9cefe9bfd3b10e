//! The pod client: everything Cascade does to a child cloud goes through one [`PodClient`] per
//! pod. It authenticates to the pod's Keystone (or the shared one) with the pod's service
//! credentials, discovers the pod's endpoints by region from the catalog (explicit endpoints
//! win), caches the token and re-authenticates once on 401, puts a deadline on every call,
//! bounds the calls in flight per pod, and keeps a circuit breaker whose state feeds the pod
//! state. This crate never sees tenants' top ids: it speaks the pod's own ids only.

mod breaker;
mod client;
mod error;
mod metrics;
mod stream;

pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use client::{Credentials, PodClient, PodClientConfig, PodResponse, Probe};
pub use error::{PodError, PodErrorKind};
pub use metrics::PodMetrics;
pub use stream::PodDownload;
