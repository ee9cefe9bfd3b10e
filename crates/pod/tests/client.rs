//! The pod client against a fake pod on loopback: endpoints discovered by region from the
//! catalog, the token cached and renewed on 401, deadlines, the in-flight limit and the breaker.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use cascade_pod::{
    BreakerConfig, BreakerState, Credentials, PodClient, PodClientConfig, PodErrorKind, PodMetrics,
};
use http::Method;
use serde_json::json;

#[derive(Default)]
struct Fake {
    auths: AtomicUsize,
    /// Tokens up to this auth count are rejected by the service (simulates revocation).
    revoked_up_to: AtomicUsize,
    calls: AtomicUsize,
}

async fn start() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let catalog_base = base.clone();
    let app = Router::new()
        .route(
            "/identity/v3/auth/tokens",
            post(move |State(f): State<Arc<Fake>>| {
                let base = catalog_base.clone();
                async move {
                    let n = f.auths.fetch_add(1, Ordering::SeqCst) + 1;
                    let endpoint = |region: &str, path: &str| {
                        json!({"id": "e", "interface": "public", "region": region, "region_id": region, "url": format!("{base}/{region}{path}")})
                    };
                    let body = json!({"token": {
                        "methods": ["password"], "expires_at": "2999-01-01T00:00:00.000000Z", "issued_at": "2020-01-01T00:00:00.000000Z",
                        "user": {"id": "u", "name": "svc", "domain": {"id": "default", "name": "Default"}},
                        "catalog": [{"id": "c", "type": "compute", "name": "nova", "endpoints": [
                            endpoint("Other", "/compute/v2.1"), endpoint("RegionA", "/compute/v2.1"),
                            {"id": "i", "interface": "internal", "region_id": "RegionA", "url": "http://internal.invalid/"}]}]
                    }});
                    ([("x-subject-token", format!("token-{n}"))], (StatusCode::CREATED, axum::Json(body)))
                }
            }),
        )
        .route(
            "/RegionA/compute/v2.1/servers",
            get(|State(f): State<Arc<Fake>>, headers: HeaderMap| async move {
                f.calls.fetch_add(1, Ordering::SeqCst);
                let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let n: usize = token.trim_start_matches("token-").parse().unwrap_or(0);
                if n == 0 || n <= f.revoked_up_to.load(Ordering::SeqCst) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                axum::Json(json!({"servers": [], "token": token})).into_response()
            }),
        )
        .route("/RegionA/compute/v2.1/slow", get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }))
        .route("/RegionA/compute/v2.1/broken", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, fake)
}

fn config(base: &str) -> PodClientConfig {
    let mut c = PodClientConfig::new("RegionA");
    c.auth_url = Some(format!("{base}/identity"));
    c.credentials = Some(Credentials {
        username: "svc".into(),
        password: "pw".into(),
        project_name: "service".into(),
        user_domain_name: "Default".into(),
        project_domain_name: "Default".into(),
    });
    c.timeout = Duration::from_millis(500);
    c
}

#[tokio::test]
async fn discovers_region_endpoint_caches_token_and_reauthenticates_on_401() {
    let (base, fake) = start().await;
    let client = PodClient::new(config(&base), PodMetrics::default());
    let r = client
        .send(Method::GET, "compute", "/servers", None, &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "the RegionA public endpoint was chosen");
    assert_eq!(r.json().unwrap()["token"], "token-1");
    client
        .send(Method::GET, "compute", "servers", None, &[])
        .await
        .unwrap();
    assert_eq!(fake.auths.load(Ordering::SeqCst), 1, "token cached");

    fake.revoked_up_to.store(1, Ordering::SeqCst);
    let r = client
        .send(Method::GET, "compute", "/servers", None, &[])
        .await
        .unwrap();
    assert_eq!(
        r.json().unwrap()["token"],
        "token-2",
        "re-authenticated once after a 401"
    );
    assert_eq!(fake.auths.load(Ordering::SeqCst), 2);

    let missing = client
        .send(Method::GET, "network", "/v2.0/networks", None, &[])
        .await
        .unwrap_err();
    assert_eq!(missing.kind, PodErrorKind::NoEndpoint);
}

#[tokio::test]
async fn deadline_limit_and_breaker() {
    let (base, _fake) = start().await;
    let mut cfg = config(&base);
    cfg.max_in_flight = 1;
    cfg.queue_timeout = Duration::from_millis(50);
    cfg.breaker = BreakerConfig {
        failure_threshold: 2,
        open_for: Duration::from_secs(60),
    };
    let client = Arc::new(PodClient::new(cfg, PodMetrics::default()));

    // A slow call hits the deadline; while it holds the only permit another call is refused.
    let slow = {
        let c = client.clone();
        tokio::spawn(async move { c.send(Method::GET, "compute", "/slow", None, &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let busy = client
        .send(Method::GET, "compute", "/servers", None, &[])
        .await
        .unwrap_err();
    assert_eq!(busy.kind, PodErrorKind::Busy);
    let timed_out = slow.await.unwrap().unwrap_err();
    assert_eq!(timed_out.kind, PodErrorKind::Timeout);
    assert!(timed_out.is_retryable());

    // 5xx answers count against the breaker; once open it fails fast.
    let e = client
        .send(Method::GET, "compute", "/broken", None, &[])
        .await
        .unwrap_err();
    assert_eq!(e.kind, PodErrorKind::Status(503));
    assert_eq!(
        client.breaker_state(),
        BreakerState::Open,
        "timeout + 503 = 2 failures"
    );
    let e = client
        .send(Method::GET, "compute", "/servers", None, &[])
        .await
        .unwrap_err();
    assert_eq!(e.kind, PodErrorKind::CircuitOpen);

    // A connection refused is a Connect error.
    let mut cfg = config("http://127.0.0.1:9");
    cfg.endpoints
        .insert("compute".into(), "http://127.0.0.1:9/compute".into());
    cfg.credentials = None;
    let dead = PodClient::new(cfg, PodMetrics::default());
    let e = dead
        .send(Method::GET, "compute", "/servers", None, &[])
        .await
        .unwrap_err();
    assert_eq!(e.kind, PodErrorKind::Connect);
    let probe = dead.probe().await;
    assert!(probe.error.is_some());
}
