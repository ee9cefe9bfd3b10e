//! Keystone's project tags (`/v3/projects/{id}/tags` and `/v3/projects/{id}/tags/{tag}`) on
//! the embedded identity: list, replace, clear, check, add and remove one tag. A project's
//! members may read its tags; changing them needs the `admin` role, as Keystone's defaults.
//! Tags are kept with the project (`ProjectUpdate::tags`), so the project's own view and
//! these calls never disagree.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use cascade_core::identity::AuthContext;
use cascade_model::identity::ProjectUpdate;
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use super::{ApiResult, SVC, admin, embedded};
use crate::auth::Auth;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

/// Keystone's limit on the tags of one project.
const MAX_TAGS: usize = 80;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/projects/{id}/tags",
            get(list).put(replace).delete(clear),
        )
        .route(
            "/v3/projects/{id}/tags/{tag}",
            get(check).put(add).delete(remove),
        )
}

#[derive(Serialize, Deserialize)]
struct Tags {
    tags: Vec<String>,
}

/// Keystone's tag schema: 1 to 255 characters, neither `/` nor `,`.
fn valid(tag: &str) -> ApiResult<()> {
    if tag.is_empty() || tag.chars().count() > 255 {
        return Err(ApiError::new(
            SVC,
            400,
            format!("Invalid input for field 'tags': '{tag}' must be 1 to 255 characters."),
        ));
    }
    if tag.contains('/') || tag.contains(',') {
        return Err(ApiError::new(
            SVC,
            400,
            format!("Invalid input for field 'tags': '{tag}' must not contain '/' or ','."),
        ));
    }
    Ok(())
}

fn reader(caller: &AuthContext, project: &str) -> ApiResult<()> {
    if caller.project_id() == Some(project) {
        return Ok(());
    }
    admin(caller)
}

async fn tags_of(state: &AppState, id: &str) -> ApiResult<Vec<String>> {
    Ok(embedded(state)?.get_project(id).await.or_api(SVC)?.tags)
}

async fn store(state: &AppState, id: &str, tags: Vec<String>) -> ApiResult<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::new(
            SVC,
            400,
            format!("Invalid input for field 'tags': a project has at most {MAX_TAGS} tags."),
        ));
    }
    let update = ProjectUpdate {
        tags: Some(tags),
        ..ProjectUpdate::default()
    };
    Ok(embedded(state)?
        .update_project(id, update)
        .await
        .or_api(SVC)?
        .tags)
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    reader(&caller, &id)?;
    let tags = tags_of(&state, &id).await?;
    Ok(Json(Tags { tags }).into_response())
}

async fn replace(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    admin(&caller)?;
    let Tags { tags } = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(SVC, 400, format!("Invalid input for field 'tags': {e}")))?;
    let mut unique: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        valid(&t)?;
        if !unique.contains(&t) {
            unique.push(t);
        }
    }
    let tags = store(&state, &id, unique).await?;
    Ok(Json(Tags { tags }).into_response())
}

async fn clear(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&caller)?;
    store(&state, &id, vec![]).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn check(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    reader(&caller, &id)?;
    if tags_of(&state, &id).await?.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(&tag))
    }
}

async fn add(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    admin(&caller)?;
    valid(&tag)?;
    let mut tags = tags_of(&state, &id).await?;
    if !tags.contains(&tag) {
        tags.push(tag.clone());
        store(&state, &id, tags).await?;
    }
    let location = format!("{}/identity/v3/projects/{id}/tags/{tag}", state.public_url);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult {
    admin(&caller)?;
    let mut tags = tags_of(&state, &id).await?;
    let before = tags.len();
    tags.retain(|t| *t != tag);
    if tags.len() == before {
        return Err(not_found(&tag));
    }
    store(&state, &id, tags).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn not_found(tag: &str) -> ApiError {
    ApiError::new(SVC, 404, format!("Could not find project tag: {tag}."))
}
