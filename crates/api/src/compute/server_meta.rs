//! A server's metadata (`/servers/{id}/metadata[/{key}]`) and tags (`/servers/{id}/tags[/{tag}]`,
//! from 2.26): Nova's bodies, its 255-character limits and a new tag's `Location`.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use cascade_model::microversion::Microversion;
use http::StatusCode;
use serde_json::{Value, json};

use super::servers::{bad, check_metadata, location};
use super::{ApiResult, SVC, scope};
use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

// ---- metadata ----------------------------------------------------------------------------

fn metadata_body(raw: &Bytes, key: &str) -> ApiResult<BTreeMap<String, String>> {
    let doc = body::json(SVC, raw)?;
    let m = serde_json::from_value(doc.get(key).cloned().unwrap_or(Value::Null))
        .map_err(|_| bad(format!("Invalid input for field/attribute {key}.")))?;
    check_metadata(&m)?;
    Ok(m)
}

pub(crate) async fn metadata(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let m = state
        .compute
        .server_metadata(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"metadata": m})).into_response())
}

pub(crate) async fn replace_metadata(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let items = metadata_body(&raw, "metadata")?;
    let m = state
        .compute
        .set_server_metadata(&scope(&ctx)?, &id, items, true)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"metadata": m})).into_response())
}

pub(crate) async fn update_metadata(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let items = metadata_body(&raw, "metadata")?;
    let m = state
        .compute
        .set_server_metadata(&scope(&ctx)?, &id, items, false)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"metadata": m})).into_response())
}

pub(crate) async fn metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    let m = state
        .compute
        .server_metadata(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let v = m
        .get(&key)
        .ok_or_else(|| ApiError::new(SVC, 404, "Metadata item was not found"))?;
    Ok(axum::Json(json!({"meta": {key: v}})).into_response())
}

pub(crate) async fn set_metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
    raw: Bytes,
) -> ApiResult {
    let items = metadata_body(&raw, "meta")?;
    if items.len() != 1 || !items.contains_key(&key) {
        return Err(bad("Request body and URI mismatch"));
    }
    state
        .compute
        .set_server_metadata(&scope(&ctx)?, &id, items.clone(), false)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"meta": items})).into_response())
}

pub(crate) async fn delete_metadata_item(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    state
        .compute
        .delete_server_metadata(&scope(&ctx)?, &id, &key)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- tags --------------------------------------------------------------------------------

fn need_tags(mv: Microversion) -> ApiResult<()> {
    if mv.at_least(2, 26) {
        Ok(())
    } else {
        Err(ApiError::new(SVC, 404, "The resource could not be found."))
    }
}

pub(crate) async fn tags(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    need_tags(mv)?;
    let t = state
        .compute
        .server_tags(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"tags": t})).into_response())
}

pub(crate) async fn replace_tags(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    need_tags(mv)?;
    let doc = body::json(SVC, &raw)?;
    let tags: Vec<String> = serde_json::from_value(doc["tags"].clone())
        .map_err(|_| bad("Invalid input for field/attribute tags."))?;
    let t = state
        .compute
        .set_server_tags(&scope(&ctx)?, &id, tags)
        .await
        .or_api(SVC)?;
    Ok(axum::Json(json!({"tags": t})).into_response())
}

pub(crate) async fn delete_tags(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path(id): Path<String>,
) -> ApiResult {
    need_tags(mv)?;
    state
        .compute
        .set_server_tags(&scope(&ctx)?, &id, Vec::new())
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn check_tag(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    need_tags(mv)?;
    let t = state
        .compute
        .server_tags(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    if t.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            SVC,
            404,
            format!("Tag {tag} could not be found."),
        ))
    }
}

pub(crate) async fn add_tag(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    need_tags(mv)?;
    let mut t = state
        .compute
        .server_tags(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let existed = t.contains(&tag);
    let tag_name = tag.clone();
    if !existed {
        t.push(tag);
        state
            .compute
            .set_server_tags(&scope(&ctx)?, &id, t)
            .await
            .or_api(SVC)?;
    }
    if existed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut resp = StatusCode::CREATED.into_response();
    let tag_path = url::form_urlencoded::byte_serialize(tag_name.as_bytes()).collect::<String>();
    if let Some(l) = location(
        &state,
        &format!("/compute/v2.1/servers/{id}/tags/{tag_path}"),
    ) {
        resp.headers_mut().insert("location", l);
    }
    Ok(resp)
}

pub(crate) async fn delete_tag(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Extension(mv): Extension<Microversion>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    need_tags(mv)?;
    let mut t = state
        .compute
        .server_tags(&scope(&ctx)?, &id)
        .await
        .or_api(SVC)?;
    let before = t.len();
    t.retain(|x| x != &tag);
    if t.len() == before {
        return Err(ApiError::new(
            SVC,
            404,
            format!("Tag {tag} could not be found."),
        ));
    }
    state
        .compute
        .set_server_tags(&scope(&ctx)?, &id, t)
        .await
        .or_api(SVC)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
