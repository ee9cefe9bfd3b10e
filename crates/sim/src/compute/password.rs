//! `os-server-password`: the encrypted password a guest posts to the metadata service. The
//! simulated region has no metadata service, so no guest ever posts one: `GET` answers Nova's
//! empty password and `DELETE` (clearing it) is a 204, both for a server the caller sees.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiResult;
use crate::identity::Auth;
use crate::server::Ctx;

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    st.compute.visible(&id, &auth)?;
    Ok(axum::Json(json!({"password": ""})).into_response())
}

pub(crate) async fn clear(
    State(ctx): State<Ctx>,
    Extension(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let st = ctx.read();
    st.compute.visible(&id, &auth)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
