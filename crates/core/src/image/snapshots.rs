//! Server snapshots (`createImage`) in the global Glance. Nova creates the snapshot's Glance
//! image before the hypervisor uploads it, so the image is visible at once (`queued`/`saving`,
//! Nova's `SAVING`), carries the snapshot's properties (`image_type`, `instance_uuid`,
//! `base_image_ref`, `user_id`, the request's metadata) and may be deleted while it is saved.
//! Cascade does the same at the top: [`ImageSource::reserve_snapshot`] inserts the `saving` top
//! image; the compute saga's snapshot job adopts the pod's image into it once the pod's is
//! `active` (size, digests and formats from the pod; the pod copy becomes the image's home
//! copy); when the top image was deleted meanwhile, the pod's image is deleted instead.

use cascade_store::images::ImageScope;
use cascade_store::routings::NewRouting;
use cascade_store::{StoreError, now_micros};
use http::Method;
use serde_json::json;

use super::model::Image;
use super::{ImageService, RESOURCE_TYPE, TOP_ID_PROPERTY};
use crate::compute::deps::SnapshotRequest;
use crate::{CoreError, Result};

/// The status of a reserved snapshot image until its data is adopted.
pub(super) const SAVING: &str = "saving";

impl ImageService {
    /// Inserts the `saving` top image of a server snapshot.
    pub(super) async fn reserve(&self, req: &SnapshotRequest) -> Result<()> {
        let mut img = Image::new(req.image_id.clone(), req.project_id.clone());
        img.name = Some(req.name.clone());
        img.status = SAVING.into();
        img.visibility = "private".into();
        img.min_disk = req.min_disk;
        img.min_ram = req.min_ram;
        let image_type = if req.backup_type.is_some() {
            "backup"
        } else {
            "snapshot"
        };
        if let Some(b) = &req.backup_type {
            img.properties.insert("backup_type".into(), json!(b));
        }
        for (k, v) in [
            ("image_type", image_type),
            ("instance_uuid", req.server_id.as_str()),
            ("user_id", req.user_id.as_str()),
        ] {
            img.properties.insert(k.into(), json!(v));
        }
        if !req.base_image.is_empty() {
            img.properties
                .insert("base_image_ref".into(), json!(req.base_image));
        }
        // The request's metadata wins over the snapshot's own properties, as in Nova.
        for (k, v) in &req.metadata {
            img.properties.insert(k.clone(), json!(v));
        }
        self.store
            .insert_image(&img.to_row())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => CoreError::conflict(format!(
                    "An image with identifier {} already exists",
                    req.image_id
                )),
                other => other.into(),
            })
    }

    /// Deletes a reserved snapshot image that never became active.
    pub(super) async fn abandon(&self, image_id: &str) -> Result<()> {
        match self.store.get_image(image_id).await {
            Ok(r) if r.status == SAVING => match self.store.delete_image(image_id).await {
                Ok(()) | Err(StoreError::NotFound) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Ok(_) | Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the oldest active backups of a server beyond the `rotation` newest (Nova's
    /// `_rotate_backups`), and their pod copies.
    pub(super) async fn rotate(
        &self,
        project_id: &str,
        server_id: &str,
        backup_type: &str,
        rotation: u64,
    ) -> Result<()> {
        let rows = self
            .store
            .list_images(&ImageScope::Project(project_id), None)
            .await?;
        let prop = |img: &Image, k: &str| {
            img.properties
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let mut backups: Vec<Image> = rows
            .into_iter()
            .map(Image::from_row)
            .filter(|i| {
                i.owner == project_id
                    && i.status == "active"
                    && prop(i, "image_type").as_deref() == Some("backup")
                    && prop(i, "instance_uuid").as_deref() == Some(server_id)
                    && prop(i, "backup_type").as_deref() == Some(backup_type)
            })
            .collect();
        backups.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        for old in backups.iter().skip(rotation as usize) {
            match self.store.delete_image(&old.id).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            for row in self.store.routings_of(&old.id, RESOURCE_TYPE).await? {
                self.delete_copy_in_pod(&old.id, &row.pod_id).await?;
            }
        }
        Ok(())
    }

    /// Adopts the pod's active snapshot `bottom_id` into the reserved top image `image_id`.
    pub(super) async fn adopt_snapshot(
        &self,
        pod_id: &str,
        bottom_id: &str,
        image_id: &str,
    ) -> Result<()> {
        let client = self.pods.client(pod_id).await?;
        for _ in 0..3 {
            let mut img = match self.store.get_image(image_id).await {
                Ok(r) => Image::from_row(r),
                Err(StoreError::NotFound) => {
                    // Deleted while it was saved: the pod's image is nobody's.
                    return Self::delete_bottom(&client, bottom_id).await;
                }
                Err(e) => return Err(e.into()),
            };
            if img.status != SAVING {
                return Ok(());
            }
            let Some(bottom) = Self::get_bottom(&client, bottom_id).await? else {
                return Err(CoreError::not_found(format!(
                    "The snapshot of image {image_id} disappeared from its pod."
                )));
            };
            let s = |k: &str| bottom[k].as_str().map(str::to_string);
            img.disk_format = s("disk_format");
            img.container_format = s("container_format");
            img.size = bottom["size"].as_u64();
            img.virtual_size = bottom["virtual_size"].as_u64();
            img.checksum = s("checksum");
            img.os_hash_algo = s("os_hash_algo");
            img.os_hash_value = s("os_hash_value");
            img.status = "active".into();
            img.home_pod_id = Some(pod_id.to_string());
            img.updated_at = now_micros();
            if !self.store.update_image(&img.to_row(), Some(SAVING)).await? {
                continue;
            }
            match self
                .store
                .insert_routing(&NewRouting {
                    top_id: img.id.clone(),
                    bottom_id: Some(bottom_id.to_string()),
                    pod_id: pod_id.to_string(),
                    project_id: img.owner.clone(),
                    resource_type: RESOURCE_TYPE.into(),
                })
                .await
            {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            self.store
                .put_active_copy(&img.id, pod_id, bottom_id, img.size.map(|s| s as i64))
                .await?;
            // Tag the pod's image with its top id, as every pod copy is.
            let patch =
                json!([{"op": "add", "path": format!("/{TOP_ID_PROPERTY}"), "value": img.id}]);
            let r = client
                .send(
                    Method::PATCH,
                    "image",
                    &format!("/v2/images/{bottom_id}"),
                    Some(&patch),
                    &[(
                        "content-type",
                        "application/openstack-images-v2.1-json-patch",
                    )],
                )
                .await?;
            if r.status >= 400 && r.status != 409 {
                // Lookups use the routing row; the tag only helps adoption after a crash.
                tracing::warn!(image = %image_id, pod = %pod_id, status = r.status,
                    body = %String::from_utf8_lossy(&r.body), "cannot tag a snapshot's pod image");
            }
            return Ok(());
        }
        Err(CoreError::conflict(format!(
            "Image {image_id} kept changing while its snapshot was adopted."
        )))
    }
}
