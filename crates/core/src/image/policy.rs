//! Where an image may live (seed 002's policy) and how it spreads (seed 000's replication
//! modes). Both are image properties a tenant or operator sets with the ordinary Glance API,
//! with defaults in Cascade's configuration:
//!
//! - `cascade_placement`: comma-separated clauses that must all hold for a pod, each
//!   `key=v1|v2` (the pod's capability `key` is one of the values) or `key!=v1|v2` (it is none
//!   of them, or absent). `az` and `region` match the pod's AZ and region name. Empty: every pod.
//!   Example: `country=DE,regulation!=X`.
//! - `cascade_replication`: `lazy` (copy to a pod the first time something there needs it) or
//!   `eager` (on upload, copy to every pod the placement selects). The third mode, register,
//!   is the admin action that adopts an image already in a pod.

use std::collections::BTreeMap;

use cascade_model::admin::Pod;

use crate::{CoreError, Result};

/// The image property holding the placement policy.
pub const PLACEMENT_PROPERTY: &str = "cascade_placement";
/// The image property holding the replication mode.
pub const REPLICATION_PROPERTY: &str = "cascade_replication";

/// How an image spreads to pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    Lazy,
    Eager,
}

impl Replication {
    pub fn parse(s: &str) -> Result<Replication> {
        match s.trim() {
            "lazy" => Ok(Replication::Lazy),
            "eager" => Ok(Replication::Eager),
            other => Err(CoreError::bad_request(format!(
                "Invalid value '{other}' for property {REPLICATION_PROPERTY}: expected 'lazy' or 'eager'"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Replication::Lazy => "lazy",
            Replication::Eager => "eager",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    key: String,
    values: Vec<String>,
    negated: bool,
}

/// A parsed placement policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    clauses: Vec<Clause>,
    source: String,
}

impl Placement {
    /// Parses `key=v|w,key!=x`; empty means every pod.
    pub fn parse(text: &str) -> Result<Placement> {
        let mut clauses = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, values, negated) = if let Some((k, v)) = part.split_once("!=") {
                (k, v, true)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, v, false)
            } else {
                return Err(CoreError::bad_request(format!(
                    "Invalid {PLACEMENT_PROPERTY} clause '{part}': expected key=value or key!=value"
                )));
            };
            let key = key.trim();
            let values: Vec<String> = values
                .split('|')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            if key.is_empty() || values.is_empty() {
                return Err(CoreError::bad_request(format!(
                    "Invalid {PLACEMENT_PROPERTY} clause '{part}': a key and at least one value are required"
                )));
            }
            clauses.push(Clause {
                key: key.to_string(),
                values,
                negated,
            });
        }
        Ok(Placement {
            clauses,
            source: text.trim().to_string(),
        })
    }

    /// The policy as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
        match key {
            "az" => Some(pod.az_name.as_str()),
            "region" => Some(pod.region_name.as_str()),
            _ => pod.capabilities.get(key).map(String::as_str),
        }
    }

    /// Whether `pod` may hold the image.
    pub fn allows(&self, pod: &Pod) -> bool {
        self.clauses.iter().all(|c| {
            let found = Self::label(pod, &c.key).is_some_and(|v| c.values.iter().any(|w| w == v));
            found != c.negated
        })
    }
}

/// The policy and mode of an image, from its properties and the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePolicy {
    pub placement: Placement,
    pub replication: Replication,
}

impl ImagePolicy {
    pub fn of(
        properties: &BTreeMap<String, serde_json::Value>,
        default_placement: &Placement,
        default_replication: Replication,
    ) -> Result<ImagePolicy> {
        let placement = match properties.get(PLACEMENT_PROPERTY).and_then(|v| v.as_str()) {
            Some(text) => Placement::parse(text)?,
            None => default_placement.clone(),
        };
        let replication = match properties
            .get(REPLICATION_PROPERTY)
            .and_then(|v| v.as_str())
        {
            Some(text) => Replication::parse(text)?,
            None => default_replication,
        };
        Ok(ImagePolicy {
            placement,
            replication,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_model::admin::PodState;

    fn pod(az: &str, caps: &[(&str, &str)]) -> Pod {
        Pod {
            pod_id: az.into(),
            region_name: format!("R{az}"),
            az_name: az.into(),
            pod_az_name: String::new(),
            dc_name: String::new(),
            auth_url: None,
            endpoints: BTreeMap::new(),
            capabilities: caps
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            credentials_configured: true,
            state: PodState::Up,
            state_reason: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
            checked_at: None,
        }
    }

    #[test]
    fn clauses_and_negation() {
        let de = pod("az1", &[("country", "DE")]);
        let de_x = pod("az2", &[("country", "DE"), ("regulation", "X")]);
        let fr = pod("az3", &[("country", "FR")]);
        let p = Placement::parse("country=DE, regulation!=X").unwrap();
        assert!(p.allows(&de));
        assert!(!p.allows(&de_x));
        assert!(!p.allows(&fr));
        let any = Placement::parse("").unwrap();
        assert!(any.allows(&fr));
        let azs = Placement::parse("az=az1|az3").unwrap();
        assert!(azs.allows(&de) && azs.allows(&fr) && !azs.allows(&de_x));
        for bad in ["country", "=DE", "country=", "country!="] {
            assert!(Placement::parse(bad).is_err(), "{bad}");
        }
        assert!(Replication::parse("eager").is_ok());
        assert!(Replication::parse("sometimes").is_err());
    }
}
