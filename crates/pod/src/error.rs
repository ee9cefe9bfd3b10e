//! The pod client's error: what failed, whether the pod or the network is to blame, and
//! whether the same call may be retried (pingora's error classification, for one pod).

/// What went wrong talking to a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodErrorKind {
    /// The deadline passed before the pod answered.
    Timeout,
    /// The connection could not be made (refused, reset, DNS).
    Connect,
    /// The breaker is open: the pod failed repeatedly and is not called for a while.
    CircuitOpen,
    /// Too many calls already in flight to this pod.
    Busy,
    /// The pod's identity refused the credentials, or no credentials are configured.
    Auth,
    /// The pod has no endpoint for the service type.
    NoEndpoint,
    /// The pod answered with an error status (the body is kept for re-rendering).
    Status(u16),
    /// The pod's answer could not be understood.
    Protocol,
}

/// An error from one pod call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("pod {region}: {message}")]
pub struct PodError {
    pub region: String,
    pub kind: PodErrorKind,
    pub message: String,
    /// The body of a [`PodErrorKind::Status`] answer.
    pub body: Option<String>,
}

impl PodError {
    pub(crate) fn new(region: &str, kind: PodErrorKind, message: impl Into<String>) -> PodError {
        PodError {
            region: region.to_string(),
            kind,
            message: message.into(),
            body: None,
        }
    }

    /// Whether a later retry of the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            PodErrorKind::Timeout
            | PodErrorKind::Connect
            | PodErrorKind::CircuitOpen
            | PodErrorKind::Busy => true,
            PodErrorKind::Status(s) => s >= 500 || s == 429,
            PodErrorKind::Auth | PodErrorKind::NoEndpoint | PodErrorKind::Protocol => false,
        }
    }

    /// Whether this error says something about the pod's health (counts against the breaker).
    pub fn is_pod_failure(&self) -> bool {
        match self.kind {
            PodErrorKind::Timeout | PodErrorKind::Connect | PodErrorKind::Protocol => true,
            PodErrorKind::Status(s) => s >= 500,
            _ => false,
        }
    }
}
