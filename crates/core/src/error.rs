//! The core's error: a kind that maps to an HTTP status, a message meant for the API caller,
//! an optional detail meant only for operators (a pod's endpoint, a transport error: logged
//! and kept in admin views such as jobs and server fault details, never sent to a tenant), and
//! whether retrying may help. Rendering into each service's wire format happens in
//! `cascade-api`, in one place.

use cascade_pod::PodError;
use cascade_store::StoreError;

/// What kind of failure, as the caller should see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    /// Over a quota or a size limit (413, Cinder's `overLimit`).
    OverLimit,
    /// A dependency (pod, external identity, database) is unavailable.
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Unprocessable => 422,
            ErrorKind::OverLimit => 413,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// An error of the control plane.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CoreError {
    pub kind: ErrorKind,
    pub message: String,
    /// What only operators may see (pod endpoints, bottom ids, transport errors).
    pub detail: Option<String>,
    pub retryable: bool,
}

impl CoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CoreError {
        CoreError {
            kind,
            message: message.into(),
            detail: None,
            retryable: matches!(kind, ErrorKind::Unavailable),
        }
    }
    /// The message with the operator-only detail, for logs and admin views.
    pub fn full(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.message),
            None => self.message.clone(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> CoreError {
        CoreError::new(ErrorKind::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> CoreError {
        CoreError::new(ErrorKind::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> CoreError {
        CoreError::new(ErrorKind::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> CoreError {
        CoreError::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> CoreError {
        CoreError::new(ErrorKind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> CoreError {
        CoreError::new(ErrorKind::Internal, message)
    }
}

impl From<StoreError> for CoreError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => CoreError::not_found("Could not find the requested resource."),
            StoreError::Conflict(m) => {
                CoreError::conflict(format!("Conflict occurred attempting to store: {m}"))
            }
            StoreError::Constraint(m) => CoreError::conflict(m),
            StoreError::Backend(e) => {
                tracing::error!(error = %e, "database failure");
                CoreError::new(ErrorKind::Unavailable, "The database is unavailable.")
            }
            StoreError::Config(m) | StoreError::Migrate(m) => CoreError::internal(m),
        }
    }
}

/// What a tenant reads when a pod call fails: Nova's and Cinder's answer when a backend is
/// unreachable names neither the backend nor the transport error.
pub(crate) const POD_UNAVAILABLE: &str =
    "The service is unavailable in the requested availability zone; please try again later.";

impl From<PodError> for CoreError {
    /// The pod, its endpoint and the transport error go to the detail only.
    fn from(err: PodError) -> Self {
        let mut e = CoreError::new(ErrorKind::Unavailable, POD_UNAVAILABLE);
        e.detail = Some(err.to_string());
        e.retryable = err.is_retryable();
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_errors_keep_their_endpoint_in_the_detail_only() {
        let pod = PodError {
            region: "Pod1".into(),
            kind: cascade_pod::PodErrorKind::Connect,
            message: "cannot connect: error sending request for url (http://127.0.0.1:9/compute/v2.1/servers)".into(),
            body: None,
        };
        let e = CoreError::from(pod);
        assert!(!e.message.contains("127.0.0.1") && !e.message.contains("Pod1"));
        assert!(!e.to_string().contains("127.0.0.1"));
        assert!(e.full().contains("http://127.0.0.1:9"));
        assert!(e.retryable);
    }
}
