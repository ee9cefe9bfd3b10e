//! The one place where errors become HTTP responses: [`ApiError`] carries the service whose
//! envelope to use, the status and the message, and renders through
//! `cascade_model::fault::render`. Keystone's 401s also carry `WWW-Authenticate`.

use axum::response::{IntoResponse, Response};
use cascade_core::CoreError;
use cascade_model::fault::{self, Service};
use http::{HeaderValue, StatusCode, header};

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub service: Service,
    pub status: u16,
    pub message: String,
    pub neutron_type: Option<String>,
    /// For Keystone 401s: the identity URL for `WWW-Authenticate`.
    pub auth_uri: Option<String>,
}

impl ApiError {
    pub fn new(service: Service, status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            service,
            status,
            message: message.into(),
            neutron_type: None,
            auth_uri: None,
        }
    }

    pub fn from_core(service: Service, err: CoreError) -> ApiError {
        if err.kind == cascade_core::ErrorKind::Internal {
            tracing::error!(error = %err.message, "internal error");
            return ApiError::new(
                service,
                500,
                "An unexpected error prevented the server from fulfilling your request.",
            );
        }
        if let Some(detail) = &err.detail {
            // Operators find the pod and the transport error in the log; tenants never see it.
            tracing::warn!(error = %err.message, %detail, "request failed");
        }
        ApiError::new(service, err.kind.status(), err.message)
    }

    pub fn unauthenticated(service: Service) -> ApiError {
        ApiError::new(
            service,
            401,
            "The request you have made requires authentication.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let rendered = fault::render(
            self.service,
            self.status,
            &self.message,
            self.neutron_type.as_deref(),
        );
        let status =
            StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, rendered.body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(rendered.content_type),
        );
        if status == StatusCode::UNAUTHORIZED
            && let Some(uri) = &self.auth_uri
            && let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{uri}\""))
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// Attaches the service to a core result.
pub trait OrApi<T> {
    fn or_api(self, service: Service) -> Result<T, ApiError>;
}

impl<T> OrApi<T> for Result<T, CoreError> {
    fn or_api(self, service: Service) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_core(service, e))
    }
}
