//! [`PodClient`]: one per pod. Holds the pod's HTTP connection pool, its service token and
//! discovered endpoints, the in-flight limit and the breaker. Every call has a deadline.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::breaker::{Breaker, BreakerConfig, BreakerState};
use crate::error::{PodError, PodErrorKind};
use crate::metrics::{CallLabels, LatencyLabels, PodMetrics};

/// Service credentials Cascade uses in a pod. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub project_name: String,
    pub user_domain_name: String,
    pub project_domain_name: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &cascade_model::redact::REDACTED)
            .field("project_name", &self.project_name)
            .finish()
    }
}

/// How to reach one pod.
#[derive(Debug, Clone)]
pub struct PodClientConfig {
    pub region_name: String,
    /// Keystone base URL (`…/identity` or `…/identity/v3`).
    pub auth_url: Option<String>,
    /// Explicit endpoints by service type; others come from the catalog by region.
    pub endpoints: BTreeMap<String, String>,
    pub credentials: Option<Credentials>,
    /// Deadline of one call, including waiting for a concurrency permit.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Calls in flight to this pod at most.
    pub max_in_flight: usize,
    /// How long a call may wait for one of those slots before failing as `Busy` (bulkhead:
    /// a saturated pod sheds load instead of piling up waiters).
    pub queue_timeout: Duration,
    pub breaker: BreakerConfig,
}

impl PodClientConfig {
    pub fn new(region_name: impl Into<String>) -> PodClientConfig {
        PodClientConfig {
            region_name: region_name.into(),
            auth_url: None,
            endpoints: BTreeMap::new(),
            credentials: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(3),
            max_in_flight: 64,
            queue_timeout: Duration::from_secs(1),
            breaker: BreakerConfig::default(),
        }
    }
}

/// A pod's answer.
#[derive(Debug, Clone)]
pub struct PodResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl PodResponse {
    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> Result<Value, serde_json::Error> {
        if self.body.is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_slice(&self.body)
        }
    }
}

/// The outcome of a health probe.
#[derive(Debug, Clone)]
pub struct Probe {
    pub latency: Duration,
    pub error: Option<PodError>,
}

/// The pod's service token and catalog. `Debug` never shows the token.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) token: String,
    expires_at: DateTime<Utc>,
    endpoints: BTreeMap<String, String>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &cascade_model::redact::REDACTED)
            .field("expires_at", &self.expires_at)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// The client for one pod.
#[derive(Debug)]
pub struct PodClient {
    pub(crate) config: PodClientConfig,
    pub(crate) http: reqwest::Client,
    pub(crate) in_flight: std::sync::Arc<Semaphore>,
    pub(crate) breaker: Breaker,
    session: Mutex<Option<Session>>,
    pub(crate) metrics: PodMetrics,
}

/// Service types that name the same thing in catalogs.
fn aliases(service: &str) -> &'static [&'static str] {
    match service {
        "volumev3" | "block-storage" | "volume" | "block-store" => {
            &["block-storage", "volumev3", "volume"]
        }
        "compute" => &["compute"],
        "network" => &["network"],
        "image" => &["image"],
        "identity" => &["identity"],
        _ => &[],
    }
}

impl PodClient {
    pub fn new(config: PodClientConfig, metrics: PodMetrics) -> PodClient {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            .build()
            .unwrap_or_default();
        PodClient {
            in_flight: std::sync::Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            breaker: Breaker::new(config.breaker),
            http,
            session: Mutex::new(None),
            metrics,
            config,
        }
    }

    pub fn region(&self) -> &str {
        &self.config.region_name
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    pub(crate) fn err(&self, kind: PodErrorKind, message: impl Into<String>) -> PodError {
        PodError::new(&self.config.region_name, kind, message)
    }

    fn token_url(&self) -> Option<String> {
        let base = self.config.auth_url.as_deref()?.trim_end_matches('/');
        Some(if base.ends_with("/v3") {
            format!("{base}/auth/tokens")
        } else {
            format!("{base}/v3/auth/tokens")
        })
    }

    /// Authenticates with the pod's service credentials and discovers its endpoints.
    async fn authenticate(&self) -> Result<Session, PodError> {
        let (Some(creds), Some(url)) = (&self.config.credentials, self.token_url()) else {
            return Err(self.err(
                PodErrorKind::Auth,
                "no credentials or auth_url configured for this pod",
            ));
        };
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": creds.username, "domain": {"name": creds.user_domain_name}, "password": creds.password}}},
            "scope": {"project": {"name": creds.project_name, "domain": {"name": creds.project_domain_name}}}
        }});
        let resp =
            tokio::time::timeout(self.config.timeout, self.http.post(&url).json(&body).send())
                .await
                .map_err(|_| self.err(PodErrorKind::Timeout, "authentication timed out"))?
                .map_err(|e| self.transport_error(&e))?;
        let status = resp.status().as_u16();
        if status >= 500 {
            return Err(self.err(
                PodErrorKind::Status(status),
                format!("identity answered {status}"),
            ));
        }
        if status != 201 {
            return Err(self.err(
                PodErrorKind::Auth,
                format!("identity refused the pod credentials ({status})"),
            ));
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                self.err(
                    PodErrorKind::Protocol,
                    "identity answered without X-Subject-Token",
                )
            })?;
        let doc: cascade_model::identity::TokenResponse = resp.json().await.map_err(|e| {
            self.err(
                PodErrorKind::Protocol,
                format!("unreadable token body: {e}"),
            )
        })?;
        let expires_at = DateTime::parse_from_rfc3339(&doc.token.expires_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now() + chrono::Duration::minutes(5));
        let mut endpoints = BTreeMap::new();
        for service in doc.token.catalog.unwrap_or_default() {
            let found = service.endpoints.iter().find(|e| {
                e.interface == "public"
                    && (e.region_id.as_deref() == Some(&self.config.region_name)
                        || e.region.as_deref() == Some(&self.config.region_name))
            });
            if let Some(endpoint) = found {
                endpoints.insert(service.service_type.clone(), endpoint.url.clone());
            }
        }
        Ok(Session {
            token,
            expires_at,
            endpoints,
        })
    }

    /// The cached session, refreshed when missing or close to expiry.
    pub(crate) async fn session(&self, force: bool) -> Result<Session, PodError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref()
            && !force
            && s.expires_at > Utc::now() + chrono::Duration::seconds(60)
        {
            return Ok(s.clone());
        }
        let fresh = self.authenticate().await?;
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// The base URL of `service` in this pod: explicit endpoints first, then the catalog.
    pub(crate) fn endpoint(
        &self,
        session: Option<&Session>,
        service: &str,
    ) -> Result<String, PodError> {
        let names = aliases(service);
        let names: &[&str] = if names.is_empty() {
            std::slice::from_ref(&service)
        } else {
            names
        };
        for name in names {
            if let Some(url) = self.config.endpoints.get(*name) {
                return Ok(url.trim_end_matches('/').to_string());
            }
        }
        if let Some(session) = session {
            for name in names {
                if let Some(url) = session.endpoints.get(*name) {
                    return Ok(url.trim_end_matches('/').to_string());
                }
            }
        }
        Err(self.err(
            PodErrorKind::NoEndpoint,
            format!(
                "no {service} endpoint in region {}",
                self.config.region_name
            ),
        ))
    }

    pub(crate) fn transport_error(&self, e: &reqwest::Error) -> PodError {
        if e.is_timeout() {
            self.err(PodErrorKind::Timeout, "call timed out")
        } else if e.is_connect() {
            self.err(PodErrorKind::Connect, format!("cannot connect: {e}"))
        } else {
            self.err(PodErrorKind::Connect, format!("transport error: {e}"))
        }
    }

    /// Calls the pod: `path` is relative to the service's endpoint. 4xx answers are returned
    /// as `Ok` (the caller decides what they mean); 5xx answers become errors.
    pub async fn send(
        &self,
        method: Method,
        service: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<PodResponse, PodError> {
        self.send_as(None, method, service, path, body, headers)
            .await
    }

    /// Like [`PodClient::send`], but authenticated with `token` (a tenant's token, valid in the
    /// pod because it shares the identity) instead of Cascade's service token, so that what is
    /// created belongs to the tenant's project. Endpoints still come from the service session.
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: Method,
        service: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<PodResponse, PodError> {
        let started = Instant::now();
        let result = self
            .send_inner(token, method, service, path, body, headers)
            .await;
        let outcome = match &result {
            Ok(r) => format!("{}xx", r.status / 100),
            Err(e) => outcome_of(e),
        };
        self.record(service, outcome, started.elapsed());
        result
    }

    pub(crate) fn record(&self, service: &str, outcome: String, elapsed: Duration) {
        let region = self.config.region_name.clone();
        self.metrics
            .calls
            .get_or_create(&CallLabels {
                pod: region.clone(),
                service: service.to_string(),
                outcome,
            })
            .inc();
        self.metrics
            .latency
            .get_or_create(&LatencyLabels {
                pod: region,
                service: service.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    async fn send_inner(
        &self,
        token: Option<&str>,
        method: Method,
        service: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<PodResponse, PodError> {
        let deadline = Instant::now() + self.config.timeout;
        if !self.breaker.try_acquire() {
            return Err(self.err(
                PodErrorKind::CircuitOpen,
                "circuit open: the pod failed repeatedly",
            ));
        }
        let queue_deadline = deadline.min(Instant::now() + self.config.queue_timeout);
        let _permit = match tokio::time::timeout_at(queue_deadline, self.in_flight.acquire()).await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                self.breaker.on_neutral();
                return Err(self.err(PodErrorKind::Busy, "too many calls in flight to this pod"));
            }
        };
        let result = tokio::time::timeout_at(
            deadline,
            self.call_with_reauth(token, &method, service, path, body, headers),
        )
        .await
        .unwrap_or_else(|_| Err(self.err(PodErrorKind::Timeout, "call timed out")));
        match &result {
            Ok(_) => self.breaker.on_success(),
            Err(e) if e.is_pod_failure() => self.breaker.on_failure(),
            Err(_) => self.breaker.on_neutral(),
        }
        result
    }

    async fn call_with_reauth(
        &self,
        token: Option<&str>,
        method: &Method,
        service: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<PodResponse, PodError> {
        let authenticated = self.config.credentials.is_some();
        let mut session = if authenticated {
            Some(self.session(false).await?)
        } else {
            None
        };
        for attempt in 0..2 {
            let base = self.endpoint(session.as_ref(), service)?;
            let url = join_url(&base, path);
            let mut req = self.http.request(method.clone(), &url);
            if let Some(t) = token {
                req = req.header("x-auth-token", t);
            } else if let Some(s) = &session {
                req = req.header("x-auth-token", &s.token);
            }
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
            let status = resp.status().as_u16();
            if status == 401 && authenticated && attempt == 0 && token.is_none() {
                tracing::debug!(pod = %self.config.region_name, "pod token refused, re-authenticating");
                session = Some(self.session(true).await?);
                continue;
            }
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(|e| self.transport_error(&e))?;
            if status >= 500 {
                let mut err = self.err(
                    PodErrorKind::Status(status),
                    format!("{method} {path} answered {status}"),
                );
                err.body = Some(String::from_utf8_lossy(&body).into_owned());
                return Err(err);
            }
            return Ok(PodResponse {
                status,
                headers,
                body,
            });
        }
        Err(self.err(PodErrorKind::Auth, "the pod refused a fresh token"))
    }

    /// Checks the pod: authenticates (when credentials are configured) and reads a version
    /// document. Bypasses the breaker (so it can see recovery) but feeds it.
    pub async fn probe(&self) -> Probe {
        let started = Instant::now();
        let result = tokio::time::timeout(self.config.timeout, async {
            let session = if self.config.credentials.is_some() {
                Some(self.session(false).await?)
            } else {
                None
            };
            let service = ["compute", "network", "volumev3", "image"]
                .into_iter()
                .find(|s| self.endpoint(session.as_ref(), s).is_ok())
                .ok_or_else(|| {
                    self.err(PodErrorKind::NoEndpoint, "the pod has no known endpoint")
                })?;
            let url = self.endpoint(session.as_ref(), service)?;
            let resp = self
                .http
                .get(&url)
                .send()
                .await
                .map_err(|e| self.transport_error(&e))?;
            let status = resp.status().as_u16();
            if status >= 500 {
                return Err(self.err(
                    PodErrorKind::Status(status),
                    format!("{service} answered {status}"),
                ));
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|_| Err(self.err(PodErrorKind::Timeout, "health probe timed out")));
        match &result {
            Ok(()) => self.breaker.on_success(),
            Err(e) if e.is_pod_failure() => self.breaker.on_failure(),
            Err(_) => {}
        }
        let latency = started.elapsed();
        self.record(
            "probe",
            result
                .as_ref()
                .err()
                .map(outcome_of)
                .unwrap_or_else(|| "ok".into()),
            latency,
        );
        Probe {
            latency,
            error: result.err(),
        }
    }

    /// Whether the breaker is open right now (the scheduler skips such pods).
    pub fn is_open(&self) -> bool {
        self.breaker.state() == BreakerState::Open
    }
}

pub(crate) fn outcome_of(e: &PodError) -> String {
    match e.kind {
        PodErrorKind::Status(s) => format!("{}xx", s / 100),
        PodErrorKind::Timeout => "timeout".into(),
        PodErrorKind::Connect => "connect".into(),
        PodErrorKind::CircuitOpen => "circuit_open".into(),
        PodErrorKind::Busy => "busy".into(),
        PodErrorKind::Auth => "auth".into(),
        PodErrorKind::NoEndpoint => "no_endpoint".into(),
        PodErrorKind::Protocol => "protocol".into(),
    }
}

/// The URL of `path` under the endpoint `base`. A path starting with `../` names a resource of
/// another project (Cinder's `…/v3/<project>/…`): it replaces the project segment the catalog
/// endpoint ends in (`…/v3/<service project>`), or, when the endpoint ends in the version
/// itself (Cinder's project-less `…/v3`, accepted since Yoga), goes right under it.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let Some(rest) = path.strip_prefix("../") else {
        return format!("{base}/{}", path.trim_start_matches('/'));
    };
    let (parent, last) = base.rsplit_once('/').unwrap_or((base, ""));
    let is_version = last.len() > 1
        && last.starts_with('v')
        && last[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
    if is_version {
        format!("{base}/{rest}")
    } else {
        format!("{parent}/{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token_or_password() {
        let session = Session {
            token: "tok-s3cret".into(),
            expires_at: Utc::now(),
            endpoints: BTreeMap::new(),
        };
        let mut config = PodClientConfig::new("R");
        config.credentials = Some(Credentials {
            username: "svc".into(),
            password: "pw-s3cret".into(),
            project_name: "service".into(),
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
        });
        for shown in [format!("{session:?}"), format!("{config:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }

    #[test]
    fn paths_join_under_the_endpoint() {
        assert_eq!(
            join_url("http://h/compute/v2.1/", "/servers/detail"),
            "http://h/compute/v2.1/servers/detail"
        );
        assert_eq!(
            join_url("http://h:9292", "v2/images"),
            "http://h:9292/v2/images"
        );
    }

    #[test]
    fn another_projects_path_replaces_the_project_or_goes_under_the_version() {
        // the classic Cinder endpoint, with the service project's id
        assert_eq!(
            join_url("http://h:8776/v3/svcproject", "../tenant/volumes"),
            "http://h:8776/v3/tenant/volumes"
        );
        // behind a path prefix (as Cascade and the simulator publish it)
        assert_eq!(
            join_url("http://h/volume/v3/svcproject", "../tenant/volumes/detail"),
            "http://h/volume/v3/tenant/volumes/detail"
        );
        // the project-less endpoint real Cinder has accepted since Yoga
        assert_eq!(
            join_url("http://h:8776/v3/", "../tenant/volumes"),
            "http://h:8776/v3/tenant/volumes"
        );
        assert_eq!(
            join_url("http://h:8776/volume/v3.0", "../t/x"),
            "http://h:8776/volume/v3.0/t/x"
        );
    }
}
