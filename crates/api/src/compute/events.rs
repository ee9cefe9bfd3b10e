//! `POST /os-server-external-events` (admin or service): events about servers from other
//! services, delivered to the servers' pods by `cascade_core::compute`; 200, 207 or 404 as
//! Nova answers.

use axum::extract::State;
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::compute::ExternalEvent;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::misc::{admin, bad};
use super::{ApiResult, SVC};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Events {
    events: Vec<ExternalEvent>,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    raw: Bytes,
) -> ApiResult {
    admin(&ctx)?;
    let doc = body::json(SVC, &raw)?;
    let req: Events = serde_json::from_value(doc)
        .map_err(|e| bad(format!("Invalid input for field/attribute events. {e}")))?;
    let (status, events) = state
        .compute
        .external_events(req.events)
        .await
        .or_api(SVC)?;
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    Ok((code, axum::Json(json!({ "events": events }))).into_response())
}
