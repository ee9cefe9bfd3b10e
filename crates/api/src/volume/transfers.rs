//! Volume transfers: `os-volume-transfer` (every microversion) and `volume-transfers` (3.55+,
//! `no_snapshots`): create (the auth key shown once), list, detail, show, delete and accept,
//! with the keys each microversion adds (3.55 `no_snapshots`; 3.57 `source_project_id`,
//! `destination_project_id`, `accepted`).

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_core::volume::TransferCreate;
use cascade_model::microversion::Microversion;
use cascade_store::volume_admin::TransferRow;
use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::volumes::actor;
use super::{ApiResult, SVC, accepted, bad, check_project, scope, views};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

/// A transfer as Cinder shows it.
#[derive(Debug, Serialize)]
struct TransferView<'a> {
    id: &'a str,
    name: Option<&'a str>,
    volume_id: &'a str,
    links: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_snapshots: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_project_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_project_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Summary,
    Detail,
    Accept,
}

fn view<'a>(
    state: &AppState,
    project: &str,
    t: &'a TransferRow,
    mv: Microversion,
    body: Body,
    auth_key: Option<&'a str>,
) -> TransferView<'a> {
    let detail = body == Body::Detail;
    TransferView {
        id: &t.id,
        name: t.name.as_deref(),
        volume_id: &t.volume_id,
        links: views::links(&state.public_url, project, "os-volume-transfer", &t.id),
        created_at: detail.then(|| views::ts(t.created_at)),
        auth_key,
        no_snapshots: (detail && mv.at_least(3, 55)).then_some(t.no_snapshots),
        source_project_id: (detail && mv.at_least(3, 57)).then_some(t.project_id.as_str()),
        destination_project_id: (detail && mv.at_least(3, 57)).then_some(None),
        accepted: (detail && mv.at_least(3, 57)).then_some(false),
    }
}

/// `volume-transfers` exists from 3.55 on.
fn new_api(path: &str, mv: Microversion) -> ApiResult<()> {
    if path.contains("/volume-transfers") && !mv.at_least(3, 55) {
        return Err(ApiError::new(SVC, 404, "The resource could not be found."));
    }
    Ok(())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    uri: http::Uri,
    Path(project): Path<String>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    new_api(uri.path(), mv)?;
    let doc = body::json(SVC, &raw)?;
    let t = doc
        .get("transfer")
        .filter(|t| t.is_object())
        .ok_or_else(|| bad("Missing required element 'transfer' in request body."))?;
    let volume_id = t["volume_id"]
        .as_str()
        .ok_or_else(|| bad("Incorrect request body format"))?
        .to_string();
    let name = match &t["name"] {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_string()),
        _ => return Err(bad("Invalid input for field/attribute name.")),
    };
    let no_snapshots = match &t["no_snapshots"] {
        Value::Null => false,
        Value::Bool(b) if mv.at_least(3, 55) => *b,
        _ => return Err(bad("Invalid input for field/attribute no_snapshots.")),
    };
    let actor = actor(&state, &ctx).await?;
    let (row, key) = state
        .volumes
        .create_transfer(
            &actor,
            &scope(&ctx)?,
            TransferCreate {
                volume_id,
                name,
                no_snapshots,
            },
        )
        .await
        .or_api(SVC)?;
    Ok(accepted(
        json!({"transfer": view(&state, &project, &row, mv, Body::Detail, Some(&key))}),
    ))
}

async fn list(
    state: &AppState,
    ctx: &cascade_core::identity::AuthContext,
    mv: Microversion,
    path: &str,
    project: &str,
    detail: bool,
) -> ApiResult {
    check_project(ctx, project)?;
    new_api(path, mv)?;
    let rows = state
        .volumes
        .list_transfers(&ctx.project_scope().or_api(SVC)?)
        .await
        .or_api(SVC)?;
    let body = if detail { Body::Detail } else { Body::Summary };
    let out: Vec<TransferView<'_>> = rows
        .iter()
        .map(|t| view(state, project, t, mv, body, None))
        .collect();
    Ok(axum::Json(json!({ "transfers": out })).into_response())
}

pub(crate) async fn index(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    uri: http::Uri,
    Path(project): Path<String>,
) -> ApiResult {
    list(&state, &ctx, mv, uri.path(), &project, false).await
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    uri: http::Uri,
    Path(project): Path<String>,
) -> ApiResult {
    list(&state, &ctx, mv, uri.path(), &project, true).await
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    uri: http::Uri,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    new_api(uri.path(), mv)?;
    let t = state
        .volumes
        .get_transfer(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(
        axum::Json(json!({"transfer": view(&state, &project, &t, mv, Body::Detail, None)}))
            .into_response(),
    )
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    uri: http::Uri,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult {
    check_project(&ctx, &project)?;
    new_api(uri.path(), mv)?;
    state
        .volumes
        .delete_transfer(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub(crate) async fn accept(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    uri: http::Uri,
    Path((project, id)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    check_project(&ctx, &project)?;
    new_api(uri.path(), mv)?;
    let doc = body::json(SVC, &raw)?;
    let key = doc["accept"]["auth_key"]
        .as_str()
        .ok_or_else(|| bad("Missing required element 'accept' in request body."))?;
    let actor = actor(&state, &ctx).await?;
    let t = state
        .volumes
        .accept_transfer(&actor, &id, key)
        .await
        .or_api(SVC)?;
    Ok(accepted(
        json!({"transfer": view(&state, &project, &t, mv, Body::Accept, None)}),
    ))
}
