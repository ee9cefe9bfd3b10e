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

impl VolumeService {
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
                let source = b["source_type"].as_str().unwrap_or("blank");
                let uuid = b["uuid"].as_str().map(str::to_string);
                let mut size = b["volume_size"]
                    .as_i64()
                    .or_else(|| b["volume_size"].as_str()?.parse().ok());
                let (mut image_id, mut snapshot_id, mut bootable, mut image_metadata) =
                    (None, None, false, json!({}));
                match source {
                    "image" => {
                        let image = uuid.clone().unwrap_or_default();
                        let info = self.images.resolve(&actor.project_id, &image).await?;
                        let gib = 1u64 << 30;
                        let need = info
                            .min_disk
                            .max(info.size.unwrap_or(0).div_ceil(gib))
                            .max(1);
                        size = Some(size.unwrap_or(need as i64).max(need as i64));
                        image_metadata = json!({"image_id": info.id, "image_name": info.name});
                        image_id = Some(info.id);
                        bootable = true;
                    }
                    "snapshot" => {
                        let sid = uuid.clone().unwrap_or_default();
                        let s = self.snapshot_row(&actor.scope(), &sid).await?;
                        size = Some(size.unwrap_or(s.size).max(s.size));
                        snapshot_id = Some(sid);
                    }
                    _ => {}
                }
                let size = size.filter(|s| *s > 0).ok_or_else(|| {
                    CoreError::bad_request(
                        "Block Device Mapping is Invalid: volume_size is required.",
                    )
                })?;
                let pod = self.pods.get(pod_id).await?;
                let now = now_micros();
                let row = VolumeRow {
                    id: id.clone(),
                    project_id: actor.project_id.clone(),
                    user_id: actor.user_id.clone(),
                    name: Some(String::new()),
                    description: None,
                    size,
                    status: "creating".into(),
                    az: pod.az_name.clone(),
                    pod_id: Some(pod_id.to_string()),
                    bottom_id: None,
                    volume_type: b["volume_type"]
                        .as_str()
                        .unwrap_or("__DEFAULT__")
                        .to_string(),
                    bootable,
                    multiattach: false,
                    attachments: "[]".into(),
                    metadata: "{}".into(),
                    image_metadata: json_text(&image_metadata),
                    snapshot_id,
                    source_volid: None,
                    image_id,
                    request: json_text(&json!({"actor": actor, "server_id": server_id})),
                    created_at: now,
                    updated_at: now,
                    deleted: false,
                    deleted_at: None,
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
