//! The [`Auth`] extractor: validates `X-Auth-Token` with the configured identity backend and
//! records the caller's project in the request's log span. Failures render in the envelope of
//! the service the route belongs to (an `Extension<Service>` set per router).

use axum::extract::FromRequestParts;
use cascade_core::identity::AuthContext;
use cascade_model::fault::Service;
use http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Auth(pub(crate) AuthContext);

pub(crate) fn service_of(parts: &Parts) -> Service {
    parts
        .extensions
        .get::<Service>()
        .copied()
        .unwrap_or(Service::Identity)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let service = service_of(parts);
        let unauthenticated = || {
            // keystonemiddleware answers before the service does, in Keystone's envelope, for
            // every service but Glance (which renders its own page).
            let envelope = if service == Service::Image {
                Service::Image
            } else {
                Service::Identity
            };
            let mut e = ApiError::unauthenticated(envelope);
            e.auth_uri = Some(format!("{}/identity", state.public_url));
            e
        };
        let Some(token) = parts
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
        else {
            return Err(unauthenticated());
        };
        match state.identity.validate(token).await {
            Ok(ctx) => {
                let span = tracing::Span::current();
                span.record("user", ctx.user.id.as_str());
                if let Some(p) = ctx.project_id() {
                    span.record("project", p);
                }
                Ok(Auth(ctx))
            }
            Err(e) if e.kind == cascade_core::ErrorKind::Unavailable => {
                Err(ApiError::from_core(service, e))
            }
            Err(_) => Err(unauthenticated()),
        }
    }
}
