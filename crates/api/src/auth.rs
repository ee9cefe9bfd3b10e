//! The [`Auth`] extractor: the caller that the policy layer ([`crate::policy::enforce`])
//! validated for this request. A handler behind a rule that needs no token (`public`) that
//! still asks for `Auth` validates `X-Auth-Token` itself, through the same function. Failures
//! render in the envelope of the service the route belongs to.

use axum::extract::FromRequestParts;
use cascade_core::identity::AuthContext;
use cascade_model::fault::Service;
use http::request::Parts;

use crate::error::ApiError;
use crate::policy::{self, Authenticated};
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Auth(pub(crate) AuthContext);

pub(crate) fn service_of(parts: &Parts) -> Service {
    parts
        .extensions
        .get::<Service>()
        .copied()
        .unwrap_or_else(|| policy::service_for_path(parts.uri.path()))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(Authenticated(ctx)) = parts.extensions.get::<Authenticated>() {
            return Ok(Auth(ctx.as_ref().clone()));
        }
        let ctx = policy::authenticate(state, service_of(parts), &parts.headers).await?;
        Ok(Auth(ctx.as_ref().clone()))
    }
}
