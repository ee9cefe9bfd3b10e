//! The image part of the admin API (`/v1.0`, admin only): the pod copies of an image with
//! their state and progress (`GET /v1.0/images/{id}/copies`, all of them at
//! `GET /v1.0/image-copies`), asking for a copy to a pod (`POST /v1.0/images/{id}/copies`
//! with `{"copy": {"pod_id"}}`, 202), and register mode: adopting an image that already exists
//! in a pod (`POST /v1.0/images/register` with `{"image": {"pod_id", "bottom_id", ...}}`
//! creates the top image, 201; `POST /v1.0/images/{id}/register` adds a pod copy to an
//! existing one after checking the checksums).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use cascade_core::image::{Caller, RegisterRequest};
use cascade_model::fault::Service;
use http::StatusCode;
use serde_json::json;

use crate::auth::Auth;
use crate::body;
use crate::error::{ApiError, OrApi};
use crate::state::AppState;

const SVC: Service = Service::Admin;
type ApiResult<T = Response> = Result<T, ApiError>;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/image-copies", get(all_copies))
        .route("/images/register", post(register_new))
        .route("/images/{id}/copies", get(copies).post(request_copy))
        .route("/images/{id}/register", post(register_existing))
}

fn admin(auth: &Auth) -> ApiResult<Caller> {
    auth.0.require_admin().or_api(SVC)?;
    Ok(Caller {
        project_id: auth.0.project_id().unwrap_or_default().to_string(),
        is_admin: true,
    })
}

async fn all_copies(State(state): State<AppState>, auth: Auth) -> ApiResult {
    admin(&auth)?;
    let copies = state.images.copies(None).await.or_api(SVC)?;
    Ok(Json(json!({"copies": copies})).into_response())
}

async fn copies(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    admin(&auth)?;
    let copies = state.images.copies(Some(&id)).await.or_api(SVC)?;
    Ok(Json(json!({"copies": copies})).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyRequest {
    pod_id: String,
}

async fn request_copy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    admin(&auth)?;
    let req: CopyRequest = body::wrapped(SVC, &raw, "copy")?;
    state
        .images
        .request_copy(&id, &req.pod_id)
        .await
        .or_api(SVC)?;
    let copies = state.images.copies(Some(&id)).await.or_api(SVC)?;
    Ok((StatusCode::ACCEPTED, Json(json!({"copies": copies}))).into_response())
}

async fn register_new(State(state): State<AppState>, auth: Auth, raw: Bytes) -> ApiResult {
    let caller = admin(&auth)?;
    let req: RegisterRequest = body::wrapped(SVC, &raw, "image")?;
    let img = state.images.register(&caller, req).await.or_api(SVC)?;
    Ok((StatusCode::CREATED, Json(json!({"image": img.to_glance()}))).into_response())
}

async fn register_existing(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    raw: Bytes,
) -> ApiResult {
    let caller = admin(&auth)?;
    let mut req: RegisterRequest = body::wrapped(SVC, &raw, "image")?;
    if req.image_id.as_deref().is_some_and(|i| i != id) {
        return Err(ApiError::new(SVC, 400, "image_id does not match the URL"));
    }
    // The top image must exist: registering adds a location to it.
    state.images.get(&caller, &id).await.or_api(SVC)?;
    req.image_id = Some(id);
    let img = state.images.register(&caller, req).await.or_api(SVC)?;
    Ok(Json(json!({"image": img.to_glance()})).into_response())
}
