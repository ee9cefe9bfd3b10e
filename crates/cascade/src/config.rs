//! `cascade.toml`: where Cascade listens, its database, its secret key, its identity backend and
//! how it treats pods. Every field has a default except what must be chosen (see README).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

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
    pub(crate) secret_key: Option<String>,
    /// File holding the key; created with a fresh key when missing (single-instance setups).
    #[serde(default)]
    pub(crate) secret_key_file: Option<PathBuf>,
    /// `pretty` or `json`.
    #[serde(default = "default_log_format")]
    pub(crate) log_format: String,
    #[serde(default)]
    pub(crate) identity: IdentityConfig,
    #[serde(default)]
    pub(crate) pods: PodsConfig,
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
    pub(crate) admin_password: Option<String>,
    /// Keystone: the external Keystone's base URL.
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) service_username: Option<String>,
    #[serde(default)]
    pub(crate) service_password: Option<String>,
    #[serde(default = "default_service_project")]
    pub(crate) service_project: String,
    #[serde(default = "default_domain")]
    pub(crate) service_user_domain: String,
    #[serde(default = "default_domain")]
    pub(crate) service_project_domain: String,
    #[serde(default = "default_cache_ttl")]
    pub(crate) cache_ttl_secs: u64,
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
        if !matches!(self.log_format.as_str(), "pretty" | "json") {
            anyhow::bail!("log_format must be \"pretty\" or \"json\"");
        }
        Ok(())
    }

    pub(crate) fn pod_call_timeout(&self) -> Duration {
        Duration::from_secs(self.pods.call_timeout_secs)
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
        assert!(Config::from_toml("[identity]\nmode = \"keystone\"").is_err());
        assert!(Config::from_toml("bogus = 1").is_err());
        let k = Config::from_toml(
            "[identity]\nmode = \"keystone\"\nurl = \"http://k/identity\"\nservice_username = \"c\"\nservice_password = \"p\"",
        )
        .unwrap();
        assert_eq!(k.identity.service_project, "service");
    }
}
