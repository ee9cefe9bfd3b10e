//! The Cascade admin API documents at `/v1.0` (Tricircle's shapes, extended): pods and routings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The states a pod can be in. `maintenance` is set by operators and means "no new placements".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PodState {
    Up,
    Degraded,
    Down,
    Maintenance,
}

impl PodState {
    pub fn as_str(self) -> &'static str {
        match self {
            PodState::Up => "up",
            PodState::Degraded => "degraded",
            PodState::Down => "down",
            PodState::Maintenance => "maintenance",
        }
    }

    pub fn parse(s: &str) -> Option<PodState> {
        match s {
            "up" => Some(PodState::Up),
            "degraded" => Some(PodState::Degraded),
            "down" => Some(PodState::Down),
            "maintenance" => Some(PodState::Maintenance),
            _ => None,
        }
    }

    /// Numeric form for metrics gauges (up=0, degraded=1, down=2, maintenance=3).
    pub fn as_gauge(self) -> i64 {
        match self {
            PodState::Up => 0,
            PodState::Degraded => 1,
            PodState::Down => 2,
            PodState::Maintenance => 3,
        }
    }
}

/// How Cascade authenticates to a pod. The password is either given inline (then stored
/// encrypted) or as a reference resolved at use time: `env:VAR` or `file:/path`. `Debug`
/// never shows the password (the reference, which names no secret, is shown).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodCredentials {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_ref: Option<String>,
    pub project_name: String,
    #[serde(default)]
    pub user_domain_name: Option<String>,
    #[serde(default)]
    pub project_domain_name: Option<String>,
}

impl std::fmt::Debug for PodCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodCredentials")
            .field("username", &self.username)
            .field("password", &crate::redact::opt(&self.password))
            .field("password_ref", &self.password_ref)
            .field("project_name", &self.project_name)
            .field("user_domain_name", &self.user_domain_name)
            .field("project_domain_name", &self.project_domain_name)
            .finish()
    }
}

/// Body of `POST /v1.0/pods` (`{"pod": {...}}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodCreate {
    pub region_name: String,
    #[serde(default)]
    pub az_name: String,
    #[serde(default)]
    pub pod_az_name: String,
    #[serde(default)]
    pub dc_name: String,
    /// The pod's Keystone (or the shared one). Absent: Cascade's own identity.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// Explicit endpoints by service type (`compute`, `network`, `volumev3`, `image`);
    /// absent types are discovered from the catalog by `region_name`.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    #[serde(default)]
    pub credentials: Option<PodCredentials>,
    #[serde(default)]
    pub capabilities: BTreeMap<String, String>,
}

/// Body of `PUT /v1.0/pods/{pod_id}`: what an operator may change after creation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodUpdate {
    #[serde(default)]
    pub dc_name: Option<String>,
    #[serde(default)]
    pub capabilities: Option<BTreeMap<String, String>>,
    /// Only `maintenance` (enter) or `up` (leave maintenance; the health checker decides after).
    #[serde(default)]
    pub state: Option<PodState>,
    /// New identity URL of the pod.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// Replaces the explicit endpoints.
    #[serde(default)]
    pub endpoints: Option<BTreeMap<String, String>>,
    /// Replaces the credentials (rotation).
    #[serde(default)]
    pub credentials: Option<PodCredentials>,
}

/// A pod as the admin API shows it. Credentials never appear.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Pod {
    pub pod_id: String,
    pub region_name: String,
    pub az_name: String,
    pub pod_az_name: String,
    pub dc_name: String,
    pub auth_url: Option<String>,
    pub endpoints: BTreeMap<String, String>,
    pub capabilities: BTreeMap<String, String>,
    pub credentials_configured: bool,
    pub state: PodState,
    pub state_reason: String,
    pub created_at: String,
    pub updated_at: String,
    pub checked_at: Option<String>,
}

/// A routing row: top id → (pod, bottom id) for one resource type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Routing {
    pub id: i64,
    pub top_id: String,
    pub bottom_id: Option<String>,
    pub pod_id: String,
    pub project_id: String,
    pub resource_type: String,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_create_rejects_unknown_fields() {
        let err = serde_json::from_str::<PodCreate>(r#"{"region_name": "r", "bogus": 1}"#);
        assert!(err.is_err());
        let ok: PodCreate =
            serde_json::from_str(r#"{"region_name": "r", "az_name": "az1"}"#).unwrap();
        assert_eq!(ok.az_name, "az1");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c: PodCredentials = serde_json::from_str(
            r#"{"username": "svc", "password": "pw-s3cret", "project_name": "service"}"#,
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(shown.contains("svc"));
    }

    #[test]
    fn states_round_trip() {
        for s in [
            PodState::Up,
            PodState::Degraded,
            PodState::Down,
            PodState::Maintenance,
        ] {
            assert_eq!(PodState::parse(s.as_str()), Some(s));
        }
    }
}
