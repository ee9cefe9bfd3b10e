//! The image registry as Glance v2 serves it: create, show, list (filters, `id=in:`, tags,
//! `member_status`, sorting, marker paging and the `next` link), JSON-patch update, delete
//! (which schedules the deletion of every pod copy), tags, members, deactivate/reactivate.
//! Everything here touches only the store; the bytes are in `data.rs`.

use std::cmp::Ordering;
use std::collections::HashMap;

use cascade_store::images::{ImageScope, MemberRow};
use cascade_store::{StoreError, from_micros, now_micros};
use serde_json::{Value, json};

use super::model::{self, Caller, Image, apply_attribute, not_found, visible};
use super::patch::{PatchOp, apply_patch};
use super::{ImageService, policy};
use crate::{CoreError, Result};

/// One page of an image list.
#[derive(Debug, Clone)]
pub struct ImagePage {
    pub images: Vec<Image>,
    /// The query string of the next page (marker set), when there is one.
    pub next_query: Option<String>,
}

/// A member as Glance shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView(pub MemberRow);

impl MemberView {
    pub fn to_glance(&self) -> Value {
        let ts = |us: i64| cascade_model::time::iso_seconds(from_micros(us));
        json!({
            "image_id": self.0.image_id,
            "member_id": self.0.member_id,
            "status": self.0.status,
            "created_at": ts(self.0.created_at),
            "updated_at": ts(self.0.updated_at),
            "schema": "/v2/schemas/member",
        })
    }
}

const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
    "visibility",
    "owner",
    "min_disk",
    "min_ram",
    "virtual_size",
];

/// List parameters Glance does not treat as property filters.
const NON_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "member_status",
    "visibility",
    "os_hidden",
    "tag",
    "size_min",
    "size_max",
    "created_at",
    "updated_at",
];

fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
            _ => match (x.as_str(), y.as_str()) {
                (Some(p), Some(q)) => p.cmp(q),
                _ => x.to_string().cmp(&y.to_string()),
            },
        },
    }
}

fn as_filter_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(CoreError::bad_request(format!(
            "Invalid value '{v}' for parameter '{key}': expected a boolean"
        ))),
    }
}

impl ImageService {
    async fn is_member(&self, image_id: &str, project_id: &str) -> Result<bool> {
        match self.store.get_member(image_id, project_id).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The image if `caller` may see it (404 otherwise, as Glance hides what you cannot see).
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Image> {
        let img = match self.store.get_image(id).await {
            Ok(r) => Image::from_row(r),
            Err(StoreError::NotFound) => return Err(not_found(id)),
            Err(e) => return Err(e.into()),
        };
        let member = img.visibility == "shared"
            && !caller.is_admin
            && img.owner != caller.project_id
            && self.is_member(id, &caller.project_id).await?;
        if visible(&img, caller, member) {
            Ok(img)
        } else {
            Err(not_found(id))
        }
    }

    /// The image if `caller` may change it (owner or admin).
    async fn get_owned(&self, caller: &Caller, id: &str) -> Result<Image> {
        let img = self.get(caller, id).await?;
        if caller.is_admin || img.owner == caller.project_id {
            Ok(img)
        } else {
            Err(CoreError::forbidden(format!(
                "You are not permitted to modify image {id}."
            )))
        }
    }

    /// The selected pods of a policy, for validation (404-free): 400 when none is registered.
    async fn check_policy(&self, img: &Image) -> Result<()> {
        let p = model::policy_of(
            img,
            &self.config.default_placement,
            self.config.default_replication,
        )?;
        if img.properties.contains_key(policy::PLACEMENT_PROPERTY) {
            let pods = self.pods.list().await?;
            if !pods.iter().any(|pod| p.placement.allows(pod)) {
                return Err(CoreError::bad_request(format!(
                    "The placement policy '{}' of property {} selects no pod.",
                    p.placement.source(),
                    policy::PLACEMENT_PROPERTY
                )));
            }
        }
        Ok(())
    }

    /// `POST /v2/images`.
    pub async fn create(&self, caller: &Caller, body: &Value) -> Result<Image> {
        let o = body
            .as_object()
            .ok_or_else(|| CoreError::bad_request("Body expected in request."))?;
        let id = match o.get("id") {
            None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
            Some(Value::String(s)) => uuid::Uuid::parse_str(s)
                .map(|u| u.hyphenated().to_string())
                .map_err(|_| {
                    CoreError::bad_request(format!(
                        "Provided object does not match schema 'image': '{s}' does not match the id pattern"
                    ))
                })?,
            Some(other) => {
                return Err(CoreError::bad_request(format!(
                    "Provided object does not match schema 'image': {other} is not of type 'string'"
                )));
            }
        };
        let mut img = Image::new(id.clone(), caller.project_id.clone());
        for (k, v) in o {
            if k == "id" {
                continue;
            }
            apply_attribute(&mut img, k, v, caller)?;
        }
        self.check_policy(&img).await?;
        self.store
            .insert_image(&img.to_row())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    CoreError::conflict(format!("An image with identifier {id} already exists"))
                }
                other => other.into(),
            })?;
        Ok(img)
    }

    /// `GET /v2/images` with Glance's query parameters (`params` in request order).
    pub async fn list(&self, caller: &Caller, params: &[(String, String)]) -> Result<ImagePage> {
        let get = |k: &str| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        let all = |k: &str| {
            params
                .iter()
                .filter(|(p, _)| p == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        let limit = match get("limit") {
            None => 25,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| CoreError::bad_request("limit param must be an integer"))?
                as usize,
        }
        .min(1000);
        let visibility = get("visibility");
        if let Some(v) = visibility
            && v != "all"
            && !model::VISIBILITIES.contains(&v)
        {
            return Err(CoreError::bad_request(format!(
                "Invalid visibility value: {v}"
            )));
        }
        let member_status = get("member_status").unwrap_or("accepted");
        if !["accepted", "pending", "rejected", "all"].contains(&member_status) {
            return Err(CoreError::bad_request(format!(
                "Invalid status value: {member_status}"
            )));
        }
        let os_hidden = get("os_hidden")
            .map(|v| parse_bool("os_hidden", v))
            .transpose()?
            .unwrap_or(false);
        let size_bound = |k: &str| {
            get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| CoreError::bad_request(format!("Invalid value for {k}: {v}")))
                })
                .transpose()
        };
        let (size_min, size_max) = (size_bound("size_min")?, size_bound("size_max")?);
        // Sort keys: `sort=k:dir,...` or repeated `sort_key`/`sort_dir`.
        let mut keys: Vec<(String, bool)> = Vec::new();
        if let Some(sort) = get("sort") {
            for part in sort.split(',') {
                let mut it = part.splitn(2, ':');
                let k = it.next().unwrap_or("").trim().to_string();
                let dir = it.next().unwrap_or("desc").trim();
                keys.push((k, dir == "desc"));
                if dir != "asc" && dir != "desc" {
                    return Err(CoreError::bad_request(format!(
                        "Invalid sort direction: {dir}"
                    )));
                }
            }
        } else {
            let dirs = all("sort_dir");
            for d in &dirs {
                if *d != "asc" && *d != "desc" {
                    return Err(CoreError::bad_request(format!(
                        "Invalid sort direction: {d}"
                    )));
                }
            }
            for (i, k) in all("sort_key").iter().enumerate() {
                let dir = dirs.get(i).or(dirs.first()).copied().unwrap_or("desc");
                keys.push((k.to_string(), dir == "desc"));
            }
        }
        for (k, _) in &keys {
            if !SORT_KEYS.contains(&k.as_str()) {
                return Err(CoreError::bad_request(format!(
                    "Invalid sort key: {k}. It must be one of the following: {}.",
                    SORT_KEYS.join(", ")
                )));
            }
        }
        if keys.is_empty() {
            keys.push(("created_at".into(), true));
        }

        let ids: Option<Vec<String>> = get("id").map(|v| {
            v.strip_prefix("in:")
                .unwrap_or(v)
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        });
        let scope = if caller.is_admin {
            ImageScope::All
        } else {
            ImageScope::Project(&caller.project_id)
        };
        let rows = self.store.list_images(&scope, ids.as_deref()).await?;
        let memberships: HashMap<String, String> = self
            .store
            .memberships_of(&caller.project_id)
            .await?
            .into_iter()
            .map(|m| (m.image_id, m.status))
            .collect();
        let tags = all("tag");
        let prop_filters: Vec<(&str, &str)> = params
            .iter()
            .filter(|(k, _)| !NON_FILTERS.contains(&k.as_str()) && k != "id")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut images: Vec<Image> = rows
            .into_iter()
            .map(Image::from_row)
            .filter(|img| {
                let own = img.owner == caller.project_id;
                let member_ok = |img: &Image| {
                    memberships
                        .get(&img.id)
                        .is_some_and(|s| member_status == "all" || s == member_status)
                };
                match visibility {
                    None => {
                        own || img.visibility == "public"
                            || (img.visibility == "shared" && (caller.is_admin || member_ok(img)))
                            || (caller.is_admin && img.visibility == "private")
                    }
                    Some("all") => {
                        own || img.visibility == "public"
                            || img.visibility == "community"
                            || (img.visibility == "shared" && (caller.is_admin || member_ok(img)))
                            || (caller.is_admin && img.visibility == "private")
                    }
                    Some("shared") => {
                        img.visibility == "shared" && (own || caller.is_admin || member_ok(img))
                    }
                    Some("private") => img.visibility == "private" && (own || caller.is_admin),
                    Some(v) => img.visibility == v,
                }
            })
            .filter(|img| img.os_hidden == os_hidden)
            .filter(|img| tags.iter().all(|t| img.tags.contains(*t)))
            .filter(|img| size_min.is_none_or(|m| img.size.is_some_and(|s| s >= m)))
            .filter(|img| size_max.is_none_or(|m| img.size.is_some_and(|s| s <= m)))
            .filter(|img| {
                prop_filters.iter().all(|(k, want)| {
                    let have = img.attribute(k).map(|v| as_filter_text(&v));
                    match want.strip_prefix("in:") {
                        Some(list) => have.is_some_and(|h| list.split(',').any(|w| w == h)),
                        None => have.as_deref() == Some(*want),
                    }
                })
            })
            .collect();
        images.sort_by(|a, b| {
            for (k, desc) in &keys {
                let o = cmp_values(a.attribute(k).as_ref(), b.attribute(k).as_ref());
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        if let Some(marker) = get("marker") {
            let pos = images.iter().position(|i| i.id == marker).ok_or_else(|| {
                CoreError::bad_request(format!("marker {marker} could not be found."))
            })?;
            images.drain(..=pos);
        }
        let more = images.len() > limit;
        images.truncate(limit);
        let next_query = match (more, images.last()) {
            (true, Some(last)) => {
                let mut q: Vec<String> = params
                    .iter()
                    .filter(|(k, _)| k != "marker")
                    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                    .collect();
                q.push(format!("marker={}", enc(&last.id)));
                Some(q.join("&"))
            }
            _ => None,
        };
        Ok(ImagePage { images, next_query })
    }

    /// `PATCH /v2/images/{id}`.
    pub async fn update(&self, caller: &Caller, id: &str, ops: &[PatchOp]) -> Result<Image> {
        let mut img = self.get_owned(caller, id).await?;
        let before = img.clone();
        apply_patch(&mut img, ops, caller)?;
        if img.properties.get(policy::PLACEMENT_PROPERTY)
            != before.properties.get(policy::PLACEMENT_PROPERTY)
        {
            self.check_policy(&img).await?;
        }
        img.updated_at = now_micros();
        if !self
            .store
            .update_image(&img.to_row(), Some(&before.status))
            .await?
        {
            return Err(CoreError::conflict(format!(
                "Image {id} was changed by another request; try again."
            )));
        }
        Ok(img)
    }

    /// `DELETE /v2/images/{id}`: the top image goes at once; its pod copies are deleted by
    /// jobs (or the sweeper).
    pub async fn delete(self: &std::sync::Arc<Self>, caller: &Caller, id: &str) -> Result<()> {
        let img = self.get_owned(caller, id).await?;
        if img.protected {
            return Err(CoreError::forbidden(format!(
                "Image {id} is protected and cannot be deleted."
            )));
        }
        self.store.delete_image(id).await.map_err(|e| match e {
            StoreError::NotFound => not_found(id),
            other => other.into(),
        })?;
        self.schedule_copy_deletions(&img).await;
        Ok(())
    }

    /// `PUT /v2/images/{id}/tags/{tag}`.
    pub async fn add_tag(&self, caller: &Caller, id: &str, tag: &str) -> Result<()> {
        let mut img = self.get_owned(caller, id).await?;
        if tag.chars().count() > 255 {
            return Err(CoreError::bad_request(
                "Image tag too long (over 255 characters).",
            ));
        }
        let status = img.status.clone();
        img.tags.insert(tag.to_string());
        img.updated_at = now_micros();
        self.store
            .update_image(&img.to_row(), Some(&status))
            .await?;
        Ok(())
    }

    /// `DELETE /v2/images/{id}/tags/{tag}`.
    pub async fn remove_tag(&self, caller: &Caller, id: &str, tag: &str) -> Result<()> {
        let mut img = self.get_owned(caller, id).await?;
        if !img.tags.remove(tag) {
            return Err(CoreError::not_found(format!("Tag {tag} not found")));
        }
        let status = img.status.clone();
        img.updated_at = now_micros();
        self.store
            .update_image(&img.to_row(), Some(&status))
            .await?;
        Ok(())
    }

    /// `POST /v2/images/{id}/actions/deactivate|reactivate`: an admin, or a member of the
    /// owning project (Glance's `ADMIN_OR_PROJECT_MEMBER`).
    pub async fn set_active(&self, caller: &Caller, id: &str, active: bool) -> Result<()> {
        let mut img = self.get(caller, id).await?;
        if !caller.is_admin && img.owner != caller.project_id {
            return Err(CoreError::forbidden(
                "You are not authorized to complete this action.",
            ));
        }
        let (from, to, verb) = if active {
            ("deactivated", "active", "reactivate")
        } else {
            ("active", "deactivated", "deactivate")
        };
        if img.status == to {
            return Ok(());
        }
        if img.status != from {
            return Err(CoreError::bad_request(format!(
                "Not allowed to {verb} image in status '{}'",
                img.status
            )));
        }
        img.status = to.into();
        img.updated_at = now_micros();
        if !self.store.update_image(&img.to_row(), Some(from)).await? {
            return Err(CoreError::conflict(format!("Image {id} changed meanwhile")));
        }
        Ok(())
    }

    fn only_shared(img: &Image) -> Result<()> {
        if img.visibility == "shared" {
            Ok(())
        } else {
            Err(CoreError::forbidden("Only shared images have members."))
        }
    }

    /// `GET /v2/images/{id}/members`: the owner sees all, a member only itself.
    pub async fn members(&self, caller: &Caller, id: &str) -> Result<Vec<MemberView>> {
        let img = self.get(caller, id).await?;
        Self::only_shared(&img)?;
        let rows = self.store.list_members(id).await?;
        Ok(rows
            .into_iter()
            .filter(|m| {
                caller.is_admin
                    || img.owner == caller.project_id
                    || m.member_id == caller.project_id
            })
            .map(MemberView)
            .collect())
    }

    /// `POST /v2/images/{id}/members`.
    pub async fn add_member(&self, caller: &Caller, id: &str, member: &str) -> Result<MemberView> {
        let img = self.get(caller, id).await?;
        if !caller.is_admin && img.owner != caller.project_id {
            return Err(CoreError::forbidden(format!(
                "You are not permitted to create image members for the image {id}."
            )));
        }
        Self::only_shared(&img)?;
        if member.is_empty() || member.len() > 255 {
            return Err(CoreError::bad_request("Invalid member id."));
        }
        let now = now_micros();
        let row = MemberRow {
            image_id: id.to_string(),
            member_id: member.to_string(),
            status: "pending".into(),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_member(&row).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::conflict(format!(
                "Member {member} already associated with image {id}."
            )),
            other => other.into(),
        })?;
        Ok(MemberView(row))
    }

    /// `GET /v2/images/{id}/members/{member}`.
    pub async fn member(&self, caller: &Caller, id: &str, member: &str) -> Result<MemberView> {
        let img = self.get(caller, id).await?;
        Self::only_shared(&img)?;
        if !caller.is_admin && img.owner != caller.project_id && member != caller.project_id {
            return Err(CoreError::not_found(format!(
                "Member {member} not found for image {id}."
            )));
        }
        match self.store.get_member(id, member).await {
            Ok(m) => Ok(MemberView(m)),
            Err(StoreError::NotFound) => Err(CoreError::not_found(format!(
                "Member {member} not found for image {id}."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// `PUT /v2/images/{id}/members/{member}`: only the member sets its own status.
    pub async fn set_member_status(
        &self,
        caller: &Caller,
        id: &str,
        member: &str,
        status: &str,
    ) -> Result<MemberView> {
        let img = self.get(caller, id).await?;
        Self::only_shared(&img)?;
        if !["pending", "accepted", "rejected"].contains(&status) {
            return Err(CoreError::bad_request(format!(
                "Provided object does not match schema 'member': '{status}' is not one of ['pending', 'accepted', 'rejected']"
            )));
        }
        if member != caller.project_id && !caller.is_admin {
            return Err(CoreError::forbidden(
                "You are not permitted to modify 'status' on this image member.",
            ));
        }
        match self.store.update_member_status(id, member, status).await {
            Ok(m) => Ok(MemberView(m)),
            Err(StoreError::NotFound) => Err(CoreError::not_found(format!(
                "Member {member} not found for image {id}."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// `DELETE /v2/images/{id}/members/{member}`.
    pub async fn remove_member(&self, caller: &Caller, id: &str, member: &str) -> Result<()> {
        let img = self.get(caller, id).await?;
        if !caller.is_admin && img.owner != caller.project_id {
            return Err(CoreError::forbidden(format!(
                "You are not permitted to delete image members for the image {id}."
            )));
        }
        Self::only_shared(&img)?;
        match self.store.delete_member(id, member).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(CoreError::not_found(format!(
                "Member {member} not found for image {id}."
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

/// Percent-encodes a query component.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
