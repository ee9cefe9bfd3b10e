//! The server build saga and its companions, run as durable jobs (DESIGN.md protocols 1–3).
//! `server_build`: ensure the flavor, image, keypair and ports in the pod (each through the
//! routing lock, so repeated or crashed runs converge), boot the bottom server named
//! `<name>@<top id>` with the top id in its metadata, record the routing, then follow the
//! bottom server until it leaves BUILD. A permanent failure marks the top server `ERROR` with
//! a Nova-style fault and removes what was made in the pod. `server_delete`: delete the bottom
//! server, wait until it is gone, release its ports, forget the routing and mark the index row
//! deleted. `server_sync`: copy name and metadata to the bottom server.

use std::sync::{Arc, Weak};
use std::time::Duration;

use cascade_store::compute::ServerRow;
use cascade_store::now_micros;
use http::Method;
use serde_json::{Value, json};

use super::Compute;
use super::deps::PlannedPort;
use super::servers::TOP_ID_KEY;
use crate::identity::Actor;
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::routing_lock::{BottomKey, ensure_bottom, forget};
use crate::{CoreError, ErrorKind};

pub(crate) const BUILD: &str = "server_build";
pub(crate) const DELETE: &str = "server_delete";
pub(crate) const SYNC: &str = "server_sync";
pub(crate) const SNAPSHOT: &str = "server_snapshot";

/// Microversion used for bottom server calls (networks "none"/"auto" need ≥ 2.37).
const POD_MV: (&str, &str) = ("OpenStack-API-Version", "compute 2.73");

pub(crate) fn register(compute: &Arc<Compute>) {
    for job_type in [BUILD, DELETE, SYNC, SNAPSHOT] {
        compute.jobs.register(Arc::new(ServerJobs {
            compute: Arc::downgrade(compute),
            job_type,
        }));
    }
}

struct ServerJobs {
    compute: Weak<Compute>,
    job_type: &'static str,
}

impl JobHandler for ServerJobs {
    fn job_type(&self) -> &'static str {
        self.job_type
    }

    fn run<'a>(&'a self, job: &'a Job, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let compute = self
                .compute
                .upgrade()
                .ok_or_else(|| JobError::Retry("shutting down".into()))?;
            let server_id = job.resource_id.as_str();
            match self.job_type {
                BUILD => compute.run_build(server_id, ctx).await,
                DELETE => compute.run_delete(server_id).await,
                SNAPSHOT => compute.run_snapshot(job).await,
                _ => compute.run_sync(server_id).await,
            }
        })
    }

    fn on_failed<'a>(&'a self, job: &'a Job, error: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(compute) = self.compute.upgrade() else {
                return;
            };
            if self.job_type == BUILD {
                compute.fail_build(&job.resource_id, error).await;
            } else if self.job_type == SNAPSHOT {
                if let Err(e) = compute.images.abandon_snapshot(&job.resource_id).await {
                    tracing::warn!(image = %job.resource_id, error = %e, "cannot delete a failed snapshot's image");
                }
            } else if self.job_type == DELETE {
                tracing::error!(server = %job.resource_id, error, "server delete failed for good");
            }
        })
    }
}

fn status_error(what: &str, status: u16, body: &[u8]) -> JobError {
    let text = String::from_utf8_lossy(body);
    if status >= 500 || status == 429 || status == 401 {
        JobError::Retry(format!("{what}: pod answered {status}: {text}"))
    } else {
        JobError::Fail(format!("{what}: pod answered {status}: {text}"))
    }
}

/// The fault of a server whose build failed for good, as Nova records a `BuildAbortException`:
/// code 500, a message that names only the top server (what tenants see), and the job's error
/// (pod, endpoint, bottom ids, the pod's answer) in `details`, which Nova shows only to admins
/// for code 500.
pub(crate) fn build_fault(server_id: &str, error: &str) -> Value {
    json!({
        "code": 500,
        "message": format!("Build of instance {server_id} aborted: Failed to create the server in its availability zone."),
        "details": error,
        "created": cascade_model::time::iso_seconds(chrono::Utc::now()),
    })
}

impl Compute {
    fn actor_of(row: &ServerRow) -> Actor {
        Actor::from_request(&row.request, &row.user_id, &row.project_id)
    }

    /// Looks a bottom server up by its top id (name suffix `@<top id>`), as the pod's admin.
    async fn find_bottom_server(
        &self,
        pod_id: &str,
        top_id: &str,
    ) -> Result<Option<String>, CoreError> {
        let client = self.pods.client(pod_id).await?;
        let r = client
            .send(
                Method::GET,
                "compute",
                &format!("/servers?all_tenants=1&name=%40{top_id}%24"),
                None,
                &[POD_MV],
            )
            .await?;
        if r.status != 200 {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                format!("listing servers in the pod answered {}", r.status),
            ));
        }
        let v = r.json().unwrap_or(Value::Null);
        Ok(v["servers"]
            .as_array()
            .and_then(|s| {
                s.iter().find(|s| {
                    s["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with(&format!("@{top_id}")))
                })
            })
            .and_then(|s| s["id"].as_str())
            .map(str::to_string))
    }

    async fn run_build(&self, server_id: &str, ctx: &JobContext) -> Result<(), JobError> {
        let mut row = self
            .store
            .get_server(server_id)
            .await
            .map_err(CoreError::from)?;
        if row.deleted || row.task_state.as_deref() == Some("deleting") || row.status == "ERROR" {
            return Ok(());
        }
        let pod_id = row
            .pod_id
            .clone()
            .ok_or_else(|| JobError::Fail("server has no pod".into()))?;
        let request: Value = serde_json::from_str(&row.request).unwrap_or(Value::Null);
        let actor = Self::actor_of(&row);
        let client = self.pods.client(&pod_id).await?;

        // Everything the server needs in the pod, each idempotent.
        row.task_state = Some("networking".into());
        self.store
            .update_server(&row)
            .await
            .map_err(CoreError::from)?;
        self.ensure_flavor_in_pod(&request["flavor"], &row.project_id, &pod_id)
            .await?;
        let image_id = request["image_id"].as_str().unwrap_or_default().to_string();
        let bottom_image = if image_id.is_empty() {
            None
        } else {
            Some(
                self.images
                    .ensure_in_pod(&row.project_id, &image_id, &pod_id)
                    .await?,
            )
        };
        if let Some(k) = request["key_name"].as_str() {
            self.ensure_keypair_in_pod(&actor, k, &pod_id).await?;
        }
        let ports: Vec<PlannedPort> =
            serde_json::from_value(request["ports"].clone()).unwrap_or_default();
        let bottom_ports = self.network.bind(&row.project_id, &pod_id, &ports).await?;
        if ctx.is_cancelled() {
            return Err(JobError::Retry("shutting down".into()));
        }

        // The bottom server, through the routing lock.
        row.task_state = Some("spawning".into());
        self.store
            .update_server(&row)
            .await
            .map_err(CoreError::from)?;
        let token = self.delegation.token_for(&actor).await?;
        let pod = self.pods.get(&pod_id).await?;
        let key = BottomKey {
            top_id: server_id,
            pod_id: &pod_id,
            project_id: &row.project_id,
            resource_type: "server",
        };
        let networks = if bottom_ports.is_empty() {
            match request["networks"].as_str() {
                Some("Auto") => json!("auto"),
                _ => json!("none"),
            }
        } else {
            Value::Array(bottom_ports.iter().map(|p| json!({"port": p})).collect())
        };
        let mut metadata: serde_json::Map<String, Value> =
            serde_json::from_str(&row.metadata).unwrap_or_default();
        metadata.insert(TOP_ID_KEY.into(), json!(server_id));
        let mut bdm: Vec<Value> =
            serde_json::from_value(request["bdm"].clone()).unwrap_or_default();
        bdm = self
            .prepare_volumes(&actor, server_id, &pod_id, bdm)
            .await?;
        for b in &mut bdm {
            if b["source_type"] == "image"
                && b["uuid"].as_str() == Some(image_id.as_str())
                && let Some(bi) = &bottom_image
            {
                b["uuid"] = json!(bi);
            }
        }
        let mut server = json!({
            "name": format!("{}@{server_id}", row.name),
            "flavorRef": request["flavor"]["id"],
            "networks": networks,
            "metadata": metadata,
        });
        if let Some(bi) = &bottom_image {
            server["imageRef"] = json!(bi);
        }
        if !bdm.is_empty() {
            server["block_device_mapping_v2"] = Value::Array(bdm);
        }
        if !pod.pod_az_name.is_empty() {
            server["availability_zone"] = json!(pod.pod_az_name);
        }
        for field in ["key_name", "user_data"] {
            if let Some(v) = request[field].as_str() {
                server[field] = json!(v);
            }
        }
        if request["config_drive"] == json!(true) {
            server["config_drive"] = json!(true);
        }
        let body = json!({"server": server});
        let bottom_id = ensure_bottom(
            &self.store,
            &key,
            || self.find_bottom_server(&pod_id, server_id),
            || {
                let (client, token, body) = (client.clone(), token.clone(), body.clone());
                async move {
                    let r = client
                        .send_as(
                            Some(&token),
                            Method::POST,
                            "compute",
                            "/servers",
                            Some(&body),
                            &[POD_MV],
                        )
                        .await?;
                    if r.status != 202 {
                        let e = status_error("server create", r.status, &r.body);
                        return Err(match e {
                            JobError::Retry(m) => CoreError::new(ErrorKind::Unavailable, m),
                            JobError::Fail(m) => CoreError::bad_request(m),
                        });
                    }
                    r.json()
                        .ok()
                        .and_then(|v| v["server"]["id"].as_str().map(str::to_string))
                        .ok_or_else(|| {
                            CoreError::new(
                                ErrorKind::Unavailable,
                                "pod answered 202 without a server id",
                            )
                        })
                }
            },
        )
        .await?;
        let mut row = self
            .store
            .get_server(server_id)
            .await
            .map_err(CoreError::from)?;
        row.bottom_id = Some(bottom_id.clone());
        row.updated_at = now_micros();
        self.store
            .update_server(&row)
            .await
            .map_err(CoreError::from)?;
        if row.task_state.as_deref() == Some("deleting") {
            return Ok(()); // the delete job removes it
        }

        // Follow the bottom server until it leaves BUILD.
        let mut wait = Duration::from_millis(250);
        for _ in 0..600 {
            if ctx.is_cancelled() {
                return Err(JobError::Retry("shutting down".into()));
            }
            let r = client
                .send(
                    Method::GET,
                    "compute",
                    &format!("/servers/{bottom_id}"),
                    None,
                    &[POD_MV],
                )
                .await?;
            if r.status == 200 {
                let b = r.json().unwrap_or(Value::Null)["server"].clone();
                let mut row = self
                    .store
                    .get_server(server_id)
                    .await
                    .map_err(CoreError::from)?;
                if row.task_state.as_deref() == Some("deleting") || row.deleted {
                    return Ok(());
                }
                self.refresh_from_bottom(&mut row, &b).await;
                self.store
                    .update_server(&row)
                    .await
                    .map_err(CoreError::from)?;
                if row.status != "BUILD" {
                    tracing::info!(server = %server_id, status = %row.status, "server built");
                    return Ok(());
                }
            } else if r.status == 404 {
                return Err(JobError::Retry(
                    "bottom server vanished during build".into(),
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(3));
        }
        Err(JobError::Retry("bottom server still building".into()))
    }

    /// Marks a server whose build failed for good: `ERROR` with a fault, and removes what the
    /// saga made in the pod.
    async fn fail_build(&self, server_id: &str, error: &str) {
        let Ok(mut row) = self.store.get_server(server_id).await else {
            return;
        };
        if let Some(pod_id) = row.pod_id.clone() {
            if let Ok(Some(bottom)) = self.find_bottom_server(&pod_id, server_id).await
                && let Ok(client) = self.pods.client(&pod_id).await
            {
                // The top row keeps its pod: deleting the ERROR server finds this bottom
                // server again (by its top id) and retries, so a failure here is not lost.
                match client
                    .send(
                        Method::DELETE,
                        "compute",
                        &format!("/servers/{bottom}"),
                        None,
                        &[],
                    )
                    .await
                {
                    Ok(r) if matches!(r.status, 202 | 204 | 404) => {}
                    Ok(r) => tracing::warn!(
                        server_id,
                        pod_id,
                        bottom,
                        status = r.status,
                        "failed build: the pod refused to delete the bottom server; deleting the server retries"
                    ),
                    Err(e) => tracing::warn!(server_id, pod_id, bottom, error = %e,
                        "failed build: the bottom server could not be deleted; deleting the server retries"),
                }
            }
            let key = BottomKey {
                top_id: server_id,
                pod_id: &pod_id,
                project_id: &row.project_id,
                resource_type: "server",
            };
            let _ = forget(&self.store, &key).await;
            let _ = self
                .network
                .release(&row.project_id, server_id, Some(&pod_id))
                .await;
        }
        row.status = "ERROR".into();
        row.vm_state = "error".into();
        row.task_state = None;
        row.bottom_id = None;
        row.fault = Some(build_fault(server_id, error).to_string());
        row.updated_at = now_micros();
        if let Err(e) = self.store.update_server(&row).await {
            tracing::error!(server = %server_id, error = %e, "cannot record build failure");
        }
        tracing::warn!(server = %server_id, error, "server build failed");
    }

    async fn run_delete(&self, server_id: &str) -> Result<(), JobError> {
        let mut row = self
            .store
            .get_server(server_id)
            .await
            .map_err(CoreError::from)?;
        if row.deleted {
            return Ok(());
        }
        if let Some(pod_id) = row.pod_id.clone() {
            // A build still queued is cancelled; one running is waited for.
            self.jobs.cancel_or_wait(BUILD, server_id).await?;
            let bottom = match row.bottom_id.clone() {
                Some(b) => Some(b),
                None => self.find_bottom_server(&pod_id, server_id).await?,
            };
            if let Some(bottom) = bottom {
                let client = self.pods.client(&pod_id).await?;
                let r = client
                    .send(
                        Method::DELETE,
                        "compute",
                        &format!("/servers/{bottom}"),
                        None,
                        &[],
                    )
                    .await?;
                if !matches!(r.status, 204 | 404) {
                    return Err(status_error("server delete", r.status, &r.body));
                }
                let mut wait = Duration::from_millis(200);
                loop {
                    let r = client
                        .send(
                            Method::GET,
                            "compute",
                            &format!("/servers/{bottom}"),
                            None,
                            &[],
                        )
                        .await?;
                    if r.status == 404
                        || r.json()
                            .ok()
                            .is_some_and(|v| v["server"]["status"] == "DELETED")
                    {
                        break;
                    }
                    if wait > Duration::from_secs(2) {
                        return Err(JobError::Retry("bottom server still deleting".into()));
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
            self.network
                .release(&row.project_id, server_id, Some(&pod_id))
                .await?;
            let key = BottomKey {
                top_id: server_id,
                pod_id: &pod_id,
                project_id: &row.project_id,
                resource_type: "server",
            };
            forget(&self.store, &key).await?;
        } else {
            self.network
                .release(&row.project_id, server_id, None)
                .await?;
        }
        self.store
            .remove_group_member(server_id)
            .await
            .map_err(CoreError::from)?;
        let now = now_micros();
        row.deleted = true;
        row.deleted_at = Some(now);
        row.terminated_at = Some(now);
        row.status = "DELETED".into();
        row.vm_state = "deleted".into();
        row.task_state = None;
        row.updated_at = now;
        self.store
            .update_server(&row)
            .await
            .map_err(CoreError::from)?;
        tracing::info!(server = %server_id, "server deleted");
        Ok(())
    }

    /// Adopts a server snapshot made in the pod once the pod's image is active.
    async fn run_snapshot(&self, job: &Job) -> Result<(), JobError> {
        let pod_id = job
            .pod_id
            .clone()
            .ok_or_else(|| JobError::Fail("snapshot without a pod".into()))?;
        let bottom = job.payload["bottom_image"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = job.payload["name"]
            .as_str()
            .unwrap_or("snapshot")
            .to_string();
        let client = self.pods.client(&pod_id).await?;
        let r = client
            .send(
                Method::GET,
                "image",
                &format!("/v2/images/{bottom}"),
                None,
                &[],
            )
            .await?;
        match r.status {
            200 => {}
            404 => {
                return Err(JobError::Fail(
                    "the pod's snapshot image disappeared".into(),
                ));
            }
            s => return Err(status_error("snapshot image", s, &r.body)),
        }
        let status = r.json().unwrap_or(Value::Null)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match status.as_str() {
            "active" => {}
            "killed" | "deleted" => {
                return Err(JobError::Fail(format!("the pod's snapshot ended {status}")));
            }
            _ => return Err(JobError::Retry(format!("snapshot image is {status}"))),
        }
        self.images
            .adopt(&job.project_id, &pod_id, &bottom, &job.resource_id, &name)
            .await?;
        if let (Some(backup_type), Some(rotation)) = (
            job.payload["backup_type"].as_str(),
            job.payload["rotation"].as_u64(),
        ) {
            let server = job.payload["server_id"].as_str().unwrap_or_default();
            self.images
                .rotate_backups(&job.project_id, server, backup_type, rotation)
                .await?;
        }
        Ok(())
    }

    async fn run_sync(&self, server_id: &str) -> Result<(), JobError> {
        let row = self
            .store
            .get_server(server_id)
            .await
            .map_err(CoreError::from)?;
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            // Not built yet: the build copies name and metadata.
            return Ok(());
        };
        if row.deleted {
            return Ok(());
        }
        let client = self.pods.client(&pod_id).await?;
        let body = json!({"server": {"name": format!("{}@{server_id}", row.name)}});
        let r = client
            .send(
                Method::PUT,
                "compute",
                &format!("/servers/{bottom}"),
                Some(&body),
                &[],
            )
            .await?;
        if r.status >= 400 && r.status != 404 {
            return Err(status_error("server update", r.status, &r.body));
        }
        let mut metadata: serde_json::Map<String, Value> =
            serde_json::from_str(&row.metadata).unwrap_or_default();
        metadata.insert(TOP_ID_KEY.into(), json!(server_id));
        let r = client
            .send(
                Method::PUT,
                "compute",
                &format!("/servers/{bottom}/metadata"),
                Some(&json!({"metadata": metadata})),
                &[],
            )
            .await?;
        if r.status >= 400 && r.status != 404 {
            return Err(status_error("server metadata", r.status, &r.body));
        }
        Ok(())
    }
}
