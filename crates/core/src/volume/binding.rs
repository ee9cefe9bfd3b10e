//! What compute sees of block storage (`compute::deps::VolumeBinding`): the pod of a boot
//! volume (so the server is placed next to it), the BDMs rewritten for the pod in the build
//! saga (top volume ids → bottom ids; volumes made from an image, a snapshot or blank are
//! created first as top volumes in the server's pod, with ids derived from the server so a
//! rerun of the saga finds them again), and bottom → top volume ids.

use std::sync::Weak;

use cascade_store::now_micros;
use cascade_store::volumes::VolumeRow;
use serde_json::{Value, json};
use sha2::Digest;

use super::{VolumeService, json_text};
use crate::compute::deps::{BoxFuture, VolumeBinding};
use crate::identity::Actor;
use crate::identity::Scope;
use crate::{CoreError, ErrorKind, Result};

pub(crate) struct Binding(pub(crate) Weak<VolumeService>);

fn gone() -> CoreError {
    CoreError::new(
        ErrorKind::Unavailable,
        "the volume service is shutting down",
    )
}

/// A stable UUID4-shaped id for the `index`-th BDM volume of a server.
fn derived_id(server_id: &str, index: usize) -> String {
    let digest = sha2::Sha256::digest(format!("{server_id}/bdm/{index}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

impl VolumeBinding for Binding {
    fn placement<'a>(
        &'a self,
        project_id: &'a str,
        bdms: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            let service = self.0.upgrade().ok_or_else(gone)?;
            let mut pod: Option<(String, String, String)> = None; // (pod, az, volume)
            for b in bdms {
                if b["source_type"] != "volume" {
                    continue;
                }
                let Some(id) = b["uuid"].as_str() else {
                    return Err(CoreError::bad_request(
                        "Block Device Mapping is Invalid: a volume mapping needs a uuid.",
                    ));
                };
                let row = service
                    .volume_row(&Scope::Project(project_id.to_string()), id)
                    .await
                    .map_err(|_| {
                        CoreError::bad_request(format!(
                            "Block Device Mapping is Invalid: failed to get volume {id}."
                        ))
                    })?;
                if row.status != "available" && !(row.multiattach && row.status == "in-use") {
                    return Err(CoreError::bad_request(format!(
                        "Block Device Mapping is Invalid: volume {id} status must be available, but current status is: {}.",
                        row.status
                    )));
                }
                let Some(p) = row.pod_id.clone() else {
                    continue;
                };
                match &pod {
                    Some((other, az, v)) if other != &p => {
                        return Err(CoreError::bad_request(format!(
                            "Block Device Mapping is Invalid: volume {v} is in availability zone {az} and volume {id} in {}; a server's volumes must all be in one availability zone.",
                            row.az
                        )));
                    }
                    Some(_) => {}
                    None => pod = Some((p, row.az.clone(), id.to_string())),
                }
            }
            Ok(pod.map(|(p, _, _)| p))
        })
    }

    fn check_quota<'a>(
        &'a self,
        project_id: &'a str,
        bdms: &'a [Value],
        servers: i64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let service = self.0.upgrade().ok_or_else(gone)?;
            service.check_bdm_quota(project_id, bdms, servers).await
        })
    }

    fn prepare<'a>(
        &'a self,
        actor: &'a Actor,
        server_id: &'a str,
        pod_id: &'a str,
        bdms: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Value>>> {
        Box::pin(async move {
            let service = self.0.upgrade().ok_or_else(gone)?;
            let mut out = Vec::with_capacity(bdms.len());
            for (i, mut b) in bdms.into_iter().enumerate() {
                if b["destination_type"] != "volume" {
                    out.push(b);
                    continue;
                }
                let row = if b["source_type"] == "volume" {
                    let id = b["uuid"].as_str().unwrap_or_default();
                    service.volume_row(&actor.scope(), id).await?
                } else {
                    service
                        .volume_for_server(actor, server_id, pod_id, i, &b)
                        .await?
                };
                if row.pod_id.as_deref() != Some(pod_id) {
                    return Err(CoreError::bad_request(format!(
                        "volume {} is not in the server's availability zone",
                        row.id
                    )));
                }
                let bottom = row.bottom_id.clone().ok_or_else(|| {
                    CoreError::new(
                        ErrorKind::Unavailable,
                        format!("volume {} is not made yet", row.id),
                    )
                })?;
                b["source_type"] = json!("volume");
                b["uuid"] = json!(bottom);
                if let Some(o) = b.as_object_mut() {
                    o.remove("volume_size");
                    o.remove("volume_type");
                }
                out.push(b);
            }
            Ok(out)
        })
    }

    fn top_volume<'a>(
        &'a self,
        pod_id: &'a str,
        bottom_id: &'a str,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let service = self.0.upgrade()?;
            service
                .store
                .volume_by_bottom(pod_id, bottom_id)
                .await
                .ok()
                .flatten()
                .map(|r| r.id)
        })
    }
}

/// What a BDM that makes a volume (image, snapshot or blank source) will make.
struct PlannedVolume {
    size: i64,
    bootable: bool,
    image_id: Option<String>,
    snapshot_id: Option<String>,
    image_metadata: Value,
}

/// Whether a BDM makes a new volume (rather than naming an existing one).
fn makes_volume(b: &Value) -> bool {
    b["destination_type"] == "volume" && b["source_type"] != "volume"
}

impl VolumeService {
    /// The size and origin of the volume a BDM makes for `project_id`: an image's volume is
    /// at least the image (its `min_disk` and its bytes, rounded up to GiB), a snapshot's at
    /// least the snapshot; a blank one needs `volume_size`.
    async fn planned_volume(&self, project_id: &str, b: &Value) -> Result<PlannedVolume> {
        let source = b["source_type"].as_str().unwrap_or("blank");
        let uuid = b["uuid"].as_str().map(str::to_string);
        let mut size = b["volume_size"]
            .as_i64()
            .or_else(|| b["volume_size"].as_str()?.parse().ok());
        let mut planned = PlannedVolume {
            size: 0,
            bootable: false,
            image_id: None,
            snapshot_id: None,
            image_metadata: json!({}),
        };
        match source {
            "image" => {
                let image = uuid.unwrap_or_default();
                let info = self.images.resolve(project_id, &image).await?;
                let gib = 1u64 << 30;
                let need = info
                    .min_disk
                    .max(info.size.unwrap_or(0).div_ceil(gib))
                    .max(1);
                let need = i64::try_from(need).unwrap_or(i64::MAX);
                size = Some(size.unwrap_or(need).max(need));
                planned.image_metadata = json!(info.volume_image_metadata());
                planned.image_id = Some(info.id);
                planned.bootable = true;
            }
            "snapshot" => {
                let sid = uuid.unwrap_or_default();
                let s = self
                    .snapshot_row(&Scope::Project(project_id.to_string()), &sid)
                    .await?;
                size = Some(size.unwrap_or(s.size).max(s.size));
                planned.snapshot_id = Some(sid);
            }
            _ => {}
        }
        planned.size = size.filter(|s| *s > 0).ok_or_else(|| {
            CoreError::bad_request("Block Device Mapping is Invalid: volume_size is required.")
        })?;
        Ok(planned)
    }

    /// At server create: the volumes `servers` servers with these BDMs would make must fit
    /// the project's Cinder quota (`volumes`, `gigabytes`, `per_volume_gigabytes`), as a
    /// `POST /volumes` of each would. Over quota is Nova's `VolumeLimitExceeded` (403).
    async fn check_bdm_quota(&self, project_id: &str, bdms: &[Value], servers: i64) -> Result<()> {
        let (mut count, mut gigs, mut largest) = (0i64, 0i64, 0i64);
        for b in bdms.iter().filter(|b| makes_volume(b)) {
            let size = self
                .planned_volume(project_id, b)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::NotFound => CoreError::bad_request(format!(
                        "Block Device Mapping is Invalid: {}",
                        e.message
                    )),
                    _ => e,
                })?
                .size;
            count += 1;
            gigs = gigs.saturating_add(size);
            largest = largest.max(size);
        }
        if count == 0 {
            return Ok(());
        }
        let over = |e: CoreError| match e.kind {
            ErrorKind::OverLimit => {
                CoreError::forbidden(format!("Volume resource quota exceeded: {}", e.message))
            }
            _ => e,
        };
        // The per-volume limit applies to each volume; the totals to all of them.
        let q = self.volume_quotas(project_id).await?;
        super::misc::check_volume_size(&q, largest).map_err(over)?;
        self.check_volume_totals(
            project_id,
            &q,
            count.saturating_mul(servers),
            gigs.saturating_mul(servers),
        )
        .await
        .map_err(over)
    }

    /// The top volume made for a server's BDM (image, snapshot or blank source), created in
    /// the server's pod and waited for.
    async fn volume_for_server(
        &self,
        actor: &Actor,
        server_id: &str,
        pod_id: &str,
        index: usize,
        b: &Value,
    ) -> Result<VolumeRow> {
        let id = derived_id(server_id, index);
        let row = match self.store.get_volume(&id).await {
            Ok(row) => row,
            Err(_) => {
                let planned = self.planned_volume(&actor.project_id, b).await?;
                let pod = self.pods.get(pod_id).await?;
                let now = now_micros();
                let row = VolumeRow {
                    id: id.clone(),
                    project_id: actor.project_id.clone(),
                    user_id: actor.user_id.clone(),
                    name: Some(String::new()),
                    description: None,
                    size: planned.size,
                    status: "creating".into(),
                    az: pod.az_name.clone(),
                    pod_id: Some(pod_id.to_string()),
                    bottom_id: None,
                    volume_type: b["volume_type"]
                        .as_str()
                        .unwrap_or("__DEFAULT__")
                        .to_string(),
                    bootable: planned.bootable,
                    multiattach: false,
                    attachments: "[]".into(),
                    metadata: "{}".into(),
                    image_metadata: json_text(&planned.image_metadata),
                    snapshot_id: planned.snapshot_id,
                    source_volid: None,
                    image_id: planned.image_id,
                    request: json_text(&json!({"actor": actor, "server_id": server_id})),
                    created_at: now,
                    updated_at: now,
                    deleted: false,
                    deleted_at: None,
                    admin_metadata: "{}".into(),
                };
                match self.store.insert_volume(&row).await {
                    Ok(()) => row,
                    Err(cascade_store::StoreError::Conflict(_)) => {
                        self.store.get_volume(&id).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if row.status == "creating" {
            self.create_inline(&row).await?;
        }
        Ok(self.store.get_volume(&id).await?)
    }
}
