//! The Cascade admin API at `/v1.0` (Tricircle's shapes and status codes): `pods` (list,
//! create, show, update, delete) and `routings` (list with filters and `limit`/`marker`, show).
//! Admin only.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use cascade_core::routings;
use cascade_model::admin::{PodCreate, PodUpdate};
use cascade_model::fault::Service;
use cascade_store::routings::RoutingFilter;
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
        .route("/pods", get(list_pods).post(create_pod))
        .route(
            "/pods/{id}",
            get(show_pod).put(update_pod).delete(delete_pod),
        )
        .route("/routings", get(list_routings))
        .route("/routings/{id}", get(show_routing))
        .merge(crate::jobs::router())
        .merge(crate::image::admin::router())
}

fn admin(auth: &Auth) -> ApiResult<()> {
    auth.0.require_admin().or_api(SVC)
}

async fn list_pods(State(state): State<AppState>, auth: Auth) -> ApiResult {
    admin(&auth)?;
    let pods = state.pods.list().await.or_api(SVC)?;
    Ok(Json(json!({"pods": pods})).into_response())
}

async fn create_pod(State(state): State<AppState>, auth: Auth, body: Bytes) -> ApiResult {
    admin(&auth)?;
    let req: PodCreate = body::wrapped(SVC, &body, "pod")?;
    let pod = state.pods.create(req).await.or_api(SVC)?;
    Ok(Json(json!({"pod": pod})).into_response())
}

async fn show_pod(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult {
    admin(&auth)?;
    let pod = state.pods.get(&id).await.or_api(SVC)?;
    Ok(Json(json!({"pod": pod})).into_response())
}

async fn update_pod(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    admin(&auth)?;
    let req: PodUpdate = body::wrapped(SVC, &body, "pod")?;
    let pod = state.pods.update(&id, req).await.or_api(SVC)?;
    Ok(Json(json!({"pod": pod})).into_response())
}

async fn delete_pod(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&auth)?;
    state.pods.delete(&id).await.or_api(SVC)?;
    Ok((StatusCode::OK, Json(json!({}))).into_response())
}

fn int_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<i64>> {
    q.get(key)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::new(SVC, 400, format!("{key} must be an integer, got {v:?}"))
            })
        })
        .transpose()
}

const ROUTING_FILTERS: &[&str] = &[
    "id",
    "top_id",
    "bottom_id",
    "pod_id",
    "project_id",
    "resource_type",
    "limit",
    "marker",
];

async fn list_routings(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    admin(&auth)?;
    if let Some(bad) = q.keys().find(|k| !ROUTING_FILTERS.contains(&k.as_str())) {
        return Err(ApiError::new(
            SVC,
            400,
            format!(
                "Unsupported filter {bad:?}; use one of {}",
                ROUTING_FILTERS.join(", ")
            ),
        ));
    }
    let filter = RoutingFilter {
        id: int_param(&q, "id")?,
        top_id: q.get("top_id").cloned(),
        bottom_id: q.get("bottom_id").cloned(),
        pod_id: q.get("pod_id").cloned(),
        project_id: q.get("project_id").cloned(),
        resource_type: q.get("resource_type").cloned(),
    };
    let limit = int_param(&q, "limit")?;
    let page = routings::list(&state.store, &filter, limit, int_param(&q, "marker")?)
        .await
        .or_api(SVC)?;
    let mut body = json!({"routings": page.routings});
    if page.more
        && let Some(last) = page.routings.last()
    {
        let mut query: Vec<String> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "marker")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        query.sort();
        query.push(format!("marker={}", last.id));
        body["routings_links"] = json!([{"rel": "next", "href": format!("{}/v1.0/routings?{}", state.public_url, query.join("&"))}]);
    }
    Ok(Json(body).into_response())
}

async fn show_routing(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult {
    admin(&auth)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::new(SVC, 404, format!("Routing {id} could not be found")))?;
    let routing = routings::get(&state.store, id).await.or_api(SVC)?;
    Ok(Json(json!({"routing": routing})).into_response())
}
