//! `cascade.toml`: where Cascade listens, its database, its secret key, its identity backend and
//! how it treats pods. Every field has a default except what must be chosen (see README).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

/// A secret from the configuration (a key, a password): `Debug` prints `<redacted>`, so a
/// logged or printed configuration never carries one.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(cascade_model::redact::REDACTED)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    #[serde(default = "default_listen")]
    pub(crate) listen: String,
    /// URL clients use to reach Cascade (default: `http://<listen>`).
    #[serde(default)]
    pub(crate) public_url: Option<String>,
    /// Region name in the catalog Cascade publishes.
    #[serde(default = "default_region")]
    pub(crate) region_name: String,
    #[serde(default = "default_database_url")]
    pub(crate) database_url: String,
    /// PostgreSQL schema to use (created if missing).
    #[serde(default)]
    pub(crate) database_schema: Option<String>,
    /// Base64 of 32 random bytes sealing pod credentials; all instances must share it.
    #[serde(default)]
    pub(crate) secret_key: Option<Secret>,
    /// File holding the key; created with a fresh key when missing (single-instance setups).
    #[serde(default)]
    pub(crate) secret_key_file: Option<PathBuf>,
    /// `pretty` or `json`.
    #[serde(default = "default_log_format")]
    pub(crate) log_format: String,
    #[serde(default)]
    pub(crate) server: ServerSection,
    #[serde(default)]
    pub(crate) identity: IdentityConfig,
    #[serde(default)]
    pub(crate) pods: PodsConfig,
    #[serde(default)]
    pub(crate) images: ImagesConfig,
    #[serde(default)]
    pub(crate) network: NetworkSection,
    #[serde(default)]
    pub(crate) jobs: JobsSection,
    /// `[policy]`: rule overrides by action name, as OpenStack's `policy.yaml`
    /// (`"os_compute_api:servers:index" = "admin_only"`); `cascade policy list` shows the result.
    #[serde(default)]
    pub(crate) policy: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) monitoring: MonitoringSection,
}

/// `[monitoring]`: who may read `/metrics` and `/healthz` besides admins.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonitoringSection {
    /// A token given as `Authorization: Bearer <token>` (Prometheus' `bearer_token`) or
    /// `X-Auth-Token`.
    #[serde(default)]
    pub(crate) token: Option<String>,
}

impl std::fmt::Debug for MonitoringSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringSection")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `[server]`: server-side bounds on every client connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    /// Seconds a client has to send a request's headers; an idle keep-alive connection is also
    /// closed after it (default 30).
    #[serde(default = "default_header_timeout")]
    pub(crate) header_timeout_secs: u64,
    /// Seconds a request body may go without a byte arriving (default 60). An idle, not a total,
    /// timeout: a long streamed image upload that keeps sending is never cut off.
    #[serde(default = "default_body_idle_timeout")]
    pub(crate) body_idle_timeout_secs: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        toml::from_str("").unwrap_or_else(|_| unreachable!("every server field has a default"))
    }
}

impl ServerSection {
    pub(crate) fn limits(&self) -> crate::listener::ConnectionLimits {
        crate::listener::ConnectionLimits {
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_secs.max(1)),
        }
    }
}

fn default_header_timeout() -> u64 {
    30
}
fn default_body_idle_timeout() -> u64 {
    60
}

/// `[jobs]`: the durable job engine of this process. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobsSection {
    /// Jobs running at once in this process.
    pub(crate) concurrency: Option<usize>,
    /// Jobs of one pod running at once in this process.
    pub(crate) per_pod_concurrency: Option<usize>,
    /// How long a claim holds a job; a crashed process's jobs are taken over after it.
    pub(crate) lease_secs: Option<u64>,
    pub(crate) max_attempts: Option<u32>,
}

impl JobsSection {
    pub(crate) fn to_engine(&self) -> cascade_core::jobs::JobEngineConfig {
        let mut c = cascade_core::jobs::JobEngineConfig::default();
        if let Some(n) = self.concurrency {
            c.concurrency = n.max(1);
        }
        if let Some(n) = self.per_pod_concurrency {
            c.per_pod_concurrency = n.max(1);
        }
        if let Some(s) = self.lease_secs {
            c.lease = Duration::from_secs(s.max(1));
        }
        if let Some(n) = self.max_attempts {
            c.default_max_attempts = n.max(1);
        }
        c
    }
}

/// `[network]`: the central Neutron. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkSection {
    /// `vxlan-shadow-ports` (default), `vlan` or `none` (an external SDN joins the pods).
    #[serde(default)]
    pub(crate) l2_mode: Option<String>,
    /// VNIs Cascade hands out, `"first:last"` (default `100000:199999`).
    #[serde(default)]
    pub(crate) vni_range: Option<String>,
    /// VLAN ids Cascade hands out, `"first:last"` (default `2000:2999`).
    #[serde(default)]
    pub(crate) vlan_range: Option<String>,
    /// Physical network of VLAN segments (default `physnet1`).
    #[serde(default)]
    pub(crate) physical_network: Option<String>,
    /// Pool of the per-project bridge networks (default `100.0.0.0/9`).
    #[serde(default)]
    pub(crate) bridge_cidr: Option<String>,
    /// Prefix length of one project's bridge subnet (default 24).
    #[serde(default)]
    pub(crate) bridge_prefix: Option<u8>,
}

impl NetworkSection {
    /// The core's settings, checked.
    pub(crate) fn to_core(&self) -> anyhow::Result<cascade_core::network::NetworkConfig> {
        use cascade_core::network::{L2Mode, NetworkConfig};
        let mut c = NetworkConfig::default();
        if let Some(m) = &self.l2_mode {
            c.l2_mode = L2Mode::parse(m).ok_or_else(|| {
                anyhow::anyhow!("network.l2_mode must be \"vxlan-shadow-ports\", \"vlan\" or \"none\", not {m:?}")
            })?;
        }
        let range = |what: &str, v: &str, max: i64| -> anyhow::Result<(i64, i64)> {
            let (a, b) = v
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("network.{what} must be \"first:last\""))?;
            let (a, b): (i64, i64) = (a.trim().parse()?, b.trim().parse()?);
            if a < 1 || b < a || b > max {
                anyhow::bail!("network.{what} must satisfy 1 <= first <= last <= {max}");
            }
            Ok((a, b))
        };
        if let Some(v) = &self.vni_range {
            c.vni_range = range("vni_range", v, (1 << 24) - 1)?;
        }
        if let Some(v) = &self.vlan_range {
            c.vlan_range = range("vlan_range", v, 4094)?;
        }
        if let Some(p) = &self.physical_network {
            c.physical_network = p.clone();
        }
        if let Some(b) = &self.bridge_cidr {
            c.bridge_cidr = b
                .parse()
                .map_err(|_| anyhow::anyhow!("network.bridge_cidr {b:?} is not a CIDR"))?;
        }
        if let Some(p) = self.bridge_prefix {
            if p < c.bridge_cidr.prefix_len() || p > c.bridge_cidr.max_prefix_len() - 2 {
                anyhow::bail!("network.bridge_prefix must lie between the pool's prefix and /30");
            }
            c.bridge_prefix = p;
        }
        Ok(c)
    }
}

/// `[images]`: defaults of the global Glance (images override them with the
/// `cascade_replication` and `cascade_placement` properties).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImagesConfig {
    /// `lazy` (default) or `eager`.
    #[serde(default)]
    pub(crate) default_replication: Option<String>,
    /// Placement policy, e.g. `country=DE,regulation!=X` (default: every pod).
    #[serde(default)]
    pub(crate) default_placement: Option<String>,
    /// Seconds between sweeps for orphaned pod copies and missing eager copies (default 15).
    #[serde(default)]
    pub(crate) sweep_interval_secs: Option<u64>,
    /// Seconds a copier may go without progress before another takes over (default 30).
    #[serde(default)]
    pub(crate) copy_lease_secs: Option<u64>,
    /// Largest image upload in bytes, Glance's `image_size_cap` (default 1 TiB); more is a 413.
    #[serde(default)]
    pub(crate) max_size_bytes: Option<u64>,
    /// Image uploads and downloads one project may run at once (default 4); more is a 413.
    #[serde(default)]
    pub(crate) max_transfers_per_project: Option<usize>,
    /// The explicit ports an import task's URL may name (Glance's `[import_filtering_opts]
    /// allowed_ports`, default `[80, 443]`; empty allows any).
    #[serde(default)]
    pub(crate) import_allowed_ports: Option<Vec<u16>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityConfig {
    /// `embedded` or `keystone`.
    #[serde(default = "default_identity_mode")]
    pub(crate) mode: String,
    #[serde(default = "default_token_ttl")]
    pub(crate) token_ttl_secs: u64,
    /// Embedded: password of the bootstrap `admin` user (created on first start).
    #[serde(default)]
    pub(crate) admin_password: Option<Secret>,
    /// Keystone: the external Keystone's base URL.
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) service_username: Option<String>,
    #[serde(default)]
    pub(crate) service_password: Option<Secret>,
    #[serde(default = "default_service_project")]
    pub(crate) service_project: String,
    #[serde(default = "default_domain")]
    pub(crate) service_user_domain: String,
    #[serde(default = "default_domain")]
    pub(crate) service_project_domain: String,
    #[serde(default = "default_cache_ttl")]
    pub(crate) cache_ttl_secs: u64,
    /// Embedded: password checks that may wait for an Argon2 slot; more are refused with 503.
    #[serde(default = "default_password_queue")]
    pub(crate) password_queue: usize,
    /// Embedded: how long a password check may wait for a slot before a 503.
    #[serde(default = "default_password_queue_timeout")]
    pub(crate) password_queue_timeout_ms: u64,
    /// Failed authentications (`POST /identity/v3/auth/tokens`) one client address may make
    /// per second, sustained (successful ones are not counted); 0 turns the limit off.
    #[serde(default = "default_auth_rate")]
    pub(crate) auth_rate_per_sec: f64,
    /// How many failures it may make in a burst; beyond, every try is refused (429) until
    /// the allowance refills.
    #[serde(default = "default_auth_burst")]
    pub(crate) auth_burst: u32,
}

fn default_password_queue() -> usize {
    64
}
fn default_password_queue_timeout() -> u64 {
    5000
}
fn default_auth_rate() -> f64 {
    10.0
}
fn default_auth_burst() -> u32 {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PodsConfig {
    #[serde(default = "default_call_timeout")]
    pub(crate) call_timeout_secs: u64,
    #[serde(default = "default_max_in_flight")]
    pub(crate) max_in_flight: usize,
    #[serde(default = "default_health_interval")]
    pub(crate) health_interval_secs: u64,
    #[serde(default = "default_health_timeout")]
    pub(crate) health_timeout_secs: u64,
    #[serde(default = "default_degraded_ms")]
    pub(crate) degraded_latency_ms: u64,
    #[serde(default = "default_breaker_failures")]
    pub(crate) breaker_failure_threshold: u32,
    #[serde(default = "default_breaker_open")]
    pub(crate) breaker_open_secs: u64,
    /// Directories a pod's `password_ref = "file:…"` may name files in (absolute paths;
    /// `..` and symbolic links leading out of them are refused).
    #[serde(default = "default_credential_dirs")]
    pub(crate) credential_dirs: Vec<PathBuf>,
    /// Prefix of the environment variables a pod's `password_ref = "env:…"` may name.
    #[serde(default = "default_credential_env_prefix")]
    pub(crate) credential_env_prefix: String,
}

impl PodsConfig {
    /// The limits of pods' `password_ref`.
    pub(crate) fn credential_refs(&self) -> cascade_core::pods::CredentialRefPolicy {
        cascade_core::pods::CredentialRefPolicy {
            dirs: self.credential_dirs.clone(),
            env_prefix: self.credential_env_prefix.clone(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:5000".into()
}
fn default_region() -> String {
    "RegionOne".into()
}
fn default_database_url() -> String {
    "sqlite://cascade.db".into()
}
fn default_log_format() -> String {
    "pretty".into()
}
fn default_identity_mode() -> String {
    "embedded".into()
}
fn default_token_ttl() -> u64 {
    3600
}
fn default_service_project() -> String {
    "service".into()
}
fn default_domain() -> String {
    "Default".into()
}
fn default_cache_ttl() -> u64 {
    60
}
fn default_call_timeout() -> u64 {
    30
}
fn default_max_in_flight() -> usize {
    64
}
fn default_health_interval() -> u64 {
    10
}
fn default_health_timeout() -> u64 {
    5
}
fn default_degraded_ms() -> u64 {
    2000
}
fn default_breaker_failures() -> u32 {
    5
}
fn default_breaker_open() -> u64 {
    10
}
fn default_credential_dirs() -> Vec<PathBuf> {
    cascade_core::pods::CredentialRefPolicy::default().dirs
}
fn default_credential_env_prefix() -> String {
    cascade_core::pods::CredentialRefPolicy::default().env_prefix
}

impl Default for IdentityConfig {
    fn default() -> Self {
        toml::from_str("").unwrap_or_else(|_| unreachable!("every identity field has a default"))
    }
}

impl Default for PodsConfig {
    fn default() -> Self {
        toml::from_str("").unwrap_or_else(|_| unreachable!("every pods field has a default"))
    }
}

impl Config {
    pub(crate) fn from_toml(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text).context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    pub(crate) fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Config::from_toml(&text).with_context(|| format!("in {}", path.display()))
    }

    fn validate(&self) -> anyhow::Result<()> {
        match self.identity.mode.as_str() {
            "embedded" => {}
            "keystone" => {
                if self.identity.url.is_none()
                    || self.identity.service_username.is_none()
                    || self.identity.service_password.is_none()
                {
                    anyhow::bail!(
                        "identity.mode = \"keystone\" needs identity.url, service_username and service_password"
                    );
                }
            }
            other => {
                anyhow::bail!("identity.mode must be \"embedded\" or \"keystone\", not {other:?}")
            }
        }
        self.network.to_core()?;
        self.policy()?;
        if let Some(d) = self.pods.credential_dirs.iter().find(|d| !d.is_absolute()) {
            anyhow::bail!(
                "pods.credential_dirs must list absolute directories, not {:?}",
                d.display().to_string()
            );
        }
        if !self
            .pods
            .credential_env_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            anyhow::bail!("pods.credential_env_prefix may hold only letters, digits and _");
        }
        if !matches!(self.log_format.as_str(), "pretty" | "json") {
            anyhow::bail!("log_format must be \"pretty\" or \"json\"");
        }
        Ok(())
    }

    /// The effective policy: the default rules over the router's routes with `[policy]`'s
    /// overrides; fails on an unknown rule name or a route without a rule.
    pub(crate) fn policy(&self) -> anyhow::Result<cascade_api::policy::Policy> {
        cascade_api::policy(
            self.identity.mode != "keystone",
            &self.policy,
            self.monitoring.token.clone(),
        )
        .map_err(|e| anyhow::anyhow!("[policy] {e}"))
    }

    pub(crate) fn pod_call_timeout(&self) -> Duration {
        Duration::from_secs(self.pods.call_timeout_secs)
    }

    /// The image service settings from `[images]`.
    pub(crate) fn image_config(&self) -> anyhow::Result<cascade_core::image::ImageConfig> {
        use cascade_core::image::{ImageConfig, Placement, Replication};
        let mut c = ImageConfig::default();
        let i = &self.images;
        if let Some(r) = &i.default_replication {
            c.default_replication =
                Replication::parse(r).map_err(|e| anyhow::anyhow!("[images] {}", e.message))?;
        }
        if let Some(p) = &i.default_placement {
            c.default_placement =
                Placement::parse(p).map_err(|e| anyhow::anyhow!("[images] {}", e.message))?;
        }
        if let Some(s) = i.sweep_interval_secs {
            c.sweep_interval = Duration::from_secs(s.max(1));
        }
        if let Some(s) = i.copy_lease_secs {
            c.copy_lease = Duration::from_secs(s.max(2));
        }
        if let Some(n) = i.max_size_bytes {
            c.max_size_bytes = n;
        }
        if let Some(n) = i.max_transfers_per_project {
            c.max_transfers_per_project = n.max(1);
        }
        if let Some(p) = &i.import_allowed_ports {
            c.import_allowed_ports = p.clone();
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen, "127.0.0.1:5000");
        assert_eq!(c.identity.mode, "embedded");
        assert_eq!(c.pods.max_in_flight, 64);
        assert_eq!(c.server.limits().header_timeout, Duration::from_secs(30));
        assert_eq!(c.server.limits().body_idle_timeout, Duration::from_secs(60));
        assert!(Config::from_toml("[identity]\nmode = \"keystone\"").is_err());
        assert!(Config::from_toml("bogus = 1").is_err());
        let k = Config::from_toml(
            "[identity]\nmode = \"keystone\"\nurl = \"http://k/identity\"\nservice_username = \"c\"\nservice_password = \"p\"",
        )
        .unwrap();
        assert_eq!(k.identity.service_project, "service");
    }

    #[test]
    fn credential_reference_limits() {
        let c = Config::from_toml("").unwrap();
        let p = c.pods.credential_refs();
        assert_eq!(p.dirs, vec![PathBuf::from("/etc/cascade/credentials")]);
        assert_eq!(p.env_prefix, "CASCADE_");
        let c = Config::from_toml(
            "[pods]\ncredential_dirs = [\"/srv/creds\"]\ncredential_env_prefix = \"POD_\"",
        )
        .unwrap();
        assert_eq!(
            c.pods.credential_refs().dirs,
            vec![PathBuf::from("/srv/creds")]
        );
        assert!(Config::from_toml("[pods]\ncredential_dirs = [\"creds\"]").is_err());
        assert!(Config::from_toml("[pods]\ncredential_env_prefix = \"A-B\"").is_err());
    }

    #[test]
    fn debug_redacts_every_secret() {
        let c = Config::from_toml(
            "secret_key = \"key-s3cret\"\n[identity]\nmode = \"keystone\"\nurl = \"http://k/identity\"\n\
             service_username = \"c\"\nservice_password = \"pw-s3cret\"\nadmin_password = \"admin-s3cret\"",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(c.secret_key.unwrap().expose(), "key-s3cret");
    }
}
