//! The pod registry: registering child clouds (validated, credentials sealed at rest), showing
//! them without secrets, one [`PodClient`] per pod built on first use, and the health checker
//! that probes every pod on its own deadline and keeps `state` current (`up`, `degraded`,
//! `down`; `maintenance` belongs to operators and is never overridden).

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use cascade_model::admin::{Pod, PodCreate, PodCredentials, PodState, PodUpdate};
use cascade_pod::{
    BreakerConfig, BreakerState, Credentials, PodClient, PodClientConfig, PodMetrics,
};
use cascade_store::pods::PodRow;
use cascade_store::{Store, StoreError, from_micros, now_micros};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::secrets::Sealer;
use crate::{CoreError, ErrorKind, Result};

/// Service types a pod endpoint may be registered under.
const SERVICE_TYPES: &[&str] = &[
    "identity",
    "compute",
    "network",
    "volumev3",
    "block-storage",
    "volume",
    "image",
];

/// Settings of the registry and its health checker.
#[derive(Debug, Clone)]
pub struct PodRegistryConfig {
    /// Used for pods registered without `auth_url` (Cascade's own identity, or the shared Keystone).
    pub default_auth_url: Option<String>,
    pub call_timeout: Duration,
    pub max_in_flight: usize,
    pub breaker: BreakerConfig,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    /// A probe slower than this marks the pod `degraded`.
    pub degraded_latency: Duration,
    /// Where `password_ref` references may point.
    pub credential_refs: CredentialRefPolicy,
}

/// The limits of `password_ref`: a `file:` reference must name a file inside one of `dirs`
/// (after resolving `..` and symbolic links), an `env:` reference a variable whose name starts
/// with `env_prefix`. So an operator API call cannot make Cascade read an arbitrary file or
/// environment variable of its host and send it to a pod's Keystone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRefPolicy {
    /// Absolute directories.
    pub dirs: Vec<PathBuf>,
    pub env_prefix: String,
}

impl Default for CredentialRefPolicy {
    fn default() -> Self {
        CredentialRefPolicy {
            dirs: vec![PathBuf::from("/etc/cascade/credentials")],
            env_prefix: "CASCADE_".into(),
        }
    }
}

/// A checked `password_ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PasswordRef {
    Env(String),
    File(PathBuf),
}

impl CredentialRefPolicy {
    fn dirs_text(&self) -> String {
        self.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether `path` (absolute, without `..`) lies in an allowed directory, comparing both
    /// as given and with symbolic links resolved.
    fn inside(&self, path: &Path) -> bool {
        self.dirs.iter().any(|d| {
            path.starts_with(d)
                || std::fs::canonicalize(d).is_ok_and(|canonical| path.starts_with(canonical))
        })
    }

    /// Checks the form of a reference and that it stays inside the limits. A file that exists
    /// must also stay inside them once its symbolic links are resolved.
    fn check(&self, r: &str) -> Result<PasswordRef> {
        if let Some(var) = r.strip_prefix("env:") {
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(CoreError::bad_request(
                    "password_ref env:VARIABLE needs a variable name of letters, digits and _",
                ));
            }
            if !var.starts_with(&self.env_prefix) {
                return Err(CoreError::bad_request(format!(
                    "password_ref env:{var} is not allowed: variables must start with {:?} ([pods] credential_env_prefix)",
                    self.env_prefix
                )));
            }
            return Ok(PasswordRef::Env(var.to_string()));
        }
        let Some(file) = r.strip_prefix("file:") else {
            return Err(CoreError::bad_request(
                "password_ref must be env:VARIABLE or file:/path",
            ));
        };
        let path = PathBuf::from(file);
        let outside = || {
            CoreError::bad_request(format!(
                "password_ref file:{file} is not allowed: files must lie inside {} ([pods] credential_dirs)",
                self.dirs_text()
            ))
        };
        if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
            return Err(CoreError::bad_request(format!(
                "password_ref file:{file} must be an absolute path without .."
            )));
        }
        if !self.inside(&path) {
            return Err(outside());
        }
        match std::fs::canonicalize(&path) {
            Ok(real) if !self.inside(&real) => Err(outside()),
            _ => Ok(PasswordRef::File(path)),
        }
    }

    /// Reads the password a reference names, checking the limits again at use time (the file
    /// is read through its resolved path, so a link swapped in since registration is caught).
    fn resolve(&self, r: &str) -> Result<String> {
        let unavailable = |e: CoreError| CoreError::new(ErrorKind::Unavailable, e.message);
        match self.check(r).map_err(unavailable)? {
            PasswordRef::Env(var) => std::env::var(&var).map_err(|_| {
                CoreError::new(
                    ErrorKind::Unavailable,
                    format!("environment variable {var} is not set"),
                )
            }),
            PasswordRef::File(path) => {
                let cannot = |e: std::io::Error| {
                    CoreError::new(
                        ErrorKind::Unavailable,
                        format!("cannot read password file {}: {e}", path.display()),
                    )
                };
                let real = std::fs::canonicalize(&path).map_err(cannot)?;
                if !self.inside(&real) {
                    return Err(CoreError::new(
                        ErrorKind::Unavailable,
                        format!(
                            "password file {} resolves outside {}",
                            path.display(),
                            self.dirs_text()
                        ),
                    ));
                }
                std::fs::read_to_string(&real)
                    .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                    .map_err(cannot)
            }
        }
    }
}

impl Default for PodRegistryConfig {
    fn default() -> Self {
        PodRegistryConfig {
            default_auth_url: None,
            call_timeout: Duration::from_secs(30),
            max_in_flight: 64,
            breaker: BreakerConfig::default(),
            health_interval: Duration::from_secs(10),
            health_timeout: Duration::from_secs(5),
            degraded_latency: Duration::from_secs(2),
            credential_refs: CredentialRefPolicy::default(),
        }
    }
}

/// The sealed form of pod credentials. `Debug` never shows the password.
#[derive(Clone, Serialize, Deserialize)]
struct StoredCredentials {
    username: String,
    password: Option<String>,
    password_ref: Option<String>,
    project_name: String,
    user_domain_name: String,
    project_domain_name: String,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("username", &self.username)
            .field("password", &cascade_model::redact::opt(&self.password))
            .field("password_ref", &self.password_ref)
            .field("project_name", &self.project_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PodLabels {
    pod: String,
    az: String,
}

/// The registry of pods.
#[derive(Debug)]
pub struct PodRegistry {
    store: Store,
    sealer: Sealer,
    config: PodRegistryConfig,
    metrics: PodMetrics,
    clients: RwLock<HashMap<String, Arc<PodClient>>>,
    state_gauge: Family<PodLabels, Gauge>,
}

fn parse_map(json: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl PodRegistry {
    pub fn new(
        store: Store,
        sealer: Sealer,
        config: PodRegistryConfig,
        metrics: PodMetrics,
    ) -> PodRegistry {
        PodRegistry {
            store,
            sealer,
            config,
            metrics,
            clients: RwLock::new(HashMap::new()),
            state_gauge: Family::default(),
        }
    }

    /// Registers the pod state gauge (`cascade_pod_state`: 0 up, 1 degraded, 2 down, 3 maintenance).
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "cascade_pod_state",
            "Pod state: 0 up, 1 degraded, 2 down, 3 maintenance",
            self.state_gauge.clone(),
        );
    }

    fn view(&self, row: &PodRow) -> Pod {
        Pod {
            pod_id: row.pod_id.clone(),
            region_name: row.region_name.clone(),
            az_name: row.az_name.clone(),
            pod_az_name: row.pod_az_name.clone(),
            dc_name: row.dc_name.clone(),
            auth_url: row
                .auth_url
                .clone()
                .or_else(|| self.config.default_auth_url.clone()),
            endpoints: parse_map(&row.endpoints),
            capabilities: parse_map(&row.capabilities),
            credentials_configured: row.credentials.is_some(),
            state: PodState::parse(&row.state).unwrap_or(PodState::Down),
            state_reason: row.state_reason.clone(),
            created_at: cascade_model::time::iso_seconds(from_micros(row.created_at)),
            updated_at: cascade_model::time::iso_seconds(from_micros(row.updated_at)),
            checked_at: row
                .checked_at
                .map(|t| cascade_model::time::iso_seconds(from_micros(t))),
        }
    }

    fn check_url(what: &str, u: &str) -> Result<()> {
        match url::Url::parse(u) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
            _ => Err(CoreError::bad_request(format!(
                "{what} must be an http(s) URL, got {u:?}"
            ))),
        }
    }

    fn validate_endpoints(endpoints: &BTreeMap<String, String>) -> Result<()> {
        for (ty, u) in endpoints {
            if !SERVICE_TYPES.contains(&ty.as_str()) {
                return Err(CoreError::bad_request(format!(
                    "unknown endpoint service type {ty:?}; expected one of {}",
                    SERVICE_TYPES.join(", ")
                )));
            }
            Self::check_url(&format!("endpoints.{ty}"), u)?;
        }
        Ok(())
    }

    fn validate_credentials(&self, c: &PodCredentials) -> Result<()> {
        if c.username.is_empty() || c.project_name.is_empty() {
            return Err(CoreError::bad_request(
                "credentials need username and project_name",
            ));
        }
        match (&c.password, &c.password_ref) {
            (Some(_), None) => Ok(()),
            (None, Some(r)) => self.config.credential_refs.check(r).map(|_| ()),
            _ => Err(CoreError::bad_request(
                "credentials need exactly one of password or password_ref",
            )),
        }
    }

    fn validate(&self, req: &PodCreate) -> Result<()> {
        if req.region_name.trim().is_empty() {
            return Err(CoreError::new(
                ErrorKind::Unprocessable,
                "region_name is required and must not be empty",
            ));
        }
        if req.az_name.trim().is_empty() {
            return Err(CoreError::bad_request(
                "az_name is required: every pod is shown to tenants as an availability zone",
            ));
        }
        for (name, value) in [("region_name", &req.region_name), ("az_name", &req.az_name)] {
            if value.len() > 255 || value.chars().any(char::is_control) {
                return Err(CoreError::bad_request(format!(
                    "{name} must be at most 255 printable characters"
                )));
            }
        }
        if let Some(u) = &req.auth_url {
            Self::check_url("auth_url", u)?;
        }
        Self::validate_endpoints(&req.endpoints)?;
        if let Some(c) = &req.credentials {
            self.validate_credentials(c)?;
        }
        if req.auth_url.is_none() && req.endpoints.is_empty() && req.credentials.is_none() {
            return Err(CoreError::bad_request(
                "a pod needs a way to be reached: credentials (with auth_url or the default identity) or explicit endpoints",
            ));
        }
        Ok(())
    }

    fn seal(&self, c: &PodCredentials) -> Result<String> {
        let stored = StoredCredentials {
            username: c.username.clone(),
            password: c.password.clone(),
            password_ref: c.password_ref.clone(),
            project_name: c.project_name.clone(),
            user_domain_name: c
                .user_domain_name
                .clone()
                .unwrap_or_else(|| "Default".into()),
            project_domain_name: c
                .project_domain_name
                .clone()
                .unwrap_or_else(|| "Default".into()),
        };
        let plain = serde_json::to_vec(&stored).map_err(|e| CoreError::internal(e.to_string()))?;
        self.sealer.seal(&plain)
    }

    /// `POST /v1.0/pods`.
    pub async fn create(&self, req: PodCreate) -> Result<Pod> {
        self.validate(&req)?;
        let now = now_micros();
        let row = PodRow {
            pod_id: uuid::Uuid::new_v4().to_string(),
            region_name: req.region_name.clone(),
            az_name: req.az_name.clone(),
            pod_az_name: req.pod_az_name.clone(),
            dc_name: req.dc_name.clone(),
            auth_url: req.auth_url.clone(),
            endpoints: serde_json::to_string(&req.endpoints).unwrap_or_else(|_| "{}".into()),
            capabilities: serde_json::to_string(&req.capabilities).unwrap_or_else(|_| "{}".into()),
            credentials: req.credentials.as_ref().map(|c| self.seal(c)).transpose()?,
            state: PodState::Down.as_str().into(),
            state_reason: "awaiting first health check".into(),
            created_at: now,
            updated_at: now,
            checked_at: None,
        };
        self.store.insert_pod(&row).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(format!(
                "A pod with region_name {} already exists",
                req.region_name
            )),
            other => other.into(),
        })?;
        tracing::info!(pod = %row.region_name, az = %row.az_name, "pod registered");
        Ok(self.view(&row))
    }

    pub async fn list(&self) -> Result<Vec<Pod>> {
        Ok(self
            .store
            .list_pods()
            .await?
            .iter()
            .map(|r| self.view(r))
            .collect())
    }

    async fn row(&self, pod_id: &str) -> Result<PodRow> {
        self.store.get_pod(pod_id).await.map_err(|e| match e {
            StoreError::NotFound => {
                CoreError::not_found(format!("Pod {pod_id} could not be found"))
            }
            other => other.into(),
        })
    }

    pub async fn get(&self, pod_id: &str) -> Result<Pod> {
        Ok(self.view(&self.row(pod_id).await?))
    }

    /// `PUT /v1.0/pods/{id}`: dc_name, capabilities, and entering/leaving maintenance.
    pub async fn update(&self, pod_id: &str, req: PodUpdate) -> Result<Pod> {
        let mut row = self.row(pod_id).await?;
        if let Some(dc) = req.dc_name {
            row.dc_name = dc;
        }
        if let Some(caps) = req.capabilities {
            row.capabilities = serde_json::to_string(&caps).unwrap_or_else(|_| "{}".into());
        }
        if let Some(u) = req.auth_url {
            Self::check_url("auth_url", &u)?;
            row.auth_url = Some(u);
        }
        if let Some(endpoints) = req.endpoints {
            Self::validate_endpoints(&endpoints)?;
            row.endpoints = serde_json::to_string(&endpoints).unwrap_or_else(|_| "{}".into());
        }
        if let Some(c) = req.credentials {
            self.validate_credentials(&c)?;
            row.credentials = Some(self.seal(&c)?);
        }
        match req.state {
            None => {}
            Some(PodState::Maintenance) => {
                row.state = PodState::Maintenance.as_str().into();
                row.state_reason = "set by operator".into();
            }
            Some(PodState::Up) if row.state == PodState::Maintenance.as_str() => {
                // Leave maintenance; the next health check decides the real state.
                row.state = PodState::Down.as_str().into();
                row.state_reason = "left maintenance; awaiting health check".into();
            }
            Some(PodState::Up) => {}
            Some(other) => {
                return Err(CoreError::bad_request(format!(
                    "state {} is set by the health checker; operators may set maintenance or up",
                    other.as_str()
                )));
            }
        }
        row.updated_at = now_micros();
        self.store.update_pod(&row).await?;
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(pod_id);
        Ok(self.view(&row))
    }

    /// `DELETE /v1.0/pods/{id}`: refused while routings point at the pod.
    pub async fn delete(&self, pod_id: &str) -> Result<()> {
        self.store.delete_pod(pod_id).await.map_err(|e| match e {
            StoreError::NotFound => {
                CoreError::not_found(format!("Pod {pod_id} could not be found"))
            }
            StoreError::Constraint(m) => {
                CoreError::conflict(format!("Pod {pod_id} is in use: {m}"))
            }
            other => other.into(),
        })?;
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(pod_id);
        Ok(())
    }

    fn build_client(&self, row: &PodRow) -> Result<PodClient> {
        let credentials = match &row.credentials {
            None => None,
            Some(sealed) => {
                let plain = self.sealer.open(sealed)?;
                let c: StoredCredentials = serde_json::from_slice(&plain)
                    .map_err(|e| CoreError::internal(format!("credentials: {e}")))?;
                let password = match (&c.password, &c.password_ref) {
                    (Some(p), _) => p.clone(),
                    (None, Some(r)) => self.config.credential_refs.resolve(r)?,
                    (None, None) => String::new(),
                };
                Some(Credentials {
                    username: c.username,
                    password,
                    project_name: c.project_name,
                    user_domain_name: c.user_domain_name,
                    project_domain_name: c.project_domain_name,
                })
            }
        };
        let mut config = PodClientConfig::new(row.region_name.clone());
        config.auth_url = row
            .auth_url
            .clone()
            .or_else(|| self.config.default_auth_url.clone());
        config.endpoints = parse_map(&row.endpoints);
        config.credentials = credentials;
        config.timeout = self.config.call_timeout;
        config.max_in_flight = self.config.max_in_flight;
        config.breaker = self.config.breaker;
        Ok(PodClient::new(config, self.metrics.clone()))
    }

    /// Registered pods whose `password_ref` lies outside the configured limits (e.g. after the
    /// limits changed), as `(region name, reason)`: such a pod cannot be reached until its
    /// credentials are updated. Run at start so the operator learns it at once.
    pub async fn credential_ref_violations(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for row in self.store.list_pods().await? {
            let Some(sealed) = &row.credentials else {
                continue;
            };
            let plain = self.sealer.open(sealed)?;
            let c: StoredCredentials = serde_json::from_slice(&plain)
                .map_err(|e| CoreError::internal(format!("credentials: {e}")))?;
            if let (None, Some(r)) = (&c.password, &c.password_ref)
                && let Err(e) = self.config.credential_refs.check(r)
            {
                out.push((row.region_name.clone(), e.message));
            }
        }
        Ok(out)
    }

    /// The client of a pod, built on first use.
    pub async fn client(&self, pod_id: &str) -> Result<Arc<PodClient>> {
        if let Some(c) = self
            .clients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(pod_id)
        {
            return Ok(c.clone());
        }
        let row = self.row(pod_id).await?;
        let client = Arc::new(self.build_client(&row)?);
        let mut clients = self.clients.write().unwrap_or_else(|p| p.into_inner());
        Ok(clients.entry(pod_id.to_string()).or_insert(client).clone())
    }

    /// Probes one pod and records its state; returns the observed state.
    async fn check(&self, row: &PodRow) -> PodState {
        let (state, reason) = match self.client(&row.pod_id).await {
            Err(e) => (PodState::Down, e.full()),
            Ok(client) => {
                let probe = tokio::time::timeout(self.config.health_timeout, client.probe()).await;
                match probe {
                    Err(_) => (PodState::Down, "health probe timed out".to_string()),
                    Ok(p) => match p.error {
                        Some(e) => (PodState::Down, e.message),
                        None if client.breaker_state() != BreakerState::Closed => (
                            PodState::Degraded,
                            "recovering: circuit breaker half-open".to_string(),
                        ),
                        None if p.latency > self.config.degraded_latency => (
                            PodState::Degraded,
                            format!("slow: health probe took {} ms", p.latency.as_millis()),
                        ),
                        None => (PodState::Up, String::new()),
                    },
                }
            }
        };
        if let Err(e) = self
            .store
            .record_pod_health(&row.pod_id, state.as_str(), &reason, now_micros())
            .await
        {
            tracing::warn!(pod = %row.region_name, error = %e, "cannot record pod health");
        }
        let shown = if row.state == PodState::Maintenance.as_str() {
            PodState::Maintenance
        } else {
            state
        };
        self.state_gauge
            .get_or_create(&PodLabels {
                pod: row.region_name.clone(),
                az: row.az_name.clone(),
            })
            .set(shown.as_gauge());
        if row.state != shown.as_str() {
            tracing::info!(pod = %row.region_name, from = %row.state, to = shown.as_str(), reason = %reason, "pod state changed");
        }
        shown
    }

    /// Probes every pod concurrently, each on its own deadline.
    pub async fn check_all(self: &Arc<Self>) -> Result<()> {
        let rows = self.store.list_pods().await?;
        let mut set = tokio::task::JoinSet::new();
        for row in rows {
            let me = self.clone();
            set.spawn(async move { me.check(&row).await });
        }
        while set.join_next().await.is_some() {}
        Ok(())
    }

    /// Runs the health checker until `cancel` fires.
    pub async fn run_health_checker(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.check_all().await {
                tracing::warn!(error = %e, "pod health check round failed");
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.config.health_interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cascade_store::testing::TestDb;

    use super::*;

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("cascade-cred-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn password_refs_stay_inside_the_directory_and_prefix() {
        let root = temp_dir();
        let allowed = root.join("credentials");
        std::fs::create_dir_all(&allowed).unwrap();
        std::fs::write(allowed.join("pod1"), "pw-inside\n").unwrap();
        std::fs::write(root.join("outside"), "pw-outside").unwrap();
        let policy = CredentialRefPolicy {
            dirs: vec![allowed.clone()],
            env_prefix: "CASCADE_".into(),
        };
        let inside = format!("file:{}", allowed.join("pod1").display());
        assert_eq!(policy.resolve(&inside).unwrap(), "pw-inside");
        // `..` escapes, relative paths and files elsewhere are refused.
        for bad in [
            format!("file:{}/../outside", allowed.display()),
            format!("file:{}", root.join("outside").display()),
            "file:credentials/pod1".to_string(),
            "file:/etc/passwd".to_string(),
        ] {
            let e = policy.check(&bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadRequest, "{bad}");
            assert!(policy.resolve(&bad).is_err(), "{bad}");
        }
        // A symbolic link inside the directory pointing out of it is refused too.
        #[cfg(unix)]
        {
            let link = allowed.join("link");
            std::os::unix::fs::symlink(root.join("outside"), &link).unwrap();
            let r = format!("file:{}", link.display());
            assert!(policy.check(&r).is_err());
            assert!(policy.resolve(&r).is_err());
        }
        // Environment variables need the prefix.
        assert!(policy.check("env:CASCADE_POD1_PASSWORD").is_ok());
        for bad in [
            "env:HOME",
            "env:AWS_SECRET_ACCESS_KEY",
            "env:",
            "env:CASCADE_X=1",
        ] {
            assert_eq!(
                policy.check(bad).unwrap_err().kind,
                ErrorKind::BadRequest,
                "{bad}"
            );
        }
        assert!(policy.check("ftp:x").is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn registration_refuses_references_outside_the_limits() {
        let db = TestDb::sqlite().await.unwrap();
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let registry = PodRegistry::new(
            db.store.clone(),
            sealer,
            PodRegistryConfig::default(),
            PodMetrics::default(),
        );
        let pod = |r: &str| PodCreate {
            region_name: format!("R-{}", r.len()),
            az_name: "az".into(),
            pod_az_name: String::new(),
            dc_name: String::new(),
            auth_url: Some("http://127.0.0.1:1/identity".into()),
            endpoints: BTreeMap::new(),
            capabilities: BTreeMap::new(),
            credentials: Some(PodCredentials {
                username: "svc".into(),
                password: None,
                password_ref: Some(r.into()),
                project_name: "service".into(),
                user_domain_name: None,
                project_domain_name: None,
            }),
        };
        let e = registry.create(pod("file:/etc/shadow")).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
        assert!(e.message.contains("credential_dirs"), "{}", e.message);
        let e = registry.create(pod("env:DATABASE_URL")).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
        registry
            .create(pod("env:CASCADE_POD_PASSWORD"))
            .await
            .unwrap();
        assert!(
            registry
                .credential_ref_violations()
                .await
                .unwrap()
                .is_empty()
        );
        db.cleanup().await;
    }
}
