//! Keystone's application credentials at `/identity/v3/users/{user_id}/application_credentials`:
//! a user creates, lists, shows and deletes its own (see
//! `cascade_core::identity::EmbeddedIdentity::create_app_cred`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::{Json, Router, routing::get};
use bytes::Bytes;
use cascade_model::identity::AppCredCreate;
use http::StatusCode;
use serde_json::json;

use super::{ApiResult, SVC, admin, embedded, list_links};
use crate::auth::Auth;
use crate::body;
use crate::error::OrApi;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/users/{user}/application_credentials",
            get(list).post(create),
        )
        .route(
            "/v3/users/{user}/application_credentials/{id}",
            get(show).delete(delete),
        )
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(user): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: AppCredCreate = body::wrapped(SVC, &body, "application_credential")?;
    let created = embedded(&state)?
        .create_app_cred(&caller, &user, req)
        .await
        .or_api(SVC)?;
    tracing::info!(user = %user, application_credential = %created.id, "application credential created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"application_credential": created})),
    )
        .into_response())
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(user): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    if caller.user.id != user {
        admin(&caller)?;
    }
    let creds = embedded(&state)?
        .list_app_creds(&user, q.get("name").map(String::as_str))
        .await
        .or_api(SVC)?;
    Ok(Json(json!({
        "application_credentials": creds,
        "links": list_links(&state, &format!("users/{user}/application_credentials")),
    }))
    .into_response())
}

async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((user, id)): Path<(String, String)>,
) -> ApiResult {
    if caller.user.id != user {
        admin(&caller)?;
    }
    let cred = embedded(&state)?
        .get_app_cred(&user, &id)
        .await
        .or_api(SVC)?;
    Ok(Json(json!({"application_credential": cred})).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((user, id)): Path<(String, String)>,
) -> ApiResult {
    if caller.user.id != user {
        admin(&caller)?;
    }
    embedded(&state)?
        .delete_app_cred(&caller, &user, &id)
        .await
        .or_api(SVC)?;
    tracing::info!(user = %user, application_credential = %id, "application credential deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
