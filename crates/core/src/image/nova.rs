//! Nova's deprecated image proxy (`/compute/v2.1/images`, gone from microversion 2.36) over the
//! global Glance, as nova-api proxies to Glance: Nova's list filters (`name`, `status`,
//! `changes-since`, `server`, `type`, `minRam`, `minDisk`, `property-*`) translated to
//! Glance's attributes, Nova's `limit`/`marker` paging, the image's `metadata` (its extra
//! properties) read and changed through Glance's patch rules, and Nova's metadata quota.

use std::collections::BTreeMap;

use serde_json::json;

use super::ImageService;
use super::model::{Caller, Image};
use super::patch::{PatchOp, PatchOpKind};
use crate::{CoreError, Result};

/// Nova's `metadata_items` quota, which also bounds an image's properties.
pub const MAX_METADATA_ITEMS: usize = 128;

/// Glance attributes that are not an image's `metadata` in Nova's view.
const NOT_METADATA: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "tags",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
];

/// The filters and paging of `GET /images` and `GET /images/detail`.
#[derive(Debug, Clone, Default)]
pub struct NovaImageQuery {
    pub name: Option<String>,
    /// Glance's status (Nova lowercases the filter).
    pub status: Option<String>,
    /// Microseconds: images updated at or after.
    pub changes_since: Option<i64>,
    /// The server a snapshot was made from (`instance_uuid`).
    pub server: Option<String>,
    /// `image_type` (`snapshot`, `backup`).
    pub image_type: Option<String>,
    pub min_ram: Option<u64>,
    pub min_disk: Option<u64>,
    /// `property-<key>=<value>` filters.
    pub properties: Vec<(String, String)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

/// An image's `metadata` as Nova shows it: its extra properties.
pub fn metadata(img: &Image) -> serde_json::Map<String, serde_json::Value> {
    img.properties
        .iter()
        .filter(|(k, _)| !NOT_METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn add(key: &str, value: &str) -> PatchOp {
    PatchOp {
        kind: PatchOpKind::Add,
        pointer: format!("/{key}"),
        path: vec![key.to_string()],
        value: Some(json!(value)),
    }
}

fn remove(key: &str) -> PatchOp {
    PatchOp {
        kind: PatchOpKind::Remove,
        pointer: format!("/{key}"),
        path: vec![key.to_string()],
        value: None,
    }
}

impl ImageService {
    /// `GET /images[/detail]`: every image the caller sees in Glance's default list (its own,
    /// public ones and accepted shared ones), newest first, filtered and paged as Nova does.
    pub async fn nova_list(&self, caller: &Caller, q: &NovaImageQuery) -> Result<Vec<Image>> {
        let mut all: Vec<Image> = Vec::new();
        let mut params = vec![("limit".to_string(), "1000".to_string())];
        loop {
            let page = self.list(caller, &params).await?;
            let last = page.images.last().map(|i| i.id.clone());
            all.extend(page.images);
            match (page.next_query, last) {
                (Some(_), Some(marker)) => {
                    params = vec![
                        ("limit".to_string(), "1000".to_string()),
                        ("marker".to_string(), marker),
                    ];
                }
                _ => break,
            }
        }
        let prop = |img: &Image, k: &str| {
            img.properties
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let mut images: Vec<Image> = all
            .into_iter()
            .filter(|i| q.name.as_ref().is_none_or(|n| i.name.as_ref() == Some(n)))
            .filter(|i| q.status.as_ref().is_none_or(|s| &i.status == s))
            .filter(|i| q.changes_since.is_none_or(|t| i.updated_at >= t))
            .filter(|i| {
                q.server
                    .as_ref()
                    .is_none_or(|s| prop(i, "instance_uuid").as_ref() == Some(s))
            })
            .filter(|i| {
                q.image_type
                    .as_ref()
                    .is_none_or(|t| prop(i, "image_type").as_ref() == Some(t))
            })
            .filter(|i| q.min_ram.is_none_or(|m| i.min_ram >= m))
            .filter(|i| q.min_disk.is_none_or(|m| i.min_disk >= m))
            .filter(|i| {
                q.properties.iter().all(|(k, v)| {
                    i.attribute(k).is_some_and(|a| {
                        a.as_str().map_or_else(|| a.to_string(), str::to_string) == *v
                    })
                })
            })
            .collect();
        if let Some(marker) = &q.marker {
            let pos = images
                .iter()
                .position(|i| &i.id == marker)
                .ok_or_else(|| CoreError::bad_request(format!("marker [{marker}] not found")))?;
            images.drain(..=pos);
        }
        if let Some(l) = q.limit {
            images.truncate(l);
        }
        Ok(images)
    }

    /// `POST /images/{id}/metadata` (merge, `replace` false) and `PUT /images/{id}/metadata`
    /// (replace every property, `replace` true): the image's metadata afterwards.
    pub async fn nova_set_metadata(
        &self,
        caller: &Caller,
        id: &str,
        items: &BTreeMap<String, String>,
        replace: bool,
    ) -> Result<Image> {
        let img = self.get(caller, id).await?;
        let current = metadata(&img);
        let mut ops: Vec<PatchOp> = Vec::new();
        if replace {
            ops.extend(
                current
                    .keys()
                    .filter(|k| !items.contains_key(*k))
                    .map(|k| remove(k)),
            );
        }
        ops.extend(items.iter().map(|(k, v)| add(k, v)));
        let count = if replace {
            items.len()
        } else {
            current.keys().filter(|k| !items.contains_key(*k)).count() + items.len()
        };
        if count > MAX_METADATA_ITEMS {
            return Err(CoreError::forbidden("Image metadata limit exceeded"));
        }
        for k in items.keys() {
            if NOT_METADATA.contains(&k.as_str()) {
                return Err(CoreError::bad_request(format!(
                    "Invalid metadata key: {k} is an image attribute"
                )));
            }
        }
        self.update(caller, id, &ops).await
    }

    /// `DELETE /images/{id}/metadata/{key}`: 404 when the image has no such item.
    pub async fn nova_delete_metadata(&self, caller: &Caller, id: &str, key: &str) -> Result<()> {
        let img = self.get(caller, id).await?;
        if !metadata(&img).contains_key(key) {
            return Err(CoreError::not_found("Invalid metadata key"));
        }
        self.update(caller, id, &[remove(key)]).await.map(|_| ())
    }
}
