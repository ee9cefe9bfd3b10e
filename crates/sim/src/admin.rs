//! The `/sim` admin API (unauthenticated; the simulator listens on loopback): `GET/POST/DELETE
//! /sim/faults` for this region, `/sim/regions/{name}/faults` for any region of the process
//! (useful when that region's own listener is down), `POST /sim/reachability` (the oracle),
//! `GET /sim/state` (resource counts), `GET /sim/regions`; plus `/healthcheck` and the 404
//! fallback rendered in the format of the service the path belongs to.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::error::{ApiError, ApiResult, Service};
use crate::faults::FaultSpec;
use crate::oracle::ReachQuery;
use crate::server::{Ctx, Region, apply_faults};

async fn healthcheck() -> &'static str {
    "OK"
}

fn region<'a>(ctx: &'a Ctx, name: &str) -> ApiResult<&'a std::sync::Arc<Region>> {
    ctx.cluster
        .region(name)
        .ok_or_else(|| ApiError::admin(404, format!("no region named {name}")))
}

async fn set(ctx: &Ctx, target: std::sync::Arc<Region>, body: &Bytes) -> ApiResult<Response> {
    let spec: FaultSpec = if body.is_empty() {
        FaultSpec::none()
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::admin(400, e.to_string()))?
    };
    spec.validate().map_err(|e| ApiError::admin(400, e))?;
    if spec.down && std::sync::Arc::ptr_eq(&target, &ctx.region) {
        // Answer first, then close our own listener.
        let t = target.clone();
        let s = spec.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            apply_faults(&t, s).await;
        });
    } else {
        apply_faults(&target, spec.clone()).await;
    }
    Ok(axum::Json(json!({"region": target.name, "faults": spec})).into_response())
}

async fn faults_get(State(ctx): State<Ctx>) -> Response {
    axum::Json(json!({"region": ctx.region.name, "faults": *ctx.region.faults.borrow()}))
        .into_response()
}

async fn faults_post(State(ctx): State<Ctx>, body: Bytes) -> ApiResult<Response> {
    let r = ctx.region.clone();
    set(&ctx, r, &body).await
}

async fn faults_delete(State(ctx): State<Ctx>) -> ApiResult<Response> {
    let r = ctx.region.clone();
    set(&ctx, r, &Bytes::new()).await
}

async fn region_faults_get(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let r = region(&ctx, &name)?;
    Ok(axum::Json(json!({"region": r.name, "faults": *r.faults.borrow()})).into_response())
}

async fn region_faults_post(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let r = region(&ctx, &name)?.clone();
    set(&ctx, r, &body).await
}

async fn region_faults_delete(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let r = region(&ctx, &name)?.clone();
    set(&ctx, r, &Bytes::new()).await
}

async fn reachability(State(ctx): State<Ctx>, body: Bytes) -> ApiResult<Response> {
    let mut q: ReachQuery =
        serde_json::from_slice(&body).map_err(|e| ApiError::admin(400, e.to_string()))?;
    if q.from.region.is_empty() {
        q.from.region = ctx.region.name.clone();
    }
    if q.to.region.is_empty() {
        q.to.region = ctx.region.name.clone();
    }
    let r = crate::oracle::can_reach(&ctx.cluster, &q)
        .map_err(|e| ApiError::admin(404, e.to_string()))?;
    Ok(axum::Json(r).into_response())
}

async fn state(State(ctx): State<Ctx>) -> Response {
    let s = ctx.read().summary();
    axum::Json(json!({"region": ctx.region.name, "state": s})).into_response()
}

async fn regions(State(ctx): State<Ctx>) -> Response {
    let list: Vec<_> = ctx.cluster.regions.iter().map(|r| {
        let i = r.info();
        json!({"name": i.name, "az": i.az, "base_url": i.base_url, "identity_url": i.identity_url, "down": r.faults.borrow().down})
    }).collect();
    axum::Json(json!({"regions": list})).into_response()
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    let service = Service::of_path(uri.path());
    let kind = if service == Service::Network {
        "HTTPNotFound"
    } else {
        ""
    };
    ApiError::new(
        service,
        StatusCode::NOT_FOUND.as_u16(),
        kind,
        "The resource could not be found.",
    )
    .into_response()
}

pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/healthcheck", get(healthcheck))
        .route(
            "/sim/faults",
            get(faults_get).post(faults_post).delete(faults_delete),
        )
        .route("/sim/regions", get(regions))
        .route(
            "/sim/regions/{name}/faults",
            get(region_faults_get)
                .post(region_faults_post)
                .delete(region_faults_delete),
        )
        .route("/sim/reachability", post(reachability))
        .route("/sim/state", get(state))
}
