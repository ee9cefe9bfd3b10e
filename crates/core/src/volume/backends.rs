//! The admin's views of the pods' storage backends: `scheduler-stats/get_pools` (every
//! reachable pod's pools, as the pods report them) and `os-hosts` (every reachable pod's
//! Cinder hosts; a host's details, and a backend's `capabilities`, come from the pod that has
//! it). Each pod is asked with
//! Cascade's service identity; a pod that is down or does not answer is left out of a list
//! (logged), since a list of the others is still the truth about them.

use cascade_model::admin::PodState;
use http::Method;
use serde_json::Value;

use super::{POD_MV, VolumeService, pod_error};
use crate::{CoreError, Result};

impl VolumeService {
    /// One GET to every reachable pod; the JSON answers of those that gave a 200.
    async fn ask_every_pod(&self, path: &str) -> Result<Vec<(String, Value)>> {
        let mut out = Vec::new();
        for p in self.pods.list().await? {
            if p.state == PodState::Down || self.pod_unreachable(&p.pod_id).await {
                continue;
            }
            let client = self.pods.client(&p.pod_id).await?;
            let r = match tokio::time::timeout(
                self.config.live_timeout,
                client.send(Method::GET, "volumev3", path, None, &[POD_MV]),
            )
            .await
            {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    tracing::warn!(pod = %p.region_name, path, error = %e, "pod left out of an admin list");
                    continue;
                }
                Err(_) => {
                    tracing::warn!(pod = %p.region_name, path, "pod timed out; left out of an admin list");
                    continue;
                }
            };
            if r.status != 200 {
                tracing::warn!(pod = %p.region_name, path, status = r.status, "pod left out of an admin list");
                continue;
            }
            out.push((p.pod_id.clone(), r.json().unwrap_or(Value::Null)));
        }
        Ok(out)
    }

    /// `GET /scheduler-stats/get_pools`: the pools of every reachable pod (`detail`: with
    /// their capabilities).
    pub async fn pools(&self, detail: bool) -> Result<Vec<Value>> {
        let path = format!("/scheduler-stats/get_pools?detail={detail}");
        let mut pools = Vec::new();
        for (_, v) in self.ask_every_pod(&path).await? {
            for p in v["pools"].as_array().cloned().unwrap_or_default() {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), p["name"].clone());
                if detail {
                    o.insert("capabilities".into(), p["capabilities"].clone());
                }
                pools.push(Value::Object(o));
            }
        }
        Ok(pools)
    }

    /// `GET /os-hosts`: every reachable pod's hosts.
    pub async fn hosts(&self) -> Result<Vec<Value>> {
        let mut hosts = Vec::new();
        for (_, v) in self.ask_every_pod("/os-hosts").await? {
            hosts.extend(v["hosts"].as_array().cloned().unwrap_or_default());
        }
        Ok(hosts)
    }

    /// `GET /os-hosts/{host}`: the resources of the pod that has that host.
    pub async fn host(&self, host: &str) -> Result<Value> {
        let v = self
            .ask_owner_pod("/os-hosts", host, "Host not found")
            .await?;
        Ok(v["host"].clone())
    }

    /// `GET /capabilities/{host}`: the backend's capabilities, from the pod that has it.
    pub async fn capabilities(&self, host: &str) -> Result<Value> {
        self.ask_owner_pod(
            "/capabilities",
            host,
            &format!("Service {host} could not be found."),
        )
        .await
    }

    /// `GET <collection>/<host>` of the first pod that knows the host (pods answer 404 for
    /// the others' hosts).
    async fn ask_owner_pod(&self, collection: &str, host: &str, missing: &str) -> Result<Value> {
        let path = format!(
            "{collection}/{}",
            url::form_urlencoded::byte_serialize(host.as_bytes()).collect::<String>()
        );
        for p in self.pods.list().await? {
            if p.state == PodState::Down || self.pod_unreachable(&p.pod_id).await {
                continue;
            }
            let client = self.pods.client(&p.pod_id).await?;
            let r = client
                .send(Method::GET, "volumev3", &path, None, &[POD_MV])
                .await?;
            match r.status {
                200 => return Ok(r.json().unwrap_or(Value::Null)),
                404 => continue,
                s => return Err(pod_error(s, &r.body, None, host)),
            }
        }
        Err(CoreError::not_found(missing))
    }
}
