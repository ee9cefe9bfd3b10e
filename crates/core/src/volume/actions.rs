//! Volume actions: `os-extend` (quota and pod capacity checked, then the pod grows it),
//! `os-set_bootable`, `os-reserve` / `os-unreserve`, `os-update_readonly_flag` (Cinder's admin metadata `readonly`, kept in the
//! index and set in the pod, whose attachments then follow it), the image metadata actions
//! (`os-show_image_metadata`, `os-set_image_metadata`, `os-unset_image_metadata`: the index's
//! `volume_image_metadata`), and the admin's `os-reset_status` and `os-force_delete` (sent to
//! the pod with Cascade's service identity, then the index), and `os-retype` (no migration:
//! the type is made in the pod, which retypes the bottom volume).

use std::collections::BTreeMap;

use cascade_store::now_micros;
use cascade_store::volumes::VolumeRow;
use http::Method;
use serde_json::json;

use super::{POD_MV, VolumeService, json_text, pod_error, tenant_path};
use crate::identity::{Actor, Scope};
use crate::{CoreError, ErrorKind, Result};

/// A volume's admin metadata (`readonly`, `attached_mode`).
pub fn admin_metadata(row: &VolumeRow) -> BTreeMap<String, String> {
    serde_json::from_str(&row.admin_metadata).unwrap_or_default()
}

/// Whether the volume is flagged read-only (`os-update_readonly_flag`).
pub fn is_readonly(row: &VolumeRow) -> bool {
    admin_metadata(row).get("readonly").map(String::as_str) == Some("True")
}

impl VolumeService {
    /// `os-extend`: grows the bottom volume (as the tenant) after quota and capacity checks.
    pub async fn extend_volume(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        new_size: i64,
    ) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        if row.status != "available" && row.status != "in-use" {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume status must be available or in-use to extend, but current status is: {}.",
                row.status
            )));
        }
        if new_size <= row.size {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new_size}).",
                row.size
            )));
        }
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: volume {id} is not ready."
            )));
        };
        if self.pod_unreachable(&pod_id).await {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                format!(
                    "The availability zone {} of volume {id} is unreachable.",
                    row.az
                ),
            ));
        }
        if let Some(free) = self.pod_free_gb(&pod_id).await
            && (new_size - row.size) as f64 > free
        {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: availability zone {} cannot grow volume {id} by {} GiB (free: {} GiB).",
                row.az,
                new_size - row.size,
                free.floor()
            )));
        }
        self.check_volume_quota(&row.project_id, 0, new_size - row.size)
            .await?;
        let client = self.pods.client(&pod_id).await?;
        let owner = Actor {
            user_id: row.user_id.clone(),
            project_id: row.project_id.clone(),
            grant: actor.grant.clone(),
        };
        let as_owner = if actor.project_id == row.project_id {
            actor.clone()
        } else {
            owner
        };
        let token = self.delegation.token_for(&as_owner).await?;
        let r = client
            .send_as(
                Some(&token),
                Method::POST,
                "volumev3",
                &tenant_path(&row.project_id, &format!("/volumes/{bottom}/action")),
                Some(&json!({"os-extend": {"new_size": new_size}})),
                &[POD_MV],
            )
            .await?;
        if r.status >= 400 {
            return Err(pod_error(r.status, &r.body, Some(&bottom), id));
        }
        row.size = new_size;
        row.status = "extending".into();
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(())
    }

    /// `os-set_bootable`: the pod first, as the volume's owner (Cinder refuses a project in the
    /// URL that is not the token's), then the index; a pod's refusal is the caller's answer.
    pub async fn set_bootable(&self, scope: &Scope, id: &str, bootable: bool) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        if let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) {
            let client = self.pods.client(&pod_id).await?;
            let owner = Actor::from_request(&row.request, &row.user_id, &row.project_id);
            let token = self.delegation.token_for(&owner).await?;
            let r = client
                .send_as(
                    Some(&token),
                    Method::POST,
                    "volumev3",
                    &tenant_path(&row.project_id, &format!("/volumes/{bottom}/action")),
                    Some(&json!({"os-set_bootable": {"bootable": bootable}})),
                    &[POD_MV],
                )
                .await?;
            if r.status >= 400 {
                return Err(pod_error(r.status, &r.body, Some(&bottom), id));
            }
        }
        row.bootable = bootable;
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(())
    }

    /// `os-update_readonly_flag`: Cinder's admin metadata `readonly` (`"True"`/`"False"`), set in
    /// the pod first (so its attachments follow it), then in the index. The volume must be
    /// `available`.
    pub async fn update_readonly_flag(
        &self,
        scope: &Scope,
        id: &str,
        readonly: bool,
    ) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        if row.status != "available" {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume {id} status must be available to update readonly flag, but current status is: {}.",
                row.status
            )));
        }
        self.pod_action(
            &row,
            json!({"os-update_readonly_flag": {"readonly": readonly}}),
        )
        .await?;
        let mut admin = admin_metadata(&row);
        admin.insert(
            "readonly".into(),
            if readonly { "True" } else { "False" }.into(),
        );
        row.admin_metadata = json_text(&admin);
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(())
    }

    /// `os-show_image_metadata`: the volume's `volume_image_metadata` (kept at the top: the
    /// pod's names the pod's copy of the image).
    pub async fn volume_image_metadata(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let row = self.volume_row(scope, id).await?;
        Ok(serde_json::from_str(&row.image_metadata).unwrap_or_default())
    }

    /// `os-set_image_metadata` (merge; returns the whole set) and `os-unset_image_metadata`
    /// (`remove`: one key, 404 when the volume has no such key).
    pub async fn change_volume_image_metadata(
        &self,
        scope: &Scope,
        id: &str,
        set: BTreeMap<String, String>,
        remove: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        let mut row = self.volume_row(scope, id).await?;
        super::volumes::check_metadata(&set)?;
        let mut current: BTreeMap<String, String> =
            serde_json::from_str(&row.image_metadata).unwrap_or_default();
        if let Some(key) = remove
            && current.remove(key).is_none()
        {
            return Err(CoreError::not_found(format!(
                "Glance metadata for volume/snapshot {id} cannot be found."
            )));
        }
        current.extend(set);
        row.image_metadata = json_text(&current);
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(current)
    }

    /// Sends a volume action to the volume's pod as its owner; a pod's refusal is the caller's
    /// answer. A volume not placed yet has nothing to change in a pod.
    async fn pod_action(&self, row: &VolumeRow, action: serde_json::Value) -> Result<()> {
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            return Ok(());
        };
        let client = self.pods.client(&pod_id).await?;
        let owner = Actor::from_request(&row.request, &row.user_id, &row.project_id);
        let token = self.delegation.token_for(&owner).await?;
        let r = client
            .send_as(
                Some(&token),
                Method::POST,
                "volumev3",
                &tenant_path(&row.project_id, &format!("/volumes/{bottom}/action")),
                Some(&action),
                &[POD_MV],
            )
            .await?;
        if r.status >= 400 {
            return Err(pod_error(r.status, &r.body, Some(&bottom), &row.id));
        }
        Ok(())
    }

    /// `os-reserve`: an `available` volume (or an `in-use` multiattach one) becomes
    /// `attaching`, in its pod and in the index.
    pub async fn reserve_volume(&self, scope: &Scope, id: &str) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        let ok = row.status == "available" || (row.multiattach && row.status == "in-use");
        if !ok {
            let expected = if row.multiattach {
                "available or in-use"
            } else {
                "available"
            };
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume status must be {expected} to reserve, but the status is {}.",
                row.status
            )));
        }
        self.pod_action(&row, json!({"os-reserve": {}})).await?;
        row.status = "attaching".into();
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(())
    }

    /// `os-unreserve`: an `attaching` volume returns to `in-use` (attachments left) or
    /// `available`; any other status is left alone, as Cinder does.
    pub async fn unreserve_volume(&self, scope: &Scope, id: &str) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        if row.status != "attaching" {
            return Ok(());
        }
        self.pod_action(&row, json!({"os-unreserve": {}})).await?;
        let attached = serde_json::from_str::<Vec<serde_json::Value>>(&row.attachments)
            .is_ok_and(|a| !a.is_empty());
        row.status = if attached { "in-use" } else { "available" }.into();
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(())
    }

    /// `os-reset_status` (admin): the pod's volume first (with Cascade's service identity, so
    /// the pod's own watchers and the live reads agree), then the index. `extra` carries
    /// Cinder's other fields (`attach_status`, `migration_status`) to the pod.
    pub async fn reset_status(
        &self,
        id: &str,
        status: &str,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        const OK: &[&str] = &[
            "available",
            "error",
            "creating",
            "deleting",
            "in-use",
            "attaching",
            "detaching",
            "error_deleting",
            "maintenance",
            "reserved",
            "error_extending",
            "extending",
        ];
        if !OK.contains(&status) {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: Invalid status {status}."
            )));
        }
        let mut row = self.volume_row(&Scope::Admin, id).await?;
        let mut args = extra;
        args.insert("status".into(), json!(status));
        self.service_action(&row, json!({ "os-reset_status": args }))
            .await?;
        row.status = status.to_string();
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(())
    }

    /// `os-force_delete` (admin): whatever its status, the pod is told to delete the volume
    /// (service identity), then the index row is `deleting` and the delete job waits for the
    /// bottom volume to go. Snapshots still block it, as in Cinder.
    pub async fn force_delete_volume(&self, id: &str) -> Result<()> {
        let mut row = self.volume_row(&Scope::Admin, id).await?;
        let snaps = self.store.volume_snapshots(id).await?;
        if !snaps.is_empty() {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume still has {} dependent snapshots.",
                snaps.len()
            )));
        }
        self.service_action(&row, json!({"os-force_delete": {}}))
            .await?;
        row.status = "deleting".into();
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        self.enqueue(super::jobs::DELETE, &row).await
    }

    /// `os-retype` without migration (a volume never leaves its pod): the new type is made in
    /// the pod if needed, the pod retypes the bottom volume (as its owner), then the index
    /// follows (type name; `multiattach` from the type's `multiattach` extra spec).
    pub async fn retype_volume(
        &self,
        scope: &Scope,
        id: &str,
        new_type: &str,
        migration_policy: &str,
    ) -> Result<()> {
        let mut row = self.volume_row(scope, id).await?;
        if !matches!(migration_policy, "never" | "on-demand") {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: Invalid migration_policy {migration_policy}."
            )));
        }
        if row.status != "available" && row.status != "in-use" {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume status must be available or in-use, but current status is: {}.",
                row.status
            )));
        }
        let t = self.get_type(new_type, scope).await?;
        if t.name == row.volume_type {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: New volume_type same as original: {new_type}."
            )));
        }
        if let Some(pod_id) = row.pod_id.clone() {
            self.ensure_type_in_pod(&t.name, &pod_id)
                .await
                .map_err(|e| CoreError::new(ErrorKind::Unavailable, e.message))?;
        }
        self.pod_action(
            &row,
            json!({"os-retype": {"new_type": t.name, "migration_policy": migration_policy}}),
        )
        .await?;
        let specs = super::types::extra_specs(&t);
        row.multiattach = specs
            .get("multiattach")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("<is> True"));
        row.volume_type = t.name.clone();
        row.updated_at = now_micros().max(row.updated_at + 1);
        self.store.update_volume(&row).await?;
        Ok(())
    }

    /// Sends an admin action to the volume's pod with Cascade's service identity; a pod's
    /// refusal is the caller's answer. A volume not placed yet has nothing to change in a pod.
    async fn service_action(&self, row: &VolumeRow, action: serde_json::Value) -> Result<()> {
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            return Ok(());
        };
        let client = self.pods.client(&pod_id).await?;
        let r = client
            .send(
                Method::POST,
                "volumev3",
                &format!("/volumes/{bottom}/action"),
                Some(&action),
                &[POD_MV],
            )
            .await?;
        if r.status >= 400 {
            return Err(pod_error(r.status, &r.body, Some(&bottom), &row.id));
        }
        Ok(())
    }
}
