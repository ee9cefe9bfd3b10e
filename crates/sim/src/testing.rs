//! Test helpers other crates may reuse: a tiny fake Keystone that knows a fixed set of tokens.
//!
//! It answers `GET /identity/v3/auth/tokens` (the token in `X-Subject-Token` must be known,
//! and so must `X-Auth-Token`) with 200 and a Keystone-shaped token body, 404 otherwise;
//! `POST /identity/v3/auth/tokens` with password auth for a known user name and password
//! (201 + `X-Subject-Token`, with a catalog pointing nowhere useful, which a region's
//! forwarding endpoint replaces); and counts validations so tests can check caching.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

/// One token the fake identity accepts.
#[derive(Debug, Clone)]
pub struct FakeToken {
    /// The token string.
    pub token: String,
    /// Scope.
    pub project_id: String,
    /// Project name, for the token body.
    pub project_name: String,
    /// User id.
    pub user_id: String,
    /// User name (for password auth).
    pub user_name: String,
    /// Password (for password auth).
    pub password: String,
    /// Role names; `admin` makes the caller an administrator.
    pub roles: Vec<String>,
}

impl FakeToken {
    /// A member token: `token`, project `project_id`, user `user-<project_id>`.
    pub fn member(token: impl Into<String>, project_id: impl Into<String>) -> Self {
        let project_id = project_id.into();
        FakeToken {
            token: token.into(),
            project_name: project_id.clone(),
            user_id: format!("user-{project_id}"),
            user_name: format!("user-{project_id}"),
            password: "secret".into(),
            roles: vec!["member".into(), "reader".into()],
            project_id,
        }
    }
    /// The same with the `admin` role added.
    pub fn admin(token: impl Into<String>, project_id: impl Into<String>) -> Self {
        let mut t = Self::member(token, project_id);
        t.roles.push("admin".into());
        t
    }
}

struct Fake {
    tokens: Vec<FakeToken>,
    validations: AtomicUsize,
}

/// A running fake identity.
pub struct FakeIdentity {
    state: Arc<Fake>,
    task: tokio::task::JoinHandle<()>,
    /// `http://127.0.0.1:port/identity`.
    pub url: String,
}

impl FakeIdentity {
    /// How many `GET /v3/auth/tokens` validations it answered.
    pub fn validations(&self) -> usize {
        self.state.validations.load(Ordering::SeqCst)
    }
    /// Stops it.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for FakeIdentity {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn token_body(t: &FakeToken) -> Value {
    let expires = (crate::util::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    json!({"token": {
        "methods": ["password"],
        "user": {"id": t.user_id, "name": t.user_name, "domain": {"id": "default", "name": "Default"}},
        "project": {"id": t.project_id, "name": t.project_name, "domain": {"id": "default", "name": "Default"}},
        "roles": t.roles.iter().enumerate().map(|(i, r)| json!({"id": format!("role{i}"), "name": r})).collect::<Vec<_>>(),
        "expires_at": expires,
        "issued_at": crate::util::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "audit_ids": ["fake"],
        "catalog": [{"type": "compute", "name": "nova", "id": "x", "endpoints": [
            {"id": "y", "interface": "public", "region": "Upstream", "region_id": "Upstream", "url": "http://upstream.invalid/compute/v2.1"}]}]
    }})
}

async fn validate(State(f): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    f.validations.fetch_add(1, Ordering::SeqCst);
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (caller, subject) = (h("x-auth-token"), h("x-subject-token"));
    if !f.tokens.iter().any(|t| t.token == caller) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}))).into_response();
    }
    match f.tokens.iter().find(|t| t.token == subject) {
        Some(t) => axum::Json(token_body(t)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"code": 404, "title": "Not Found", "message": "Could not find token."}})),
        )
            .into_response(),
    }
}

async fn issue(State(f): State<Arc<Fake>>, body: axum::body::Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let user = v
        .pointer("/auth/identity/password/user/name")
        .and_then(Value::as_str);
    let pass = v
        .pointer("/auth/identity/password/user/password")
        .and_then(Value::as_str);
    match f.tokens.iter().find(|t| Some(t.user_name.as_str()) == user && Some(t.password.as_str()) == pass) {
        Some(t) => {
            let mut r = (StatusCode::CREATED, axum::Json(token_body(t))).into_response();
            if let Ok(hv) = http::HeaderValue::from_str(&t.token) {
                r.headers_mut().insert("x-subject-token", hv);
            }
            r
        }
        None => (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}))).into_response(),
    }
}

/// Starts a fake identity on an ephemeral loopback port. Returns its base URL
/// (`http://127.0.0.1:port/identity`, usable as [`crate::SimConfig::identity_url`]) and a
/// handle that stops it when dropped.
pub async fn fake_identity(tokens: Vec<FakeToken>) -> (String, FakeIdentity) {
    let state = Arc::new(Fake {
        tokens,
        validations: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/identity/v3/auth/tokens", get(validate).post(issue))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/identity");
    (url.clone(), FakeIdentity { state, task, url })
}
