//! Cascade's HTTP surface. One listener serves every OpenStack service under a sub-path
//! (`/identity`, later `/compute/v2.1`, `/network`, `/volume/v3/{project_id}`, `/image`), the
//! admin API (`/v1.0`), `/healthz`, `/healthcheck` and `/metrics`. Handlers parse requests,
//! check policy and call `cascade-core`; they hold no business logic. Errors are rendered into
//! each service's wire format in one place ([`error`]); every route's rule is declared in one
//! table and checked before any handler ([`policy`]); the middleware stack is declared in
//! [`stack`].

mod admin;
mod auth;
mod body;
mod compute;
pub mod error;
mod health;
mod identity;
mod image;
mod jobs;
mod metrics;
mod network;
pub mod policy;
mod ratelimit;
mod stack;
mod state;
mod volume;

pub use metrics::HttpMetrics;
pub use ratelimit::AuthRateLimit;
pub use stack::{policy, router, routes};
pub use state::AppState;
