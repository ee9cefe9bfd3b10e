//! Choosing a pod for a server: the requested AZ gives the candidate pods; pods that are down,
//! in maintenance or whose breaker is open are skipped; capabilities asked by the flavor's
//! extra specs or the scheduler hints (`capabilities:gpu=true`) must match the pod's labels;
//! server groups constrain (anti-affinity = different pods, affinity = the same pod); the
//! pod's free capacity (hypervisor statistics, cached briefly) must fit the flavor; within an
//! AZ a project stays bound to the pod it was first placed in while that pod fits (Trio2o's
//! binding); otherwise the pod with the most free RAM wins.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use cascade_model::admin::{Pod, PodState};
use cascade_store::now_micros;
use http::Method;
use serde_json::Value;
use tokio::time::Instant;

use super::Compute;
use crate::{CoreError, Result};

/// Hints of a create that matter to placement.
#[derive(Debug, Clone, Default)]
pub struct SchedulerHints {
    /// `group`: a server group id.
    pub group: Option<String>,
    /// `capabilities:key` = value pairs from the hints.
    pub capabilities: BTreeMap<String, String>,
    /// Only this pod (set by compute when an existing boot volume pins the server).
    pub pod: Option<String>,
}

/// Free capacity of a pod.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capacity {
    vcpus: i64,
    ram_mb: i64,
    disk_gb: i64,
}

/// Pod id → (when read, free capacity), charged locally between reads.
pub(crate) type CapacityCache = Mutex<HashMap<String, (Instant, Capacity)>>;

const CAPACITY_TTL: Duration = Duration::from_secs(5);

/// Whether `caps` (pod labels) satisfy every `capabilities:*` requirement in `specs`.
pub fn fits_capabilities(
    caps: &BTreeMap<String, String>,
    required: &BTreeMap<String, String>,
) -> bool {
    required
        .iter()
        .all(|(k, v)| caps.get(k).is_some_and(|have| have.eq_ignore_ascii_case(v)))
}

/// `capabilities:key=value` entries of a flavor's extra specs.
fn required_capabilities(flavor: &Value, hints: &SchedulerHints) -> BTreeMap<String, String> {
    let mut req = BTreeMap::new();
    if let Some(specs) = flavor["extra_specs"].as_object() {
        for (k, v) in specs {
            if let (Some(key), Some(v)) = (k.strip_prefix("capabilities:"), v.as_str()) {
                req.insert(key.to_string(), v.to_string());
            }
        }
    }
    req.extend(hints.capabilities.clone());
    req
}

/// Why nothing fits, in Nova's words.
pub(crate) const NO_VALID_HOST: &str =
    "No valid host was found. There are not enough hosts available.";

impl Compute {
    async fn capacity(&self, pod: &Pod) -> Option<Capacity> {
        if let Some((at, c)) = self.capacity.lock().ok()?.get(&pod.pod_id)
            && at.elapsed() < CAPACITY_TTL
        {
            return Some(*c);
        }
        let client = self.pods.client(&pod.pod_id).await.ok()?;
        let r = tokio::time::timeout(
            self.config.live_timeout,
            client.send(
                Method::GET,
                "compute",
                "/os-hypervisors/statistics",
                None,
                &[("OpenStack-API-Version", "compute 2.1")],
            ),
        )
        .await
        .ok()?
        .ok()?;
        if r.status != 200 {
            return None;
        }
        let s = r.json().ok()?["hypervisor_statistics"].clone();
        let n = |k: &str| s[k].as_i64().unwrap_or(0);
        let c = Capacity {
            vcpus: n("vcpus") - n("vcpus_used"),
            ram_mb: s["free_ram_mb"]
                .as_i64()
                .unwrap_or(n("memory_mb") - n("memory_mb_used")),
            disk_gb: s["free_disk_gb"]
                .as_i64()
                .unwrap_or(n("local_gb") - n("local_gb_used")),
        };
        if let Ok(mut guard) = self.capacity.lock() {
            guard.insert(pod.pod_id.clone(), (Instant::now(), c));
        }
        Some(c)
    }

    /// Charges a placement against the cached capacity so a burst of creates spreads out.
    fn charge(&self, pod_id: &str, flavor: &Value) {
        if let Ok(mut guard) = self.capacity.lock()
            && let Some((_, c)) = guard.get_mut(pod_id)
        {
            c.vcpus -= flavor["vcpus"].as_i64().unwrap_or(0);
            c.ram_mb -= flavor["ram"].as_i64().unwrap_or(0);
            c.disk_gb -= flavor["disk"].as_i64().unwrap_or(0);
        }
    }

    /// The AZs tenants can use (one per pod AZ).
    pub async fn availability_zones(&self) -> Result<Vec<(String, bool)>> {
        let pods = self.pods.list().await?;
        let mut zones: BTreeMap<String, bool> = BTreeMap::new();
        for p in pods {
            let usable = matches!(p.state, PodState::Up | PodState::Degraded);
            let e = zones.entry(p.az_name.clone()).or_insert(false);
            *e |= usable;
        }
        Ok(zones.into_iter().collect())
    }

    /// Checks a requested AZ exists (Nova: 400 otherwise).
    pub(crate) async fn check_az(&self, az: &str) -> Result<()> {
        if self.pods.list().await?.iter().any(|p| p.az_name == az) {
            Ok(())
        } else {
            Err(CoreError::bad_request(
                "The requested availability zone is not available",
            ))
        }
    }

    /// Picks a pod. `Err` carries [`NO_VALID_HOST`] when nothing fits.
    pub(crate) async fn schedule(
        &self,
        project_id: &str,
        az: Option<&str>,
        flavor: &Value,
        hints: &SchedulerHints,
        group: Option<(&str, &[String])>,
    ) -> Result<Pod> {
        let required = required_capabilities(flavor, hints);
        let mut candidates = Vec::new();
        for pod in self.pods.list().await? {
            if az.is_some_and(|a| a != pod.az_name)
                || hints.pod.as_ref().is_some_and(|p| p != &pod.pod_id)
            {
                continue;
            }
            if !matches!(pod.state, PodState::Up | PodState::Degraded) {
                continue;
            }
            if let Ok(c) = self.pods.client(&pod.pod_id).await
                && c.is_open()
            {
                continue;
            }
            if !fits_capabilities(&pod.capabilities, &required) {
                continue;
            }
            if let Some((policy, member_pods)) = group {
                let here = member_pods.iter().any(|p| p == &pod.pod_id);
                match policy {
                    "anti-affinity" if here => continue,
                    "affinity" if !member_pods.is_empty() && !here => continue,
                    _ => {}
                }
            }
            candidates.push(pod);
        }
        let mut fitting = Vec::new();
        for pod in candidates {
            let Some(cap) = self.capacity(&pod).await else {
                continue;
            };
            let fits = cap.vcpus >= flavor["vcpus"].as_i64().unwrap_or(0)
                && cap.ram_mb >= flavor["ram"].as_i64().unwrap_or(0)
                && cap.disk_gb >= flavor["disk"].as_i64().unwrap_or(0);
            if fits {
                fitting.push((pod, cap));
            }
        }
        if fitting.is_empty() {
            return Err(CoreError::new(crate::ErrorKind::Conflict, NO_VALID_HOST));
        }
        // Tenant binding within an AZ.
        if let Some(az) = az
            && let Some(bound) = self.store.pod_binding(project_id, az).await?
            && let Some((pod, _)) = fitting.iter().find(|(p, _)| p.pod_id == bound)
        {
            let pod = pod.clone();
            self.charge(&pod.pod_id, flavor);
            return Ok(pod);
        }
        fitting.sort_by(|a, b| {
            b.1.ram_mb
                .cmp(&a.1.ram_mb)
                .then_with(|| a.0.region_name.cmp(&b.0.region_name))
        });
        let pod = fitting.swap_remove(0).0;
        if let Some(az) = az {
            self.store
                .set_pod_binding(project_id, az, &pod.pod_id, now_micros())
                .await?;
        }
        self.charge(&pod.pod_id, flavor);
        Ok(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_matching() {
        let caps: BTreeMap<String, String> = [
            ("gpu".to_string(), "true".to_string()),
            ("country".to_string(), "DE".to_string()),
        ]
        .into();
        let want = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(fits_capabilities(&caps, &want(&[])));
        assert!(fits_capabilities(&caps, &want(&[("gpu", "True")])));
        assert!(!fits_capabilities(
            &caps,
            &want(&[("gpu", "true"), ("country", "FR")])
        ));
        assert!(!fits_capabilities(&caps, &want(&[("sriov", "true")])));
        let flavor = serde_json::json!({"extra_specs": {"capabilities:gpu": "true", "hw:cpu_policy": "dedicated"}});
        let req = required_capabilities(&flavor, &SchedulerHints::default());
        assert_eq!(req.len(), 1);
    }
}
