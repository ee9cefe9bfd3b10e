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
use cascade_model::request_id::{RequestId, is_valid_request_id, new_request_id};
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
    .route("/compute/v2.1/", get(compute::version))
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
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::policy::enforce,
        ))
        .fallback(not_found)
        .layer(middleware::from_fn(limit_body))
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

/// The largest request body a handler buffers (axum's default limit, made explicit so the
/// refusal is ours). Image data (`PUT .../file`) streams and has no such limit.
pub(crate) const MAX_BODY_BYTES: usize = 2 << 20;

/// oslo.middleware's size limiter: a body over [`MAX_BODY_BYTES`] is refused with 413 in the
/// service's envelope (axum's own refusal is a plain-text page). A declared length is checked
/// before reading; a body without one is read up to the limit here.
async fn limit_body(req: Request, next: Next) -> Response {
    let streamed = req.method() == http::Method::PUT && req.uri().path().ends_with("/file");
    if streamed {
        return next.run(req).await;
    }
    let service = service_for_path(req.uri().path());
    let too_large = move || ApiError::new(service, 413, "Request is too large.");
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > MAX_BODY_BYTES as u64 => too_large().into_response(),
        Some(_) => next.run(req).await,
        None => {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
                Ok(bytes) => {
                    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                        .await
                }
                Err(_) => too_large().into_response(),
            }
        }
    }
}

/// A method the route does not serve: 405 in the service's envelope (axum adds `Allow`).
async fn method_not_allowed(req: Request) -> Response {
    let service = service_for_path(req.uri().path());
    ApiError::new(
        service,
        405,
        format!(
            "The method {} is not allowed for this resource.",
            req.method()
        ),
    )
    .into_response()
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
async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let request_id = new_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use http::{Method, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn answer(router: Router, method: Method, path: &str) -> (StatusCode, String, String) {
        let resp = router
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let allow = resp
            .headers()
            .get(http::header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, allow, String::from_utf8_lossy(&body).into_owned())
    }

    /// A body over the limit used to get axum's plain-text 413; the fuzzer found it on every
    /// JSON route. Declared and undeclared (chunked) lengths alike; image data is exempt.
    #[tokio::test]
    async fn over_large_bodies_get_the_services_413() {
        let router = Router::new()
            .route(
                "/compute/v2.1/servers",
                axum::routing::post(|b: bytes::Bytes| async move { b.len().to_string() }),
            )
            .route(
                "/image/v2/images/{id}/file",
                axum::routing::put(|req: Request| async move {
                    axum::body::to_bytes(req.into_body(), usize::MAX)
                        .await
                        .map(|b| b.len().to_string())
                        .unwrap_or_default()
                }),
            )
            .layer(middleware::from_fn(limit_body));
        let big = vec![b'a'; MAX_BODY_BYTES + 1];
        let send = |path: &str, method: Method, declared: bool| {
            let mut b = Request::builder().method(method).uri(path);
            if declared {
                b = b.header(http::header::CONTENT_LENGTH, big.len());
            }
            let body = if declared {
                axum::body::Body::from(big.clone())
            } else {
                let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big
                    .chunks(1 << 16)
                    .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                    .collect();
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            };
            router.clone().oneshot(b.body(body).unwrap())
        };
        for declared in [true, false] {
            let resp = send("/compute/v2.1/servers", Method::POST, declared)
                .await
                .unwrap();
            assert_eq!(resp.status(), 413, "declared: {declared}");
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
                .await
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["overLimit"]["code"], 413, "{v}");
            let resp = send("/image/v2/images/x/file", Method::PUT, declared)
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "image data streams past the limit");
        }
        let small = Request::builder()
            .method(Method::POST)
            .uri("/compute/v2.1/servers")
            .body(axum::body::Body::from("{}"))
            .unwrap();
        let resp = router.clone().oneshot(small).await.unwrap();
        assert_eq!(resp.status(), 200);
    }

    /// A method a route does not serve used to answer an empty 405 (axum's default), in no
    /// service's envelope; the fuzzer found it on `PUT .../snapshots/detail`.
    #[tokio::test]
    async fn method_not_allowed_is_in_the_services_envelope_with_allow() {
        let router = Router::new()
            .route("/volume/v3/{p}/snapshots/detail", get(|| async { "ok" }))
            .route("/network/v2.0/{coll}", get(|| async { "ok" }))
            .method_not_allowed_fallback(method_not_allowed);
        let (status, allow, body) =
            answer(router.clone(), Method::PUT, "/volume/v3/p/snapshots/detail").await;
        assert_eq!(status, 405);
        assert!(allow.contains("GET"), "{allow:?}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["badMethod"]["code"], 405, "{body}");
        let (status, _, body) = answer(router, Method::DELETE, "/network/v2.0/networks").await;
        assert_eq!(status, 405);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["NeutronError"]["type"], "HTTPMethodNotAllowed", "{body}");
    }
}
