//! The hosts of every pod as one cloud's: hypervisors and compute services, read live from each
//! pod's own `os-hypervisors` and `os-services` (microversion 2.53, with Cascade's service
//! identity, every pod concurrently on its own deadline; a pod that fails is left out, never
//! failing the list). A pod's host is renamed `<host>@<region>` so names stay unique across
//! pods; a hypervisor's or service's top UUID is derived from the pod and its bottom UUID
//! (stable, unambiguous), and its integer id (what clients see below 2.53) is the id of a
//! routing row (`hypervisor`, `compute_service`) made on first sight. A pod's own availability
//! zone is shown as its top one. Servers on a hypervisor are the top's servers (the index maps
//! bottom ids back), so a pod's servers Cascade does not own are not shown.

use std::time::Duration;

use cascade_model::admin::Pod;
use cascade_pod::PodClient;
use cascade_store::StoreError;
use cascade_store::routings::NewRouting;
use futures_util::future::join_all;
use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Compute;
use crate::Result;
use crate::error::{CoreError, ErrorKind, POD_UNAVAILABLE};

/// The microversion Cascade reads pods' hosts at: UUID ids, `with_servers`, usage fields.
const POD_MV: &str = "compute 2.53";
const RT_HYPERVISOR: &str = "hypervisor";
const RT_SERVICE: &str = "compute_service";

/// A top id made of a pod and a bottom id (a version-8 UUID of SHA-256 bytes).
fn derived_uuid(pod_id: &str, kind: &str, bottom: &str) -> String {
    let d = Sha256::digest(format!("{pod_id}/{kind}/{bottom}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid().to_string()
}

/// `<host>@<region>`: a pod's host name as the top shows it.
pub fn qualified_host(host: &str, region: &str) -> String {
    format!("{host}@{region}")
}

// ---- what pods answer (Nova 2.53) -------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
struct BottomServerRef {
    uuid: String,
}

#[derive(Debug, Clone, Deserialize)]
struct BottomHypService {
    host: String,
    id: String,
    #[serde(default)]
    disabled_reason: Option<String>,
}

/// A hypervisor's usage (Nova before 2.88).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HypervisorUsage {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub vcpus_used: i64,
    pub memory_mb_used: i64,
    pub local_gb_used: i64,
    pub free_ram_mb: i64,
    pub free_disk_gb: i64,
    pub current_workload: i64,
    pub running_vms: i64,
    pub disk_available_least: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct BottomHypervisor {
    id: String,
    hypervisor_hostname: String,
    state: String,
    status: String,
    #[serde(default)]
    servers: Vec<BottomServerRef>,
    #[serde(flatten)]
    usage: HypervisorUsage,
    hypervisor_type: String,
    hypervisor_version: i64,
    host_ip: String,
    service: BottomHypService,
    #[serde(default)]
    cpu_info: Value,
}

#[derive(Deserialize)]
struct BottomHypervisors {
    hypervisors: Vec<BottomHypervisor>,
}

#[derive(Debug, Clone, Deserialize)]
struct BottomService {
    id: String,
    binary: String,
    host: String,
    zone: String,
    status: String,
    state: String,
    updated_at: Option<String>,
    disabled_reason: Option<String>,
    #[serde(default)]
    forced_down: bool,
}

#[derive(Deserialize)]
struct BottomServices {
    services: Vec<BottomService>,
}

#[derive(Deserialize)]
struct BottomServiceOne {
    service: BottomService,
}

// ---- what the top shows ------------------------------------------------------------------------

/// A server on a hypervisor: its top id and name.
#[derive(Debug, Clone)]
pub struct HostedServer {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub vcpus: i64,
    pub ram: i64,
    pub disk: i64,
}

/// One pod's hypervisor, as the top shows it.
#[derive(Debug, Clone)]
pub struct Hypervisor {
    pub id: String,
    pub int_id: i64,
    pub hostname: String,
    pub state: String,
    pub status: String,
    pub servers: Vec<HostedServer>,
    pub usage: HypervisorUsage,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub host_ip: String,
    pub cpu_info: Value,
    pub service_host: String,
    pub service_id: String,
    pub service_int_id: i64,
    pub service_disabled_reason: Option<String>,
    pod_id: String,
    bottom_id: String,
}

/// One pod's service, as the top shows it.
#[derive(Debug, Clone)]
pub struct ComputeService {
    pub id: String,
    pub int_id: i64,
    pub binary: String,
    pub host: String,
    pub zone: String,
    pub status: String,
    pub state: String,
    pub updated_at: Option<String>,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
}

/// A 2.53 service update (`PUT /os-services/{id}`), passed to the pod as given.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced_down: Option<bool>,
}

/// A pre-2.53 service action's answer (`enable`, `disable`, `disable-log-reason`,
/// `force-down`), with the host as the top names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceActionResult {
    pub host: String,
    pub binary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced_down: Option<bool>,
}

/// A pod's 4xx answer as the caller's error (Nova's message kept), anything else as unavailable.
fn pod_status_error(status: u16, body: &[u8]) -> CoreError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.as_object()?
                .values()
                .next()?
                .get("message")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| POD_UNAVAILABLE.to_string());
    let kind = match status {
        400 => ErrorKind::BadRequest,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        _ => ErrorKind::Unavailable,
    };
    if kind == ErrorKind::Unavailable {
        let mut e = CoreError::new(kind, POD_UNAVAILABLE);
        e.detail = Some(format!("pod answered {status}: {message}"));
        e
    } else {
        CoreError::new(kind, message)
    }
}

impl Compute {
    pub(super) async fn pod_get<T: for<'de> Deserialize<'de>>(
        &self,
        client: &PodClient,
        path: &str,
    ) -> Result<T> {
        let wait = self.config.live_timeout.max(Duration::from_secs(5));
        let r = tokio::time::timeout(
            wait,
            client.send(
                Method::GET,
                "compute",
                path,
                None,
                &[("OpenStack-API-Version", POD_MV)],
            ),
        )
        .await
        .map_err(|_| CoreError::new(ErrorKind::Unavailable, POD_UNAVAILABLE))??;
        if r.status != 200 {
            return Err(pod_status_error(r.status, &r.body));
        }
        serde_json::from_slice(&r.body).map_err(|e| {
            let mut err = CoreError::new(ErrorKind::Unavailable, POD_UNAVAILABLE);
            err.detail = Some(format!("{path}: unreadable answer: {e}"));
            err
        })
    }

    /// Every pod with its client, in the registry's order.
    pub(super) async fn pod_clients(&self) -> Result<Vec<(Pod, std::sync::Arc<PodClient>)>> {
        let mut out = Vec::new();
        for pod in self.pods.list().await? {
            match self.pods.client(&pod.pod_id).await {
                Ok(c) => out.push((pod, c)),
                Err(e) => tracing::warn!(pod = %pod.region_name, error = %e.full(), "no client"),
            }
        }
        Ok(out)
    }

    /// The integer id of a host resource: the id of its routing row, made on first sight.
    async fn int_id(&self, top: &str, pod_id: &str, bottom: &str, rt: &str) -> Result<i64> {
        if let Some(r) = self.store.find_routing(top, pod_id, rt).await? {
            return Ok(r.id);
        }
        let new = NewRouting {
            top_id: top.to_string(),
            bottom_id: Some(bottom.to_string()),
            pod_id: pod_id.to_string(),
            project_id: String::new(),
            resource_type: rt.to_string(),
        };
        match self.store.insert_routing(&new).await {
            Ok(r) => Ok(r.id),
            Err(StoreError::Conflict(_)) => self
                .store
                .find_routing(top, pod_id, rt)
                .await?
                .map(|r| r.id)
                .ok_or_else(|| CoreError::internal("routing row vanished")),
            Err(e) => Err(e.into()),
        }
    }

    async fn pod_hypervisors(&self, pod: &Pod, client: &PodClient) -> Result<Vec<Hypervisor>> {
        let list: BottomHypervisors = self
            .pod_get(client, "/os-hypervisors/detail?with_servers=true")
            .await?;
        let mut out = Vec::with_capacity(list.hypervisors.len());
        for h in list.hypervisors {
            let id = derived_uuid(&pod.pod_id, RT_HYPERVISOR, &h.id);
            let int_id = self.int_id(&id, &pod.pod_id, &h.id, RT_HYPERVISOR).await?;
            let service_id = derived_uuid(&pod.pod_id, RT_SERVICE, &h.service.id);
            let service_int_id = self
                .int_id(&service_id, &pod.pod_id, &h.service.id, RT_SERVICE)
                .await?;
            let mut servers = Vec::new();
            for s in &h.servers {
                if let Some(row) = self.store.server_by_bottom(&pod.pod_id, &s.uuid).await? {
                    let disk = serde_json::from_str::<Value>(&row.flavor)
                        .ok()
                        .and_then(|f| f["disk"].as_i64())
                        .unwrap_or(0);
                    servers.push(HostedServer {
                        id: row.id,
                        name: row.name,
                        project_id: row.project_id,
                        vcpus: row.vcpus,
                        ram: row.ram,
                        disk,
                    });
                }
            }
            out.push(Hypervisor {
                id,
                int_id,
                hostname: qualified_host(&h.hypervisor_hostname, &pod.region_name),
                state: h.state,
                status: h.status,
                servers,
                usage: h.usage,
                hypervisor_type: h.hypervisor_type,
                hypervisor_version: h.hypervisor_version,
                host_ip: h.host_ip,
                cpu_info: h.cpu_info,
                service_host: qualified_host(&h.service.host, &pod.region_name),
                service_id,
                service_int_id,
                service_disabled_reason: h.service.disabled_reason,
                pod_id: pod.pod_id.clone(),
                bottom_id: h.id,
            });
        }
        Ok(out)
    }

    /// Every pod's hypervisors (a pod that does not answer is left out).
    pub async fn hypervisors(&self) -> Result<Vec<Hypervisor>> {
        let pods = self.pod_clients().await?;
        let calls = pods.iter().map(|(pod, c)| self.pod_hypervisors(pod, c));
        let mut out = Vec::new();
        for ((pod, _), r) in pods.iter().zip(join_all(calls).await) {
            match r {
                Ok(list) => out.extend(list),
                Err(e) => {
                    tracing::warn!(pod = %pod.region_name, error = %e.full(), "hypervisors unavailable")
                }
            }
        }
        Ok(out)
    }

    /// A hypervisor's `uptime`, asked of its pod.
    pub async fn hypervisor_uptime(&self, h: &Hypervisor) -> Result<String> {
        #[derive(Deserialize)]
        struct Up {
            uptime: String,
        }
        #[derive(Deserialize)]
        struct Doc {
            hypervisor: Up,
        }
        let client = self.pods.client(&h.pod_id).await?;
        let doc: Doc = self
            .pod_get(&client, &format!("/os-hypervisors/{}/uptime", h.bottom_id))
            .await?;
        Ok(doc.hypervisor.uptime)
    }

    fn top_service(&self, pod: &Pod, s: BottomService, int_id: i64) -> ComputeService {
        let zone = if s.zone == pod.pod_az_name && !pod.az_name.is_empty() {
            pod.az_name.clone()
        } else {
            s.zone
        };
        ComputeService {
            id: derived_uuid(&pod.pod_id, RT_SERVICE, &s.id),
            int_id,
            binary: s.binary,
            host: qualified_host(&s.host, &pod.region_name),
            zone,
            status: s.status,
            state: s.state,
            updated_at: s.updated_at,
            disabled_reason: s.disabled_reason,
            forced_down: s.forced_down,
        }
    }

    async fn pod_services(
        &self,
        pod: &Pod,
        client: &PodClient,
    ) -> Result<Vec<(ComputeService, String)>> {
        let list: BottomServices = self.pod_get(client, "/os-services").await?;
        let mut out = Vec::with_capacity(list.services.len());
        for s in list.services {
            let top = derived_uuid(&pod.pod_id, RT_SERVICE, &s.id);
            let int_id = self.int_id(&top, &pod.pod_id, &s.id, RT_SERVICE).await?;
            let bottom = s.id.clone();
            out.push((self.top_service(pod, s, int_id), bottom));
        }
        Ok(out)
    }

    /// Every pod's Nova services (a pod that does not answer is left out).
    pub async fn compute_services(&self) -> Result<Vec<ComputeService>> {
        Ok(self
            .services_with_pods()
            .await?
            .into_iter()
            .map(|(s, _, _)| s)
            .collect())
    }

    async fn services_with_pods(&self) -> Result<Vec<(ComputeService, Pod, String)>> {
        let pods = self.pod_clients().await?;
        let calls = pods.iter().map(|(pod, c)| self.pod_services(pod, c));
        let mut out = Vec::new();
        for ((pod, _), r) in pods.iter().zip(join_all(calls).await) {
            match r {
                Ok(list) => out.extend(list.into_iter().map(|(s, b)| (s, pod.clone(), b))),
                Err(e) => {
                    tracing::warn!(pod = %pod.region_name, error = %e.full(), "services unavailable")
                }
            }
        }
        Ok(out)
    }

    async fn pod_put(
        &self,
        pod_id: &str,
        path: &str,
        body: &Value,
        version: &str,
    ) -> Result<Value> {
        let client = self.pods.client(pod_id).await?;
        let r = tokio::time::timeout(
            self.config.live_timeout.max(Duration::from_secs(5)),
            client.send(
                Method::PUT,
                "compute",
                path,
                Some(body),
                &[("OpenStack-API-Version", version)],
            ),
        )
        .await
        .map_err(|_| CoreError::new(ErrorKind::Unavailable, POD_UNAVAILABLE))??;
        if r.status != 200 {
            return Err(pod_status_error(r.status, &r.body));
        }
        r.json().map_err(|e| {
            let mut err = CoreError::new(ErrorKind::Unavailable, POD_UNAVAILABLE);
            err.detail = Some(format!("{path}: unreadable answer: {e}"));
            err
        })
    }

    /// `PUT /os-services/{id}` (2.53): the service's pod applies the change.
    pub async fn update_service(&self, id: &str, change: &ServiceChange) -> Result<ComputeService> {
        let all = self.services_with_pods().await?;
        let Some((svc, pod, bottom)) = all.into_iter().find(|(s, _, _)| s.id == id) else {
            return Err(CoreError::not_found(format!(
                "Service {id} could not be found."
            )));
        };
        let body = serde_json::to_value(change).map_err(|e| CoreError::internal(e.to_string()))?;
        let answer = self
            .pod_put(
                &pod.pod_id,
                &format!("/os-services/{bottom}"),
                &body,
                POD_MV,
            )
            .await?;
        let one: BottomServiceOne = serde_json::from_value(answer).map_err(|e| {
            let mut err = CoreError::new(ErrorKind::Unavailable, POD_UNAVAILABLE);
            err.detail = Some(format!("service update: unreadable answer: {e}"));
            err
        })?;
        Ok(self.top_service(&pod, one.service, svc.int_id))
    }

    /// The pod and bottom host name of a top host name (`<host>@<region>`).
    pub async fn resolve_host(&self, host: &str) -> Result<Option<(Pod, String)>> {
        for pod in self.pods.list().await? {
            if let Some(bottom) = host.strip_suffix(&format!("@{}", pod.region_name))
                && !bottom.is_empty()
            {
                return Ok(Some((pod, bottom.to_string())));
            }
        }
        Ok(None)
    }

    /// A pre-2.53 service action (`enable`, `disable`, `disable-log-reason`, `force-down`) on
    /// the service `binary` of the top host `host`, done by its pod.
    pub async fn service_action(
        &self,
        action: &str,
        host: &str,
        binary: &str,
        extra: &serde_json::Map<String, Value>,
    ) -> Result<ServiceActionResult> {
        let Some((pod, bottom_host)) = self.resolve_host(host).await? else {
            return Err(CoreError::not_found(format!(
                "Compute host {host} could not be found."
            )));
        };
        let mut body = extra.clone();
        body.insert("host".into(), Value::String(bottom_host));
        body.insert("binary".into(), Value::String(binary.to_string()));
        let answer = self
            .pod_put(
                &pod.pod_id,
                &format!("/os-services/{action}"),
                &Value::Object(body),
                // The actions exist only before 2.53; `force-down` from 2.11.
                "compute 2.11",
            )
            .await?;
        let mut r: ServiceActionResult = serde_json::from_value(answer["service"].clone())
            .map_err(|e| {
                let mut err = CoreError::new(ErrorKind::Unavailable, POD_UNAVAILABLE);
                err.detail = Some(format!("service {action}: unreadable answer: {e}"));
                err
            })?;
        r.host = qualified_host(&r.host, &pod.region_name);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct_per_pod() {
        let a = derived_uuid("pod-a", RT_HYPERVISOR, "x");
        assert_eq!(a, derived_uuid("pod-a", RT_HYPERVISOR, "x"));
        assert_ne!(a, derived_uuid("pod-b", RT_HYPERVISOR, "x"));
        assert_ne!(a, derived_uuid("pod-a", RT_SERVICE, "x"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }

    #[test]
    fn pod_errors_keep_novas_message_for_4xx_only() {
        let e = pod_status_error(
            404,
            br#"{"itemNotFound": {"code": 404, "message": "gone"}}"#,
        );
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::NotFound, "gone"));
        let e = pod_status_error(500, b"boom");
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(e.message, POD_UNAVAILABLE);
    }
}
