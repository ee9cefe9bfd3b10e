//! The router and its middleware stack, declared in one place. From the outside in: panic →
//! 500 in the right envelope; request id, log span and metrics for every request; then the
//! per-service routers, each tagged with its [`Service`] so errors render in its format, each
//! route behind the policy layer ([`crate::policy`]).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use cascade_model::fault::Service;
use cascade_model::request_id::{is_valid_request_id, new_request_id};
use http::HeaderValue;
use tokio::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::error::ApiError;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::policy::{Policy, PolicyError, route_inventory, service_for_path};
use crate::state::AppState;
use crate::{admin, compute, health, identity, image, network, volume};

/// Every route of every service, nested under its prefix and tagged with its [`Service`] so
/// errors render in its format; without state, policy or the outer middleware. The policy
/// layer reads its inventory of routes from this (see [`crate::policy::route_inventory`]).
/// `embedded_identity` adds Keystone's routes at `/identity`.
pub fn routes(embedded_identity: bool) -> Router<AppState> {
    let mut app = Router::new();
    if embedded_identity {
        app = app
            .nest(
                "/identity",
                identity::router().layer(Extension(Service::Identity)),
            )
            .route("/identity/", get(identity::versions));
    }
    app.nest(
        "/compute",
        compute::router().layer(Extension(Service::Compute)),
    )
    .nest("/image", image::router().layer(Extension(Service::Image)))
    .nest(
        "/network",
        network::router().layer(Extension(Service::Network)),
    )
    .nest(
        "/volume",
        volume::router().layer(Extension(Service::Volume)),
    )
    // Version discovery with the trailing slash clients also use (`/compute/`, …).
    .route("/compute/", get(compute::versions))
    .route("/image/", get(image::versions))
    .route("/network/", get(network::versions))
    .route("/volume/", get(volume::versions))
    .nest("/v1.0", admin::router().layer(Extension(Service::Admin)))
    .merge(health::router())
}

/// The policy of an instance: the default rules over this router's routes, with the
/// operator's overrides (action → rule name) and the optional monitoring token.
pub fn policy(
    embedded_identity: bool,
    overrides: &BTreeMap<String, String>,
    monitor_token: Option<String>,
) -> Result<Policy, PolicyError> {
    let inventory = route_inventory(&routes(embedded_identity));
    if inventory.is_empty() {
        return Err(PolicyError(
            "the router's routes could not be read; refusing to run without a policy".into(),
        ));
    }
    Policy::new(&inventory, overrides, monitor_token)
}

/// The whole HTTP surface of one Cascade instance. From the outside in: panic → 500, request
/// id / span / metrics, then the routes, each behind the policy layer.
pub fn router(state: AppState) -> Router {
    routes(state.identity.embedded().is_some())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::policy::enforce,
        ))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(
                Service::Admin,
                500,
                "An unexpected error prevented the server from fulfilling your request.",
            )
            .into_response()
        }))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    let service = service_for_path(req.uri().path());
    ApiError::new(
        service,
        404,
        format!("The resource could not be found: {}", req.uri().path()),
    )
    .into_response()
}

/// Mints the request id, opens the request's log span, and records metrics.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = new_request_id();
    let global = req
        .headers()
        .get("x-openstack-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_request_id(v))
        .map(str::to_string);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let service = service_for_path(req.uri().path()).as_str();
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        global_request_id = global.as_deref().unwrap_or(""),
        method = %method,
        path = %req.uri().path(),
        user = tracing::field::Empty,
        project = tracing::field::Empty,
        pod = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        if service == "compute" {
            resp.headers_mut().insert("x-compute-request-id", v.clone());
        }
        resp.headers_mut().insert("x-openstack-request-id", v);
    }
    let status = resp.status().as_u16();
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    state
        .http_metrics
        .requests
        .get_or_create(&RequestLabels {
            service: service.into(),
            route: route.clone(),
            method,
            status,
        })
        .inc();
    state
        .http_metrics
        .latency
        .get_or_create(&RouteLabels {
            service: service.into(),
            route,
        })
        .observe(elapsed.as_secs_f64());
    span.in_scope(|| {
        if elapsed > Duration::from_secs(5) {
            tracing::warn!(status, ms = elapsed.as_millis() as u64, "slow request");
        } else {
            tracing::info!(status, ms = elapsed.as_millis() as u64, "request");
        }
    });
    resp
}
