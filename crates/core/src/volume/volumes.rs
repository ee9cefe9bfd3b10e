//! Volumes: create (validate, quota, place, write the index row `creating` and its job, answer
//! at once), show (live from the pod, repairing the index; from the index marked unavailable
//! when the pod does not answer), list (from the index only, Cinder's filters, sort and marker
//! paging), update and metadata (copied to the bottom volume by a job), delete (a job) and
//! extend (forwarded to the pod as the tenant).

use std::collections::{BTreeMap, BTreeSet};

use cascade_model::admin::PodState;
use cascade_store::volumes::{VolumeFilter, VolumePage, VolumeRow, volume_sort_column};
use cascade_store::{StoreError, now_micros};
use http::Method;
use serde_json::{Value, json};

use super::{POD_MV, VolumeService, json_text, parse_ts};
use crate::identity::Actor;
use crate::identity::Scope;
use crate::jobs::NewJob;
use crate::{CoreError, ErrorKind, Result};

/// A validated `POST /volumes`.
#[derive(Debug, Clone, Default)]
pub struct VolumeCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    /// GiB; `None` takes the source's size.
    pub size: Option<i64>,
    pub availability_zone: Option<String>,
    pub volume_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub image_ref: Option<String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub multiattach: bool,
    /// Scheduler hint `local_to_instance`: place next to this server.
    pub local_to_instance: Option<String>,
    /// The caller is an admin (may use any private volume type).
    pub admin: bool,
}

/// `PUT /volumes/{id}`.
#[derive(Debug, Clone, Default)]
pub struct VolumeUpdate {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A volume as shown: its index row, and whether its pod cannot be reached.
#[derive(Debug, Clone)]
pub struct VolumeView {
    pub row: VolumeRow,
    pub unavailable: bool,
}

/// A list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: VolumeFilter,
    /// Metadata pairs that must all match.
    pub metadata: BTreeMap<String, String>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    /// Whose volumes: the caller's project, or all projects' for an admin's `all_tenants`.
    pub scope: Scope,
}

impl ListQuery {
    /// A list of `scope`'s volumes with no filter.
    pub fn new(scope: Scope) -> ListQuery {
        ListQuery {
            filter: VolumeFilter::default(),
            metadata: BTreeMap::new(),
            sort_key: None,
            sort_dir: None,
            limit: None,
            marker: None,
            scope,
        }
    }
}

/// A page of volumes.
#[derive(Debug, Clone)]
pub struct VolumeList {
    pub volumes: Vec<VolumeView>,
    /// Set when the page is full (a `next` link follows, as in Cinder, even when nothing is
    /// left for it).
    pub next_marker: Option<String>,
}

/// `GET /volumes/summary`.
#[derive(Debug, Clone, Default)]
pub struct VolumeSummary {
    pub count: i64,
    pub size: i64,
    /// Each metadata key → its distinct values.
    pub metadata: BTreeMap<String, BTreeSet<String>>,
}

pub(crate) fn volume_missing(id: &str) -> CoreError {
    CoreError::not_found(format!("Volume {id} could not be found."))
}

/// What the top knows better (names, metadata, image) is kept; the pod's state, size, bootability and attachments
/// (translated by the caller) are copied. Returns whether something changed.
pub(crate) fn apply_bottom(row: &mut VolumeRow, b: &Value) -> bool {
    let before = row.clone();
    if let Some(s) = b["status"].as_str() {
        row.status = s.to_string();
    }
    if let Some(s) = b["size"].as_i64() {
        row.size = s;
    }
    match &b["bootable"] {
        Value::String(s) => row.bootable = s.eq_ignore_ascii_case("true"),
        Value::Bool(v) => row.bootable = *v,
        _ => {}
    }
    if let Some(m) = b["multiattach"].as_bool() {
        row.multiattach = m;
    }
    // `volume_image_metadata` stays the top's: the pod's names the pod's copy of the image.
    *row != before
}

impl VolumeService {
    // ---- create ----------------------------------------------------------------------------

    /// Validates, checks quota, places and records a volume, then enqueues its create job.
    pub async fn create_volume(&self, actor: &Actor, req: VolumeCreate) -> Result<VolumeRow> {
        if req.name.as_ref().is_some_and(|n| n.len() > 255) {
            return Err(CoreError::bad_request(
                "Invalid input received: name has more than 255 characters.",
            ));
        }
        let sources = [&req.image_ref, &req.snapshot_id, &req.source_volid]
            .iter()
            .filter(|s| s.is_some())
            .count();
        if sources > 1 {
            return Err(CoreError::bad_request(
                "Invalid input received: only one of imageRef, snapshot_id or source_volid may be given.",
            ));
        }
        let vtype = match &req.volume_type {
            Some(t) => {
                let viewer = if req.admin {
                    Scope::Admin
                } else {
                    Scope::Project(actor.project_id.clone())
                };
                self.get_type(t, &viewer).await.map_err(|e| match e.kind {
                    ErrorKind::NotFound => CoreError::not_found(format!(
                        "Volume type with name {t} could not be found."
                    )),
                    _ => e,
                })?
            }
            None => {
                self.store
                    .get_volume_type(cascade_store::volumes::DEFAULT_TYPE_ID)
                    .await?
            }
        };
        // The source decides the size when none is given, and the pod.
        let mut size = req.size;
        let mut pinned: Option<(String, String)> = None; // (pod, why)
        let mut image_id = None;
        let mut image_metadata = Value::Object(Default::default());
        let mut bootable = false;
        if let Some(sid) = &req.snapshot_id {
            let snap = self.snapshot_row(&actor.scope(), sid).await?;
            if snap.status != "available" {
                return Err(CoreError::bad_request(format!(
                    "Invalid snapshot: Originating snapshot status must be one of 'available' values (snapshot {sid})."
                )));
            }
            size = size.or(Some(snap.size));
            if size.is_some_and(|s| s < snap.size) {
                return Err(CoreError::bad_request(format!(
                    "Invalid input received: Volume size '{}'GB cannot be smaller than the snapshot size {}GB. They must be >= original snapshot size.",
                    size.unwrap_or(0),
                    snap.size
                )));
            }
            if let Some(p) = snap.pod_id {
                pinned = Some((p, format!("snapshot {sid}")));
            }
        }
        if let Some(vid) = &req.source_volid {
            let src = self
                .volume_row(&actor.scope(), vid)
                .await
                .map_err(|_| CoreError::not_found(format!("Volume {vid} could not be found.")))?;
            size = size.or(Some(src.size));
            if size.is_some_and(|s| s < src.size) {
                return Err(CoreError::bad_request(format!(
                    "Invalid input received: Volume size '{}'GB cannot be smaller than original volume size {}GB. They must be >= original volume size.",
                    size.unwrap_or(0),
                    src.size
                )));
            }
            bootable = src.bootable;
            image_metadata = serde_json::from_str(&src.image_metadata).unwrap_or(image_metadata);
            if let Some(p) = src.pod_id {
                pinned = Some((p, format!("volume {vid}")));
            }
        }
        if let Some(image) = &req.image_ref {
            let info = self
                .images
                .resolve(&actor.project_id, image)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::NotFound => CoreError::bad_request(format!(
                        "Invalid image identifier or unable to access requested image. (image {image})"
                    )),
                    _ => e,
                })?;
            if info.status != "active" {
                return Err(CoreError::bad_request(format!(
                    "Invalid image identifier or unable to access requested image: image {image} is not active."
                )));
            }
            let gib = 1u64 << 30;
            let need = info
                .min_disk
                .max(info.size.unwrap_or(0).div_ceil(gib))
                .max(1) as i64;
            size = size.or(Some(need));
            if size.is_some_and(|s| s < need) {
                return Err(CoreError::bad_request(format!(
                    "Invalid input received: Size of specified image {need}GB is larger than volume size {}GB.",
                    size.unwrap_or(0)
                )));
            }
            bootable = true;
            image_metadata = json!(info.volume_image_metadata());
            image_id = Some(info.id);
        }
        let size = size.filter(|s| *s > 0).ok_or_else(|| {
            CoreError::bad_request(format!(
                "Invalid input received: Volume size '{}' must be an integer and greater than 0",
                req.size.unwrap_or(0)
            ))
        })?;
        if let Some(server) = &req.local_to_instance {
            let s = self
                .compute
                .server_row(&actor.scope(), server)
                .await
                .map_err(|_| {
                    CoreError::not_found(format!("Instance {server} could not be found."))
                })?;
            if let Some(p) = s.pod_id {
                pinned.get_or_insert((p, format!("server {server}")));
            }
        }
        let az = req
            .availability_zone
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(str::to_string);
        let pod = self
            .place(&actor.project_id, az.as_deref(), pinned.as_ref(), size)
            .await?;
        self.check_volume_quota(&actor.project_id, 1, size).await?;

        let id = uuid::Uuid::new_v4().to_string();
        let now = now_micros();
        let row = VolumeRow {
            id: id.clone(),
            project_id: actor.project_id.clone(),
            user_id: actor.user_id.clone(),
            name: req.name.clone(),
            description: req.description.clone(),
            size,
            status: "creating".into(),
            az: pod.az_name.clone(),
            pod_id: Some(pod.pod_id.clone()),
            bottom_id: None,
            volume_type: vtype.name.clone(),
            bootable,
            multiattach: req.multiattach,
            attachments: "[]".into(),
            metadata: json_text(&req.metadata),
            image_metadata: json_text(&image_metadata),
            snapshot_id: req.snapshot_id.clone(),
            source_volid: req.source_volid.clone(),
            image_id,
            request: json_text(&json!({"actor": actor})),
            created_at: now,
            updated_at: now,
            deleted: false,
            deleted_at: None,
            admin_metadata: "{}".into(),
        };
        self.store.insert_volume(&row).await?;
        self.enqueue(super::jobs::CREATE, &row).await?;
        tracing::info!(volume = %id, pod = %pod.pod_id, size, "volume accepted");
        Ok(row)
    }

    pub(crate) async fn enqueue(&self, job_type: &str, row: &VolumeRow) -> Result<()> {
        self.jobs
            .enqueue(NewJob {
                job_type: job_type.into(),
                resource_id: row.id.clone(),
                project_id: row.project_id.clone(),
                pod_id: row.pod_id.clone(),
                payload: json!({"volume_id": row.id}),
                max_attempts: Some(20),
                delay: None,
            })
            .await?;
        Ok(())
    }

    // ---- read ------------------------------------------------------------------------------

    /// The index row of a volume the caller may see (`scope` = the caller's project, `None`
    /// for admins).
    pub async fn volume_row(&self, scope: &Scope, id: &str) -> Result<VolumeRow> {
        let row = self.store.get_volume(id).await.map_err(|e| match e {
            StoreError::NotFound => volume_missing(id),
            other => other.into(),
        })?;
        if row.deleted || !scope.permits(&row.project_id) {
            return Err(volume_missing(id));
        }
        Ok(row)
    }

    /// Shows a volume: live from its pod (repairing the index), or from the index marked
    /// unavailable when the pod does not answer in time.
    pub async fn get_volume(&self, scope: &Scope, id: &str) -> Result<VolumeView> {
        let mut row = self.volume_row(scope, id).await?;
        let Some(pod_id) = row.pod_id.clone() else {
            return Ok(VolumeView {
                row,
                unavailable: false,
            });
        };
        if self.pod_unreachable(&pod_id).await {
            return Ok(VolumeView {
                row,
                unavailable: true,
            });
        }
        let Some(bottom) = row.bottom_id.clone() else {
            return Ok(VolumeView {
                row,
                unavailable: false,
            });
        };
        let client = self.pods.client(&pod_id).await?;
        let live = tokio::time::timeout(
            self.config.live_timeout,
            client.send(
                Method::GET,
                "volumev3",
                &format!("/volumes/{bottom}"),
                None,
                &[POD_MV],
            ),
        )
        .await;
        match live {
            Ok(Ok(r)) if r.status == 200 => {
                let b = r.json().unwrap_or(Value::Null)["volume"].clone();
                if row.status != "deleting" && self.refresh_from_bottom(&mut row, &b).await {
                    self.store.update_volume(&row).await?;
                }
                Ok(VolumeView {
                    row,
                    unavailable: false,
                })
            }
            Ok(Ok(r)) if r.status == 404 => {
                if !matches!(row.status.as_str(), "creating" | "deleting") {
                    self.mark_deleted(&mut row).await?;
                    return Err(volume_missing(id));
                }
                Ok(VolumeView {
                    row,
                    unavailable: false,
                })
            }
            _ => Ok(VolumeView {
                row,
                unavailable: true,
            }),
        }
    }

    /// Copies the pod's view into the row, translating attachments to top ids. Returns
    /// whether the row changed.
    pub(crate) async fn refresh_from_bottom(&self, row: &mut VolumeRow, b: &Value) -> bool {
        let before = row.clone();
        apply_bottom(row, b);
        if let (Some(list), Some(pod_id)) = (b["attachments"].as_array(), row.pod_id.clone()) {
            let mut out = Vec::new();
            for a in list {
                let bottom_server = a["server_id"].as_str().unwrap_or_default();
                let server = match self.compute.server_by_bottom(&pod_id, bottom_server).await {
                    Ok(Some(s)) => s,
                    _ => bottom_server.to_string(),
                };
                out.push(json!({
                    "id": row.id, "volume_id": row.id, "server_id": server,
                    "attachment_id": a["attachment_id"], "host_name": a["host_name"],
                    "device": a["device"], "attached_at": a["attached_at"],
                }));
            }
            let text = json_text(&out);
            if text != row.attachments {
                row.attachments = text;
            }
            let live: Vec<&str> = out.iter().filter_map(|a| a["server_id"].as_str()).collect();
            self.prune_dead_attachments(&row.id, &live).await;
        }
        if *row == before {
            return false;
        }
        row.updated_at = now_micros().max(before.updated_at + 1);
        true
    }

    /// Drops the attachment records of servers deleted at the top that the pod no longer
    /// shows attached (deleting a server detaches its volumes, as in Nova).
    async fn prune_dead_attachments(&self, volume_id: &str, live: &[&str]) {
        let rows = match self.store.volume_attachments(volume_id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(volume = %volume_id, error = %e, "cannot read attachments");
                return;
            }
        };
        for a in rows {
            let Some(server) = a.server_id.as_deref() else {
                continue;
            };
            if live.contains(&server) {
                continue;
            }
            let gone = match self.store.get_server(server).await {
                Ok(s) => s.deleted,
                Err(cascade_store::StoreError::NotFound) => true,
                Err(_) => false,
            };
            if gone && let Err(e) = self.store.delete_attachment(&a.id).await {
                tracing::warn!(volume = %volume_id, attachment = %a.id, error = %e, "cannot drop a dead attachment");
            }
        }
    }

    pub(crate) async fn mark_deleted(&self, row: &mut VolumeRow) -> Result<()> {
        let now = now_micros();
        for a in self.store.volume_attachments(&row.id).await? {
            let _ = self.store.delete_attachment(&a.id).await;
            if let Some(s) = &a.server_id {
                let _ = self.compute.set_server_volume(s, &row.id, None).await;
            }
        }
        // A cascade delete took the volume's snapshots with it.
        for mut s in self.store.volume_snapshots(&row.id).await? {
            s.deleted = true;
            s.status = "deleted".into();
            s.updated_at = now.max(s.updated_at + 1);
            self.store.update_snapshot(&s).await?;
            if let Some(pod_id) = s.pod_id.clone() {
                let key = crate::routing_lock::BottomKey {
                    top_id: &s.id,
                    pod_id: &pod_id,
                    project_id: &s.project_id,
                    resource_type: "snapshot",
                };
                crate::routing_lock::forget(&self.store, &key).await?;
            }
        }
        row.deleted = true;
        row.deleted_at = Some(now);
        row.status = "deleted".into();
        row.updated_at = now.max(row.updated_at + 1);
        self.store.update_volume(row).await?;
        if let Some(pod_id) = row.pod_id.clone() {
            let key = crate::routing_lock::BottomKey {
                top_id: &row.id,
                pod_id: &pod_id,
                project_id: &row.project_id,
                resource_type: "volume",
            };
            crate::routing_lock::forget(&self.store, &key).await?;
        }
        Ok(())
    }

    /// Pods whose volumes are shown as unavailable now.
    pub(crate) async fn unreachable_pods(&self) -> Result<BTreeSet<String>> {
        let mut down = BTreeSet::new();
        for p in self.pods.list().await? {
            if p.state == PodState::Down
                || self
                    .pods
                    .client(&p.pod_id)
                    .await
                    .map(|c| c.is_open())
                    .unwrap_or(false)
            {
                down.insert(p.pod_id.clone());
            }
        }
        Ok(down)
    }

    /// Lists volumes from the index, sorted and paged like Cinder.
    pub async fn list_volumes(&self, q: &ListQuery) -> Result<VolumeList> {
        let sort_column = match q.sort_key.as_deref() {
            None => "created_at",
            Some(k) => volume_sort_column(k).ok_or_else(|| {
                CoreError::bad_request(format!("Invalid input received: Invalid sort key {k}"))
            })?,
        };
        let descending = match q.sort_dir.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(d) => {
                return Err(CoreError::bad_request(format!(
                    "Invalid input received: Unknown sort direction, must be 'desc' or 'asc' ({d})"
                )));
            }
        };
        let limit = q
            .limit
            .unwrap_or(self.config.max_limit)
            .min(self.config.max_limit);
        let mut after = match &q.marker {
            Some(m) => Some(
                self.store
                    .get_volume(m)
                    .await
                    .ok()
                    .filter(|r| !r.deleted && q.scope.permits(&r.project_id))
                    .ok_or_else(|| {
                        CoreError::bad_request(format!(
                            "Invalid input received: marker [{m}] not found"
                        ))
                    })?,
            ),
            None => None,
        };
        let mut filter = q.filter.clone();
        if let Scope::Project(scope) = &q.scope {
            filter.project_id = Some(scope.clone());
        }
        let down = self.unreachable_pods().await?;
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(VolumeList {
                volumes: out,
                next_marker: None,
            });
        }
        let batch_size = (limit as i64 + 1).max(100);
        loop {
            let batch = self
                .store
                .list_volumes(
                    &filter,
                    &VolumePage {
                        sort_column,
                        descending,
                        after: after.clone(),
                        limit: batch_size,
                    },
                )
                .await?;
            let exhausted = (batch.len() as i64) < batch_size;
            for row in batch {
                after = Some(row.clone());
                if !q.metadata.is_empty() {
                    let m: BTreeMap<String, String> =
                        serde_json::from_str(&row.metadata).unwrap_or_default();
                    if !q.metadata.iter().all(|(k, v)| m.get(k) == Some(v)) {
                        continue;
                    }
                }
                if out.len() == limit {
                    // One more matches: the page is full.
                    let next = out.last().map(|v: &VolumeView| v.row.id.clone());
                    return Ok(VolumeList {
                        volumes: out,
                        next_marker: next,
                    });
                }
                let unavailable = row.pod_id.as_ref().is_some_and(|p| down.contains(p));
                out.push(VolumeView { row, unavailable });
            }
            if exhausted {
                // Cinder links a next page whenever this one is full, even if that one will
                // be empty (`_get_collection_links`; Tempest's pagination test expects it).
                let next = (out.len() == limit)
                    .then(|| out.last().map(|v| v.row.id.clone()))
                    .flatten();
                return Ok(VolumeList {
                    volumes: out,
                    next_marker: next,
                });
            }
        }
    }

    /// `GET /volumes/summary` (3.12): how many volumes `q` selects, their total size, and each
    /// metadata key with its distinct values (3.36).
    pub async fn volume_summary(&self, q: &ListQuery) -> Result<VolumeSummary> {
        let mut q = q.clone();
        q.limit = None;
        q.marker = None;
        let mut out = VolumeSummary::default();
        loop {
            let page = self.list_volumes(&q).await?;
            for v in &page.volumes {
                out.count += 1;
                out.size += v.row.size;
                let m: BTreeMap<String, String> =
                    serde_json::from_str(&v.row.metadata).unwrap_or_default();
                for (k, val) in m {
                    out.metadata.entry(k).or_default().insert(val);
                }
            }
            match page.next_marker {
                Some(m) => q.marker = Some(m),
                None => return Ok(out),
            }
        }
    }

    // ---- update / metadata -----------------------------------------------------------------

    pub async fn update_volume(
        &self,
        scope: &Scope,
        id: &str,
        u: VolumeUpdate,
    ) -> Result<VolumeView> {
        let mut row = self.volume_row(scope, id).await?;
        if let Some(n) = u.name {
            if n.as_ref().is_some_and(|n| n.len() > 255) {
                return Err(CoreError::bad_request(
                    "Invalid input received: name has more than 255 characters.",
                ));
            }
            row.name = n;
        }
        if let Some(d) = u.description {
            row.description = d;
        }
        if let Some(m) = u.metadata {
            check_metadata(&m)?;
            row.metadata = json_text(&m);
        }
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        self.enqueue(super::jobs::SYNC, &row).await?;
        let unavailable = match &row.pod_id {
            Some(p) => self.pod_unreachable(p).await,
            None => false,
        };
        Ok(VolumeView { row, unavailable })
    }

    pub async fn volume_metadata(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let row = self.volume_row(scope, id).await?;
        Ok(serde_json::from_str(&row.metadata).unwrap_or_default())
    }

    /// Replaces (`replace`) or merges metadata; returns the result.
    pub async fn set_volume_metadata(
        &self,
        scope: &Scope,
        id: &str,
        items: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>> {
        let mut row = self.volume_row(scope, id).await?;
        check_metadata(&items)?;
        let mut current: BTreeMap<String, String> = if replace {
            BTreeMap::new()
        } else {
            serde_json::from_str(&row.metadata).unwrap_or_default()
        };
        current.extend(items);
        row.metadata = json_text(&current);
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        self.enqueue(super::jobs::SYNC, &row).await?;
        Ok(current)
    }

    pub async fn delete_volume_metadata(&self, scope: &Scope, id: &str, key: &str) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        let mut current: BTreeMap<String, String> =
            serde_json::from_str(&row.metadata).unwrap_or_default();
        if current.remove(key).is_none() {
            return Err(CoreError::not_found(format!(
                "Volume {id} has no metadata with key {key}."
            )));
        }
        row.metadata = json_text(&current);
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        self.enqueue(super::jobs::SYNC, &row).await
    }

    // ---- delete / extend -------------------------------------------------------------------

    /// Starts deleting a volume: checks Cinder's preconditions, marks it `deleting` and
    /// enqueues the delete job.
    /// `cascade` (`DELETE /volumes/{id}?cascade=true`) takes its snapshots with it: they are
    /// `deleting` at once, and the pod deletes them with the volume.
    pub async fn delete_volume(&self, scope: &Scope, id: &str, cascade: bool) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        let attached = self.store.volume_attachments(id).await?;
        let status_ok = matches!(
            row.status.as_str(),
            "available" | "error" | "error_restoring" | "error_extending" | "error_managing"
        );
        if !status_ok || !attached.is_empty() {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer. (volume {id} is {})",
                row.status
            )));
        }
        let snaps = self.store.volume_snapshots(id).await?;
        if !snaps.is_empty() && !cascade {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume still has {} dependent snapshots.",
                snaps.len()
            )));
        }
        if let Some(s) = snaps
            .iter()
            .find(|s| !matches!(s.status.as_str(), "available" | "error"))
        {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Snapshot {} of volume {id} must be available or error to delete, but its status is: {}.",
                s.id, s.status
            )));
        }
        for mut s in snaps {
            s.status = "deleting".into();
            s.updated_at = now_micros().max(s.updated_at + 1);
            self.store.update_snapshot(&s).await?;
        }
        row.status = "deleting".into();
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        self.enqueue(super::jobs::DELETE, &row).await
    }

    /// Parses a list timestamp filter (`changes-since`).
    pub fn parse_time(v: &str) -> Option<i64> {
        parse_ts(&Value::String(v.to_string()))
    }
}

pub(crate) fn check_metadata(m: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in m {
        if k.is_empty() || k.len() > 255 || v.len() > 255 {
            return Err(CoreError::bad_request(
                "Invalid input received: metadata keys and values must be 1 to 255 characters.",
            ));
        }
    }
    Ok(())
}
