//! Errors: [`SimError`] for the library API, and [`ApiError`], the one error type every
//! simulated service returns from its handlers. `ApiError` is rendered in exactly one place,
//! [`render`], in the envelope of the service that raised it: Nova and Cinder
//! `{"itemNotFound": {"code": 404, "message": ...}}`, Neutron
//! `{"NeutronError": {"type", "message", "detail": ""}}`, Glance's webob HTML page, Keystone
//! `{"error": {"code", "title", "message"}}`, and plain JSON for the `/sim` admin API.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// Errors of the library API (starting, configuring, persisting).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address that failed.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration is inconsistent (duplicate region names, bad identity URL...).
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The state file could not be read or written.
    #[error("state file {path}: {message}")]
    State {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No region with that name.
    #[error("no simulated region named {0:?}")]
    UnknownRegion(String),
}

/// Which wire format an error must be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Compute,
    Network,
    Volume,
    Image,
    Identity,
    Admin,
}

impl Service {
    /// Which service a request path belongs to, for errors raised outside any handler
    /// (authentication, injected faults).
    pub(crate) fn of_path(path: &str) -> Service {
        if path.starts_with("/compute") {
            Service::Compute
        } else if path.starts_with("/network") {
            Service::Network
        } else if path.starts_with("/volume") {
            Service::Volume
        } else if path.starts_with("/image") {
            Service::Image
        } else if path.starts_with("/identity") {
            Service::Identity
        } else {
            Service::Admin
        }
    }
}

/// An error answered to a client.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) service: Service,
    pub(crate) status: StatusCode,
    /// Neutron's exception class name (`NetworkNotFound`); ignored by other formats.
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(
        service: Service,
        status: u16,
        kind: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            service,
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            kind,
            message: message.into(),
        }
    }
    pub(crate) fn nova(status: u16, message: impl Into<String>) -> Self {
        Self::new(Service::Compute, status, "", message)
    }
    pub(crate) fn cinder(status: u16, message: impl Into<String>) -> Self {
        Self::new(Service::Volume, status, "", message)
    }
    pub(crate) fn neutron(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(Service::Network, status, kind, message)
    }
    pub(crate) fn glance(status: u16, message: impl Into<String>) -> Self {
        Self::new(Service::Image, status, "", message)
    }
    pub(crate) fn admin(status: u16, message: impl Into<String>) -> Self {
        Self::new(Service::Admin, status, "", message)
    }
    /// The same error in another service's format (used when one service's model calls
    /// into another's, e.g. Nova creating a Neutron port).
    pub(crate) fn into_service(mut self, service: Service) -> Self {
        self.service = service;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

/// Nova's `Fault._fault_names` (Cinder uses the same table).
fn nova_fault_name(status: u16) -> &'static str {
    match status {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders an error in its service's envelope.
pub(crate) fn render(err: &ApiError) -> Response {
    let code = err.status.as_u16();
    let mut resp = match err.service {
        Service::Compute | Service::Volume => {
            let name = nova_fault_name(code);
            let mut inner = serde_json::json!({"code": code, "message": err.message});
            if name == "overLimit" {
                inner["retryAfter"] = serde_json::json!("0");
            }
            (err.status, axum::Json(serde_json::json!({ name: inner }))).into_response()
        }
        Service::Network => {
            let kind = if err.kind.is_empty() { default_neutron_kind(code) } else { err.kind };
            (
                err.status,
                axum::Json(serde_json::json!({"NeutronError": {"type": kind, "message": err.message, "detail": ""}})),
            )
                .into_response()
        }
        Service::Image => {
            let t = format!("{} {}", code, title(err.status));
            let body = format!(
                "<html>\n <head>\n  <title>{t}</title>\n </head>\n <body>\n  <h1>{t}</h1>\n  {}<br /><br />\n\n\n\n </body>\n</html>",
                html_escape(&err.message)
            );
            let mut r = (err.status, body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=UTF-8"));
            r.extensions_mut().insert(GlanceError(err.message.clone()));
            r
        }
        Service::Identity => (
            err.status,
            axum::Json(serde_json::json!({"error": {"code": code, "title": title(err.status), "message": err.message}})),
        )
            .into_response(),
        Service::Admin => (err.status, axum::Json(serde_json::json!({"error": {"code": code, "message": err.message}})))
            .into_response(),
    };
    if code == 401 && err.service == Service::Identity {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Keystone uri=\"/identity\""),
        );
    }
    resp
}

/// The message of a Glance error, kept on its (HTML) response so that [`glance_json_layer`]
/// can answer JSON instead when the client asked for it.
#[derive(Clone)]
pub(crate) struct GlanceError(pub(crate) String);

/// Middleware: like Glance (webob), answers errors as JSON
/// (`{"message", "code": "404 Not Found", "title": "Not Found"}`) when the request's `Accept`
/// prefers `application/json`, HTML otherwise.
pub(crate) async fn glance_json_layer(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let wants_json = req.uri().path().starts_with("/image")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"));
    let resp = next.run(req).await;
    if !wants_json {
        return resp;
    }
    let Some(GlanceError(message)) = resp.extensions().get::<GlanceError>().cloned() else {
        return resp;
    };
    let status = resp.status();
    let mut out = (
        status,
        axum::Json(serde_json::json!({
            "message": message,
            "code": format!("{} {}", status.as_u16(), title(status)),
            "title": title(status),
        })),
    )
        .into_response();
    for (k, v) in resp.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().append(k.clone(), v.clone());
        }
    }
    out
}

fn default_neutron_kind(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "NotAuthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        503 => "ServiceUnavailable",
        _ => "NeutronException",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        render(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn each_service_has_its_envelope() {
        let nova = body_of(render(&ApiError::nova(
            404,
            "Instance x could not be found.",
        )))
        .await;
        assert_eq!(
            nova,
            r#"{"itemNotFound":{"code":404,"message":"Instance x could not be found."}}"#
        );
        let neutron = body_of(render(&ApiError::neutron(
            404,
            "NetworkNotFound",
            "Network n could not be found.",
        )))
        .await;
        assert_eq!(
            neutron,
            r#"{"NeutronError":{"detail":"","message":"Network n could not be found.","type":"NetworkNotFound"}}"#
        );
        let cinder = body_of(render(&ApiError::cinder(409, "busy"))).await;
        assert!(cinder.starts_with(r#"{"conflictingRequest":"#));
        let glance = render(&ApiError::glance(404, "No image found with ID <x>"));
        assert_eq!(
            glance.headers()[header::CONTENT_TYPE],
            "text/html; charset=UTF-8"
        );
        assert!(
            body_of(glance)
                .await
                .contains("No image found with ID &lt;x&gt;")
        );
        assert_eq!(Service::of_path("/volume/v3/p/volumes"), Service::Volume);
    }
}
