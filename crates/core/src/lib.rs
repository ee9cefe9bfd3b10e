//! Cascade's control-plane logic, between the HTTP layer (`cascade-api`) and the outside world
//! (`cascade-store`, `cascade-pod`): the identity service (embedded Keystone or a real one),
//! the service catalog Cascade publishes, the pod registry with its health checker, and the
//! routing table's admin view. Nothing here parses HTTP requests.

pub mod catalog;
pub mod compute;
mod error;
pub mod identity;
pub mod image;
pub mod jobs;
pub mod network;
pub mod pods;
pub mod routing_lock;
pub mod routings;
pub mod secrets;
pub mod volume;

pub use error::{CoreError, ErrorKind};

/// Result alias of this crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
