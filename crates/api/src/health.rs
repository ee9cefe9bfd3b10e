//! Liveness and metrics endpoints: `/healthz` (Cascade and its database, with pod states),
//! `/healthcheck` (oslo.middleware's plain `OK` for load balancers) and `/metrics`
//! (Prometheus text format).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};
use serde_json::json;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/healthcheck", get(healthcheck))
        .route("/metrics", get(metrics))
}

async fn healthz(State(state): State<AppState>) -> Response {
    let db = state.store.ping().await;
    let pods = state.pods.list().await.unwrap_or_default();
    let count = |s: cascade_model::admin::PodState| pods.iter().filter(|p| p.state == s).count();
    let body = json!({
        "status": if db.is_ok() { "ok" } else { "unavailable" },
        "database": if db.is_ok() { "ok" } else { "unreachable" },
        "identity": state.identity.mode(),
        "pods": {
            "total": pods.len(),
            "up": count(cascade_model::admin::PodState::Up),
            "degraded": count(cascade_model::admin::PodState::Degraded),
            "down": count(cascade_model::admin::PodState::Down),
            "maintenance": count(cascade_model::admin::PodState::Maintenance),
        }
    });
    let status = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn healthcheck(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &state.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
