//! The volume sagas, run as durable jobs (DESIGN.md protocols 1–2). `volume_create`: ensure
//! the volume type (copied by name) and the source (image copied lazily, snapshot or volume in
//! the same pod) in the pod, create the bottom volume as the tenant through the routing lock
//! (named `<name>@<top id>`, top id in its metadata), then follow it until it leaves
//! `creating`. A permanent failure marks the top volume `error` and removes what was made.
//! `volume_delete`: delete the bottom volume, wait until it is gone, forget the routing and
//! mark the index row deleted. `volume_sync`: copy name, description and metadata down.
//! `snapshot_create` / `snapshot_delete`: the same for snapshots.

use std::sync::{Arc, Weak};
use std::time::Duration;

use cascade_store::now_micros;
use cascade_store::volumes::{DEFAULT_TYPE_ID, VolumeRow};
use http::Method;
use serde_json::{Map, Value, json};

use super::{POD_MV, TOP_ID_KEY, VolumeService, tenant_path};
use crate::identity::Actor;
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::routing_lock::{BottomKey, ensure_bottom, forget};
use crate::{CoreError, ErrorKind};

pub(crate) const CREATE: &str = "volume_create";
pub(crate) const DELETE: &str = "volume_delete";
pub(crate) const SYNC: &str = "volume_sync";
pub(crate) const SNAPSHOT_CREATE: &str = "snapshot_create";
pub(crate) const SNAPSHOT_DELETE: &str = "snapshot_delete";

pub(crate) fn register(service: &Arc<VolumeService>) {
    for job_type in [CREATE, DELETE, SYNC, SNAPSHOT_CREATE, SNAPSHOT_DELETE] {
        service.jobs.register(Arc::new(VolumeJobs {
            service: Arc::downgrade(service),
            job_type,
        }));
    }
}

struct VolumeJobs {
    service: Weak<VolumeService>,
    job_type: &'static str,
}

impl JobHandler for VolumeJobs {
    fn job_type(&self) -> &'static str {
        self.job_type
    }

    fn run<'a>(&'a self, job: &'a Job, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let service = self
                .service
                .upgrade()
                .ok_or_else(|| JobError::Retry("shutting down".into()))?;
            let id = job.resource_id.as_str();
            match self.job_type {
                CREATE => service.run_create(id, Some(ctx)).await,
                DELETE => service.run_delete(id).await,
                SYNC => service.run_sync(id).await,
                SNAPSHOT_CREATE => service.run_snapshot_create(id).await,
                _ => service.run_snapshot_delete(id).await,
            }
        })
    }

    fn on_failed<'a>(&'a self, job: &'a Job, error: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(service) = self.service.upgrade() else {
                return;
            };
            match self.job_type {
                CREATE => service.fail_create(&job.resource_id, error).await,
                // Cinder's statuses for a failed snapshot create or delete: `error`,
                // `error_deleting` (the owner sees it and may reset or delete again).
                SNAPSHOT_CREATE | SNAPSHOT_DELETE => {
                    if let Ok(mut s) = service.store.get_snapshot(&job.resource_id).await {
                        s.status = if self.job_type == SNAPSHOT_CREATE {
                            "error"
                        } else {
                            "error_deleting"
                        }
                        .into();
                        s.updated_at = now_micros().max(s.updated_at + 1);
                        if let Err(e) = service.store.update_snapshot(&s).await {
                            tracing::error!(snapshot = %job.resource_id, error = %e, "cannot record the snapshot job's failure");
                        }
                    }
                }
                DELETE => {
                    if let Ok(mut row) = service.store.get_volume(&job.resource_id).await {
                        row.status = "error_deleting".into();
                        row.updated_at = now_micros().max(row.updated_at + 1);
                        if let Err(e) = service.store.update_volume(&row).await {
                            tracing::error!(volume = %job.resource_id, error = %e, "cannot record the delete's failure");
                        }
                    }
                }
                _ => {}
            }
            tracing::error!(resource = %job.resource_id, job = self.job_type, error, "volume job failed for good");
        })
    }
}

pub(crate) fn status_error(what: &str, status: u16, body: &[u8]) -> JobError {
    let text = String::from_utf8_lossy(body);
    if status >= 500 || status == 429 || status == 401 {
        JobError::Retry(format!("{what}: pod answered {status}: {text}"))
    } else {
        JobError::Fail(format!("{what}: pod answered {status}: {text}"))
    }
}

fn as_core(e: JobError) -> CoreError {
    match e {
        JobError::Retry(m) => CoreError::new(ErrorKind::Unavailable, m),
        JobError::Fail(m) => CoreError::bad_request(m),
    }
}

pub(crate) fn actor_of(project_id: &str, user_id: &str, request: &str) -> Actor {
    Actor::from_request(request, user_id, project_id)
}

impl VolumeService {
    /// Looks a bottom resource (`volumes` or `snapshots`) up by its name `<name>@<top id>`.
    pub(crate) async fn find_bottom(
        &self,
        pod_id: &str,
        collection: &str,
        name: &str,
    ) -> Result<Option<String>, CoreError> {
        let client = self.pods.client(pod_id).await?;
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("all_tenants", "1")
            .append_pair("name", name)
            .finish();
        let r = client
            .send(
                Method::GET,
                "volumev3",
                &format!("/{collection}/detail?{q}"),
                None,
                &[POD_MV],
            )
            .await?;
        if r.status != 200 {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                format!("listing {collection} in the pod answered {}", r.status),
            ));
        }
        let v = r.json().unwrap_or(Value::Null);
        Ok(v[collection]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["name"] == name))
            .and_then(|x| x["id"].as_str())
            .map(str::to_string))
    }

    /// The type's name in the pod (created there on first use, same name).
    pub(crate) async fn ensure_type_in_pod(
        &self,
        type_name: &str,
        pod_id: &str,
    ) -> Result<(), CoreError> {
        let t = self.store.get_volume_type(type_name).await?;
        if t.id == DEFAULT_TYPE_ID {
            return Ok(()); // every Cinder has its own __DEFAULT__
        }
        let client = self.pods.client(pod_id).await?;
        let key = BottomKey {
            top_id: &t.id,
            pod_id,
            project_id: "",
            resource_type: "volume_type",
        };
        let find = || {
            let (client, name) = (client.clone(), t.name.clone());
            async move {
                let r = client
                    .send(
                        Method::GET,
                        "volumev3",
                        &format!("/types/{name}"),
                        None,
                        &[POD_MV],
                    )
                    .await?;
                if r.status == 200 {
                    return Ok(r
                        .json()
                        .ok()
                        .and_then(|v| v["volume_type"]["id"].as_str().map(str::to_string)));
                }
                // Older Cinders only look types up by id: list and match the name.
                let r = client
                    .send(Method::GET, "volumev3", "/types", None, &[POD_MV])
                    .await?;
                Ok(r.json().ok().and_then(|v| {
                    v["volume_types"].as_array().and_then(|l| {
                        l.iter()
                            .find(|x| x["name"] == name.as_str())
                            .and_then(|x| x["id"].as_str().map(str::to_string))
                    })
                }))
            }
        };
        let specs: Value = serde_json::from_str(&t.extra_specs).unwrap_or(json!({}));
        let body = json!({"volume_type": {"name": t.name, "description": t.description,
            "os-volume-type-access:is_public": true, "extra_specs": specs}});
        ensure_bottom(&self.store, &key, find, || {
            let (client, body) = (client.clone(), body.clone());
            async move {
                let r = client
                    .send(Method::POST, "volumev3", "/types", Some(&body), &[POD_MV])
                    .await?;
                if r.status >= 300 {
                    return Err(as_core(status_error("type create", r.status, &r.body)));
                }
                r.json()
                    .ok()
                    .and_then(|v| v["volume_type"]["id"].as_str().map(str::to_string))
                    .ok_or_else(|| CoreError::new(ErrorKind::Unavailable, "type create without id"))
            }
        })
        .await?;
        Ok(())
    }

    /// The create saga. `ctx` is `None` when run inline (boot from volume).
    pub(crate) async fn run_create(
        &self,
        volume_id: &str,
        ctx: Option<&JobContext>,
    ) -> Result<(), JobError> {
        let row = self
            .store
            .get_volume(volume_id)
            .await
            .map_err(CoreError::from)?;
        if row.deleted || row.status != "creating" {
            return Ok(());
        }
        let pod_id = row
            .pod_id
            .clone()
            .ok_or_else(|| JobError::Fail("volume has no pod".into()))?;
        let actor = actor_of(&row.project_id, &row.user_id, &row.request);
        let client = self.pods.client(&pod_id).await?;
        self.ensure_type_in_pod(&row.volume_type, &pod_id).await?;
        let mut volume = Map::new();
        let bottom_name = format!("{}@{volume_id}", row.name.clone().unwrap_or_default());
        volume.insert("name".into(), json!(bottom_name));
        volume.insert("size".into(), json!(row.size));
        volume.insert("description".into(), json!(row.description));
        let mut metadata: Map<String, Value> =
            serde_json::from_str(&row.metadata).unwrap_or_default();
        metadata.insert(TOP_ID_KEY.into(), json!(volume_id));
        volume.insert("metadata".into(), Value::Object(metadata));
        if row.volume_type != "__DEFAULT__" {
            volume.insert("volume_type".into(), json!(row.volume_type));
        }
        if row.multiattach {
            volume.insert("multiattach".into(), json!(true));
        }
        let pod = self.pods.get(&pod_id).await?;
        if !pod.pod_az_name.is_empty() {
            volume.insert("availability_zone".into(), json!(pod.pod_az_name));
        }
        if let Some(image) = &row.image_id {
            let bottom_image = self
                .images
                .ensure_in_pod(&row.project_id, image, &pod_id)
                .await?;
            volume.insert("imageRef".into(), json!(bottom_image));
        }
        if let Some(sid) = &row.snapshot_id {
            let snap = self
                .store
                .get_snapshot(sid)
                .await
                .map_err(CoreError::from)?;
            let b = snap
                .bottom_id
                .ok_or_else(|| JobError::Retry("source snapshot not made yet".into()))?;
            volume.insert("snapshot_id".into(), json!(b));
        }
        if let Some(vid) = &row.source_volid {
            let src = self.store.get_volume(vid).await.map_err(CoreError::from)?;
            let b = src
                .bottom_id
                .ok_or_else(|| JobError::Retry("source volume not made yet".into()))?;
            volume.insert("source_volid".into(), json!(b));
        }
        let token = self.delegation.token_for(&actor).await?;
        let body = json!({"volume": volume});
        let key = BottomKey {
            top_id: volume_id,
            pod_id: &pod_id,
            project_id: &row.project_id,
            resource_type: "volume",
        };
        let path = tenant_path(&row.project_id, "/volumes");
        let bottom_id = ensure_bottom(
            &self.store,
            &key,
            || self.find_bottom(&pod_id, "volumes", &bottom_name),
            || {
                let (client, token, body, path) =
                    (client.clone(), token.clone(), body.clone(), path.clone());
                async move {
                    let r = client
                        .send_as(
                            Some(&token),
                            Method::POST,
                            "volumev3",
                            &path,
                            Some(&body),
                            &[POD_MV],
                        )
                        .await?;
                    if r.status != 202 && r.status != 200 {
                        return Err(as_core(status_error("volume create", r.status, &r.body)));
                    }
                    r.json()
                        .ok()
                        .and_then(|v| v["volume"]["id"].as_str().map(str::to_string))
                        .ok_or_else(|| {
                            CoreError::new(
                                ErrorKind::Unavailable,
                                "pod answered without a volume id",
                            )
                        })
                }
            },
        )
        .await?;
        let mut row = self
            .store
            .get_volume(volume_id)
            .await
            .map_err(CoreError::from)?;
        row.bottom_id = Some(bottom_id.clone());
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store
            .update_volume(&row)
            .await
            .map_err(CoreError::from)?;
        if row.status != "creating" {
            return Ok(()); // a delete took over
        }
        // Follow the bottom volume until it leaves `creating`.
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(100);
        while started.elapsed() < self.config.create_timeout {
            if ctx.is_some_and(|c| c.is_cancelled()) {
                return Err(JobError::Retry("shutting down".into()));
            }
            let r = client
                .send(
                    Method::GET,
                    "volumev3",
                    &format!("/volumes/{bottom_id}"),
                    None,
                    &[POD_MV],
                )
                .await?;
            if r.status == 200 {
                let b = r.json().unwrap_or(Value::Null)["volume"].clone();
                let mut row = self
                    .store
                    .get_volume(volume_id)
                    .await
                    .map_err(CoreError::from)?;
                if row.deleted || row.status != "creating" {
                    return Ok(());
                }
                let status = b["status"].as_str().unwrap_or("creating").to_string();
                if status != "creating" && status != "downloading" {
                    self.refresh_from_bottom(&mut row, &b).await;
                    self.store
                        .update_volume(&row)
                        .await
                        .map_err(CoreError::from)?;
                    tracing::info!(volume = %volume_id, %status, "volume created");
                    return Ok(());
                }
            } else if r.status == 404 {
                return Err(JobError::Retry(
                    "bottom volume vanished during create".into(),
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        Err(JobError::Retry("bottom volume still creating".into()))
    }

    /// A create that failed for good: `error`, and what was made in the pod removed.
    async fn fail_create(&self, volume_id: &str, error: &str) {
        let Ok(mut row) = self.store.get_volume(volume_id).await else {
            return;
        };
        if let Some(pod_id) = row.pod_id.clone() {
            let name = format!("{}@{volume_id}", row.name.clone().unwrap_or_default());
            if let Ok(Some(bottom)) = self.find_bottom(&pod_id, "volumes", &name).await
                && let Ok(client) = self.pods.client(&pod_id).await
            {
                // The top row keeps its pod: deleting the error volume finds this bottom
                // volume again (by its name) and retries, so a failure here is not lost.
                match client
                    .send(
                        Method::DELETE,
                        "volumev3",
                        &format!("/volumes/{bottom}"),
                        None,
                        &[POD_MV],
                    )
                    .await
                {
                    Ok(r) if matches!(r.status, 202 | 204 | 404) => {}
                    Ok(r) => tracing::warn!(
                        volume_id,
                        pod_id,
                        bottom,
                        status = r.status,
                        "failed create: the pod refused to delete the bottom volume; deleting the volume retries"
                    ),
                    Err(e) => tracing::warn!(volume_id, pod_id, bottom, error = %e,
                        "failed create: the bottom volume could not be deleted; deleting the volume retries"),
                }
            }
            let key = BottomKey {
                top_id: volume_id,
                pod_id: &pod_id,
                project_id: &row.project_id,
                resource_type: "volume",
            };
            let _ = forget(&self.store, &key).await;
        }
        row.status = "error".into();
        row.bottom_id = None;
        row.updated_at = now_micros().max(row.updated_at + 1);
        if let Err(e) = self.store.update_volume(&row).await {
            tracing::error!(volume = %volume_id, error = %e, "cannot record create failure");
        }
        tracing::warn!(volume = %volume_id, error, "volume create failed");
    }

    async fn run_delete(&self, volume_id: &str) -> Result<(), JobError> {
        let mut row = self
            .store
            .get_volume(volume_id)
            .await
            .map_err(CoreError::from)?;
        if row.deleted {
            return Ok(());
        }
        if let Some(pod_id) = row.pod_id.clone() {
            // A create still queued is cancelled; one running is waited for.
            self.jobs.cancel_or_wait(CREATE, volume_id).await?;
            let name = format!("{}@{volume_id}", row.name.clone().unwrap_or_default());
            let bottom = match row.bottom_id.clone() {
                Some(b) => Some(b),
                None => self.find_bottom(&pod_id, "volumes", &name).await?,
            };
            if let Some(bottom) = bottom {
                let client = self.pods.client(&pod_id).await?;
                let actor = actor_of(&row.project_id, &row.user_id, &row.request);
                let token = self.delegation.token_for(&actor).await?;
                // Snapshots still live here were marked `deleting` by a cascade delete.
                let cascade = !self
                    .store
                    .volume_snapshots(volume_id)
                    .await
                    .map_err(CoreError::from)?
                    .is_empty();
                let path = tenant_path(
                    &row.project_id,
                    &format!(
                        "/volumes/{bottom}{}",
                        if cascade { "?cascade=true" } else { "" }
                    ),
                );
                // A force delete already started it in the pod: only wait for it.
                let now = client
                    .send(
                        Method::GET,
                        "volumev3",
                        &format!("/volumes/{bottom}"),
                        None,
                        &[POD_MV],
                    )
                    .await?;
                let started = now.status == 404
                    || (now.status == 200
                        && now
                            .json()
                            .ok()
                            .is_some_and(|v| v["volume"]["status"] == "deleting"));
                if !started {
                    let r = client
                        .send_as(
                            Some(&token),
                            Method::DELETE,
                            "volumev3",
                            &path,
                            None,
                            &[POD_MV],
                        )
                        .await?;
                    if !matches!(r.status, 202 | 204 | 404) {
                        return Err(status_error("volume delete", r.status, &r.body));
                    }
                }
                let mut wait = Duration::from_millis(100);
                loop {
                    let r = client
                        .send(
                            Method::GET,
                            "volumev3",
                            &format!("/volumes/{bottom}"),
                            None,
                            &[POD_MV],
                        )
                        .await?;
                    if r.status == 404 {
                        break;
                    }
                    if r.json()
                        .ok()
                        .is_some_and(|v| v["volume"]["status"] == "error_deleting")
                    {
                        return Err(JobError::Fail("the pod could not delete the volume".into()));
                    }
                    if wait > Duration::from_secs(2) {
                        return Err(JobError::Retry("bottom volume still deleting".into()));
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        self.mark_deleted(&mut row).await?;
        tracing::info!(volume = %volume_id, "volume deleted");
        Ok(())
    }

    async fn run_sync(&self, volume_id: &str) -> Result<(), JobError> {
        let row = self
            .store
            .get_volume(volume_id)
            .await
            .map_err(CoreError::from)?;
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            return Ok(()); // the create copies everything
        };
        if row.deleted {
            return Ok(());
        }
        let client = self.pods.client(&pod_id).await?;
        let actor = actor_of(&row.project_id, &row.user_id, &row.request);
        let token = self.delegation.token_for(&actor).await?;
        let body = json!({"volume": {
            "name": format!("{}@{volume_id}", row.name.clone().unwrap_or_default()),
            "description": row.description,
        }});
        let path = tenant_path(&row.project_id, &format!("/volumes/{bottom}"));
        let r = client
            .send_as(
                Some(&token),
                Method::PUT,
                "volumev3",
                &path,
                Some(&body),
                &[POD_MV],
            )
            .await?;
        if r.status >= 400 && r.status != 404 {
            return Err(status_error("volume update", r.status, &r.body));
        }
        let mut metadata: Map<String, Value> =
            serde_json::from_str(&row.metadata).unwrap_or_default();
        metadata.insert(TOP_ID_KEY.into(), json!(volume_id));
        let r = client
            .send_as(
                Some(&token),
                Method::PUT,
                "volumev3",
                &format!("{path}/metadata"),
                Some(&json!({"metadata": metadata})),
                &[POD_MV],
            )
            .await?;
        // Pods without the metadata sub-resource get it through the volume update.
        if r.status == 404 || r.status == 405 {
            let r = client
                .send_as(
                    Some(&token),
                    Method::PUT,
                    "volumev3",
                    &path,
                    Some(&json!({"volume": {"metadata": metadata}})),
                    &[POD_MV],
                )
                .await?;
            if r.status >= 400 && r.status != 404 {
                return Err(status_error("volume metadata", r.status, &r.body));
            }
        } else if r.status >= 400 {
            return Err(status_error("volume metadata", r.status, &r.body));
        }
        Ok(())
    }

    async fn run_snapshot_create(&self, snapshot_id: &str) -> Result<(), JobError> {
        let snap = self
            .store
            .get_snapshot(snapshot_id)
            .await
            .map_err(CoreError::from)?;
        if snap.deleted || snap.status != "creating" {
            return Ok(());
        }
        let vol = self
            .store
            .get_volume(&snap.volume_id)
            .await
            .map_err(CoreError::from)?;
        let (Some(pod_id), Some(bottom_vol)) = (vol.pod_id.clone(), vol.bottom_id.clone()) else {
            return Err(JobError::Retry("volume not made yet".into()));
        };
        let client = self.pods.client(&pod_id).await?;
        let actor = actor_of(&snap.project_id, &snap.user_id, &vol.request);
        let actor = Actor {
            user_id: snap.user_id.clone(),
            ..actor
        };
        let token = self.delegation.token_for(&actor).await?;
        let name = format!("{}@{snapshot_id}", snap.name.clone().unwrap_or_default());
        let mut metadata: Map<String, Value> =
            serde_json::from_str(&snap.metadata).unwrap_or_default();
        metadata.insert(TOP_ID_KEY.into(), json!(snapshot_id));
        let body = json!({"snapshot": {"volume_id": bottom_vol, "name": name, "description": snap.description,
            "force": true, "metadata": metadata}});
        let key = BottomKey {
            top_id: snapshot_id,
            pod_id: &pod_id,
            project_id: &snap.project_id,
            resource_type: "snapshot",
        };
        let path = tenant_path(&snap.project_id, "/snapshots");
        let bottom = ensure_bottom(
            &self.store,
            &key,
            || self.find_bottom(&pod_id, "snapshots", &name),
            || {
                let (client, token, body, path) =
                    (client.clone(), token.clone(), body.clone(), path.clone());
                async move {
                    let r = client
                        .send_as(
                            Some(&token),
                            Method::POST,
                            "volumev3",
                            &path,
                            Some(&body),
                            &[POD_MV],
                        )
                        .await?;
                    if r.status != 202 && r.status != 200 {
                        return Err(as_core(status_error("snapshot create", r.status, &r.body)));
                    }
                    r.json()
                        .ok()
                        .and_then(|v| v["snapshot"]["id"].as_str().map(str::to_string))
                        .ok_or_else(|| {
                            CoreError::new(ErrorKind::Unavailable, "snapshot without id")
                        })
                }
            },
        )
        .await?;
        let mut wait = Duration::from_millis(100);
        let started = tokio::time::Instant::now();
        while started.elapsed() < self.config.create_timeout {
            let r = client
                .send(
                    Method::GET,
                    "volumev3",
                    &format!("/snapshots/{bottom}"),
                    None,
                    &[POD_MV],
                )
                .await?;
            let status = r
                .json()
                .ok()
                .and_then(|v| v["snapshot"]["status"].as_str().map(str::to_string));
            if let Some(status) = status.filter(|s| s != "creating") {
                let mut snap = self
                    .store
                    .get_snapshot(snapshot_id)
                    .await
                    .map_err(CoreError::from)?;
                snap.bottom_id = Some(bottom.clone());
                snap.status = status;
                snap.updated_at = now_micros();
                self.store
                    .update_snapshot(&snap)
                    .await
                    .map_err(CoreError::from)?;
                return Ok(());
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        Err(JobError::Retry("bottom snapshot still creating".into()))
    }

    async fn run_snapshot_delete(&self, snapshot_id: &str) -> Result<(), JobError> {
        let mut snap = self
            .store
            .get_snapshot(snapshot_id)
            .await
            .map_err(CoreError::from)?;
        if snap.deleted {
            return Ok(());
        }
        if let Some(pod_id) = snap.pod_id.clone() {
            let name = format!("{}@{snapshot_id}", snap.name.clone().unwrap_or_default());
            let bottom = match snap.bottom_id.clone() {
                Some(b) => Some(b),
                None => self.find_bottom(&pod_id, "snapshots", &name).await?,
            };
            if let Some(bottom) = bottom {
                let client = self.pods.client(&pod_id).await?;
                // As the snapshot was made: the owner's delegation recorded with its volume
                // (a token for the owner's project; the path names that project).
                let request = match self.store.get_volume(&snap.volume_id).await {
                    Ok(v) => v.request,
                    Err(_) => String::new(),
                };
                let actor = Actor {
                    user_id: snap.user_id.clone(),
                    ..actor_of(&snap.project_id, &snap.user_id, &request)
                };
                let token = self.delegation.token_for(&actor).await?;
                let path = tenant_path(&snap.project_id, &format!("/snapshots/{bottom}"));
                let r = client
                    .send_as(
                        Some(&token),
                        Method::DELETE,
                        "volumev3",
                        &path,
                        None,
                        &[POD_MV],
                    )
                    .await?;
                if !matches!(r.status, 202 | 204 | 404) {
                    return Err(status_error("snapshot delete", r.status, &r.body));
                }
            }
            let key = BottomKey {
                top_id: snapshot_id,
                pod_id: &pod_id,
                project_id: &snap.project_id,
                resource_type: "snapshot",
            };
            forget(&self.store, &key).await?;
        }
        snap.deleted = true;
        snap.status = "deleted".into();
        snap.updated_at = now_micros();
        self.store
            .update_snapshot(&snap)
            .await
            .map_err(CoreError::from)?;
        Ok(())
    }

    /// Runs a volume's create inline (boot from volume) until it is usable.
    pub(crate) async fn create_inline(&self, row: &VolumeRow) -> Result<(), CoreError> {
        match self.run_create(&row.id, None).await {
            Ok(()) => {}
            Err(JobError::Retry(m)) => return Err(CoreError::new(ErrorKind::Unavailable, m)),
            Err(JobError::Fail(m)) => {
                self.fail_create(&row.id, &m).await;
                return Err(CoreError::bad_request(m));
            }
        }
        let row = self.store.get_volume(&row.id).await?;
        if row.status == "available" {
            Ok(())
        } else {
            Err(CoreError::new(
                ErrorKind::Unavailable,
                format!("volume {} is {}", row.id, row.status),
            ))
        }
    }
}
