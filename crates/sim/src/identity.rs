//! Identity. The simulator keeps no users: every `X-Auth-Token` is validated against the
//! configured upstream Keystone v3 (`GET {identity}/v3/auth/tokens` with the token both as
//! `X-Auth-Token` and `X-Subject-Token`) and the result cached (at most 10,000 tokens, each
//! for at most 60 s and never past its `expires_at`). Failed validations are not cached.
//!
//! Each region also serves `/identity` and `/identity/v3` itself so that the `openstack` CLI
//! can be pointed straight at one region: discovery is answered locally, and
//! `POST`/`GET /identity/v3/auth/tokens` are forwarded upstream with the token's
//! `catalog` replaced by this region's own endpoints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use crate::error::{ApiError, Service, SimError};
use crate::server::{Ctx, Region};

const CACHE_MAX: usize = 10_000;
const CACHE_TTL: Duration = Duration::from_secs(60);

/// Who is calling, from a validated token.
#[derive(Debug, Clone)]
pub(crate) struct AuthContext {
    pub(crate) project_id: String,
    pub(crate) user_id: String,
    pub(crate) is_admin: bool,
}

pub(crate) type Auth = axum::Extension<Arc<AuthContext>>;

pub(crate) struct Identity {
    /// Upstream base URL without `/v3`.
    base: String,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Arc<AuthContext>, Instant)>>,
}

enum Invalid {
    Rejected,
    Unavailable(String),
}

impl Identity {
    pub(crate) fn new(url: &str) -> Result<Self, SimError> {
        let base = url
            .trim_end_matches('/')
            .trim_end_matches("/v3")
            .trim_end_matches('/')
            .to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(SimError::Config(format!(
                "identity_url {url:?} is not an http(s) URL"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| SimError::Config(e.to_string()))?;
        Ok(Identity {
            base,
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    async fn validate(&self, token: &str) -> Result<Arc<AuthContext>, Invalid> {
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((ctx, until)) = cache.get(token)
                && *until > Instant::now()
            {
                return Ok(ctx.clone());
            }
        }
        let resp = self
            .http
            .get(format!("{}/v3/auth/tokens", self.base))
            .header("X-Auth-Token", token)
            .header("X-Subject-Token", token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| Invalid::Unavailable(e.to_string()))?;
        if resp.status().is_server_error() {
            return Err(Invalid::Unavailable(format!(
                "identity answered {}",
                resp.status()
            )));
        }
        if !resp.status().is_success() {
            return Err(Invalid::Rejected);
        }
        let body: Value = resp.json().await.map_err(|_| Invalid::Rejected)?;
        let (ctx, expires) = parse_token(&body).ok_or(Invalid::Rejected)?;
        let ctx = Arc::new(ctx);
        let mut ttl = CACHE_TTL;
        if let Some(exp) = expires {
            let left = (exp - crate::util::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            ttl = ttl.min(left);
        }
        if !ttl.is_zero() {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_MAX {
                let now = Instant::now();
                cache.retain(|_, (_, until)| *until > now);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(token.to_string(), (ctx.clone(), Instant::now() + ttl));
        }
        Ok(ctx)
    }
}

/// Reads project, user and roles from a Keystone token body. Only project-scoped tokens
/// are usable against the services.
fn parse_token(body: &Value) -> Option<(AuthContext, Option<crate::util::Ts>)> {
    let t = body.get("token")?;
    let project_id = t.pointer("/project/id")?.as_str()?.to_string();
    let user_id = t
        .pointer("/user/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let roles: Vec<String> = t
        .get("roles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("name")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let is_admin = roles.iter().any(|r| r == "admin");
    let expires = t
        .get("expires_at")
        .and_then(Value::as_str)
        .and_then(crate::util::parse_ts);
    if expires.is_some_and(|e| e <= crate::util::now()) {
        return None;
    }
    Some((
        AuthContext {
            project_id,
            user_id,
            is_admin,
        },
        expires,
    ))
}

/// Middleware: validates `X-Auth-Token` and stores the [`AuthContext`] for the handlers;
/// answers 401 in the service's own format otherwise.
pub(crate) async fn auth_layer(State(ctx): State<Ctx>, mut req: Request, next: Next) -> Response {
    let service = Service::of_path(req.uri().path());
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return unauthorized(service, &ctx.cluster.identity.base);
    };
    match ctx.cluster.identity.validate(&token).await {
        Ok(a) => {
            req.extensions_mut().insert(a);
            next.run(req).await
        }
        Err(Invalid::Rejected) => unauthorized(service, &ctx.cluster.identity.base),
        Err(Invalid::Unavailable(why)) => {
            tracing::warn!(%why, "identity service unavailable");
            ApiError::new(
                service,
                503,
                "ServiceUnavailable",
                "The identity service is unavailable.",
            )
            .into_response()
        }
    }
}

/// A 401 as the real region answers it: keystonemiddleware's envelope for Nova, Neutron and
/// Cinder, Glance's own error for images; `WWW-Authenticate` names the Keystone by its absolute
/// URL (keystonemiddleware's `www_authenticate_uri`).
fn unauthorized(service: Service, keystone: &str) -> Response {
    let mut r = match service {
        Service::Image => ApiError::new(
            service,
            401,
            "NotAuthorized",
            "This server could not verify that you are authorized to access the document you requested.",
        )
        .into_response(),
        _ => ApiError::new(
            Service::Identity,
            401,
            "NotAuthorized",
            "The request you have made requires authentication.",
        )
        .into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{keystone}\"")) {
        r.headers_mut().insert("www-authenticate", v);
    }
    r
}

pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/identity", get(versions))
        .route("/identity/", get(versions))
        .route("/identity/v3", get(version))
        .route("/identity/v3/", get(version))
        .route(
            "/identity/v3/auth/tokens",
            get(forward).post(forward).head(forward).delete(forward),
        )
}

fn v3_doc(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
    })
}

async fn versions(State(ctx): State<Ctx>) -> Response {
    let body = json!({"versions": {"values": [v3_doc(&ctx.region.base_url)]}});
    (StatusCode::MULTIPLE_CHOICES, axum::Json(body)).into_response()
}

async fn version(State(ctx): State<Ctx>) -> Response {
    axum::Json(json!({"version": v3_doc(&ctx.region.base_url)})).into_response()
}

/// Forwards a token call to the upstream identity and rewrites the catalog.
async fn forward(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(Service::Identity, 400, "", "Request body too large.")
                .into_response();
        }
    };
    let id = &ctx.cluster.identity;
    let mut url = format!("{}/v3/auth/tokens", id.base);
    if let Some(q) = parts.uri.query() {
        url.push('?');
        url.push_str(q);
    }
    let mut rb = id.http.request(parts.method.clone(), url);
    for h in [
        "x-auth-token",
        "x-subject-token",
        "content-type",
        "accept",
        "openstack-api-version",
    ] {
        if let Some(v) = parts.headers.get(h) {
            rb = rb.header(h, v.clone());
        }
    }
    if !body.is_empty() {
        rb = rb.body(body);
    }
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => {
            return ApiError::new(
                Service::Identity,
                503,
                "",
                format!("The upstream identity service is unavailable: {e}"),
            )
            .into_response();
        }
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for h in ["x-subject-token", "content-type", "www-authenticate"] {
        if let Some(v) = resp
            .headers()
            .get(h)
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            headers.insert(h, v);
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    let mut out = bytes.to_vec();
    if status.is_success()
        && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
        && let Some(tok) = v.get_mut("token").and_then(Value::as_object_mut)
    {
        if tok.contains_key("catalog") {
            let project = tok
                .get("project")
                .and_then(|p| p.get("id"))
                .and_then(Value::as_str);
            let catalog = catalog(&ctx.region, project);
            tok.insert("catalog".into(), catalog);
        }
        out = serde_json::to_vec(&v).unwrap_or(out);
    }
    let mut r = (status, out).into_response();
    r.headers_mut().extend(headers);
    r
}

fn stable_id(region: &str, what: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(format!("{region}/{what}").as_bytes())[..16])
}

/// This region's catalog, with the Cinder URLs scoped to `project`.
pub(crate) fn catalog(region: &Region, project: Option<&str>) -> Value {
    let b = &region.base_url;
    let volume = match project {
        Some(p) => format!("{b}/volume/v3/{p}"),
        None => format!("{b}/volume/v3"),
    };
    let entries = [
        ("identity", "keystone", format!("{b}/identity")),
        ("compute", "nova", format!("{b}/compute/v2.1")),
        ("network", "neutron", format!("{b}/network")),
        ("block-storage", "cinder", volume.clone()),
        ("volumev3", "cinderv3", volume),
        ("image", "glance", format!("{b}/image")),
    ];
    let r = &region.name;
    Value::Array(
        entries
            .into_iter()
            .map(|(ty, name, url)| {
                json!({
                    "type": ty,
                    "name": name,
                    "id": stable_id(r, ty),
                    "endpoints": [{
                        "id": stable_id(r, &format!("{ty}/public")),
                        "interface": "public",
                        "region": r,
                        "region_id": r,
                        "url": url
                    }]
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_body_gives_project_user_and_admin() {
        let body = json!({"token": {"project": {"id": "p1"}, "user": {"id": "u1"},
            "roles": [{"name": "member"}, {"name": "admin"}], "expires_at": "2999-01-01T00:00:00.000000Z"}});
        let (a, exp) = parse_token(&body).unwrap();
        assert_eq!(
            (a.project_id.as_str(), a.user_id.as_str(), a.is_admin),
            ("p1", "u1", true)
        );
        assert!(exp.is_some());
        let expired =
            json!({"token": {"project": {"id": "p1"}, "expires_at": "2000-01-01T00:00:00Z"}});
        assert!(parse_token(&expired).is_none());
        let unscoped = json!({"token": {"user": {"id": "u1"}}});
        assert!(parse_token(&unscoped).is_none());
    }

    #[test]
    fn identity_url_accepts_v3_suffix() {
        assert_eq!(
            Identity::new("http://h:1/identity/v3/").unwrap().base,
            "http://h:1/identity"
        );
        assert!(Identity::new("h:1").is_err());
    }
}
