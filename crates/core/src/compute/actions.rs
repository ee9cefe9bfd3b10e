//! Server actions (`POST /servers/{id}/action`): most run in the server's pod as the tenant
//! (ids translated both ways, the pod's messages scrubbed of its own ids), then the index is
//! refreshed; `createImage` becomes a snapshot job that adopts the pod's image at the top;
//! `addSecurityGroup`/`removeSecurityGroup` change the server's ports in the central Neutron.

use cascade_store::now_micros;
use http::Method;
use serde_json::{Value, json};

use super::servers::{Action, ActionOutcome, json_text, pod_message, scrub};
use super::{Compute, flavor_snapshot};
use crate::identity::Actor;
use crate::identity::Scope;
use crate::jobs::NewJob;
use crate::{CoreError, ErrorKind, Result};

impl Compute {
    // ---- actions ------------------------------------------------------------------------------

    /// Runs an action in the server's pod as the tenant, then refreshes the index.
    pub async fn server_action(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        action: Action,
    ) -> Result<ActionOutcome> {
        const KNOWN: &[&str] = &[
            "os-start",
            "os-stop",
            "reboot",
            "pause",
            "unpause",
            "suspend",
            "resume",
            "lock",
            "unlock",
            "resize",
            "confirmResize",
            "revertResize",
            "createImage",
            "createBackup",
            "forceDelete",
            "restore",
            "rebuild",
            "os-getConsoleOutput",
            "addSecurityGroup",
            "removeSecurityGroup",
            "os-resetState",
            "injectNetworkInfo",
            "migrate",
        ];
        if !KNOWN.contains(&action.name.as_str()) {
            return Err(CoreError::bad_request(format!(
                "There is no such action: {}",
                action.name
            )));
        }
        // Admin actions: Nova's policy name, and done in the pod with Cascade's own identity.
        let admin_policy = match action.name.as_str() {
            "os-resetState" => Some("os-admin-actions:reset_state"),
            "injectNetworkInfo" => Some("os-admin-actions:inject_network_info"),
            "migrate" => Some("os-migrate-server:migrate"),
            _ => None,
        };
        let row = self.server_row(scope, id).await?;
        if let Some(policy) = admin_policy
            && !scope.is_admin()
        {
            return Err(CoreError::forbidden(format!(
                "Policy doesn't allow os_compute_api:{policy} to be performed."
            )));
        }
        if action.name == "os-resetState" && row.pod_id.is_none() {
            // The server never reached a pod: its state lives only in the index.
            return self.reset_state_in_index(scope, id, &action.body).await;
        }
        match action.name.as_str() {
            // Cascade keeps no soft-deleted servers (no deferred delete): a force delete is a
            // delete, and there is never anything to restore.
            "forceDelete" => {
                self.delete_server(scope, id, scope.is_admin()).await?;
                return Ok(ActionOutcome::Accepted);
            }
            "restore" => {
                return Err(CoreError::conflict(format!(
                    "Cannot 'restore' instance {id} while it is in vm_state {}",
                    row.vm_state
                )));
            }
            _ => {}
        }
        let backup = if action.name == "createBackup" {
            Some(super::backup::parse(&action.body["createBackup"])?)
        } else {
            None
        };
        if action.name == "addSecurityGroup" || action.name == "removeSecurityGroup" {
            // Security groups live on the server's ports in the central Neutron.
            let group = action.body[action.name.as_str()]["name"]
                .as_str()
                .ok_or_else(|| {
                    CoreError::bad_request(format!(
                        "Invalid input for field/attribute {}.",
                        action.name
                    ))
                })?
                .to_string();
            let add = action.name == "addSecurityGroup";
            self.network
                .set_security_group(&row.project_id, id, &group, add)
                .await?;
            let mut row = self.server_row(scope, id).await?;
            let mut groups: Vec<String> =
                serde_json::from_str(&row.security_groups).unwrap_or_default();
            if add && !groups.contains(&group) {
                groups.push(group);
            } else if !add {
                groups.retain(|g| g != &group);
            }
            row.security_groups = json_text(&groups);
            row.updated_at = now_micros();
            self.store.update_server(&row).await?;
            return Ok(ActionOutcome::Accepted);
        }
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            return Err(CoreError::conflict(format!(
                "Cannot '{}' instance {id} while it is in vm_state {}",
                action.name, row.vm_state
            )));
        };
        if self.pod_unreachable(&pod_id).await {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                format!(
                    "The availability zone {} of instance {id} is unreachable.",
                    row.az
                ),
            ));
        }
        let mut body = action.body.clone();
        if let Some(b) = &backup {
            // The pod snapshots; the backup's type and rotation are the top's.
            body = json!({"createImage": {"name": b.name, "metadata": b.metadata}});
        }
        let mut resize_to = None;
        let mut rebuild_image = None;
        match action.name.as_str() {
            "resize" => {
                let flavor_ref = body["resize"]["flavorRef"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let flavor = self
                    .get_flavor(&flavor_ref, Some(&row.project_id), scope.is_admin())
                    .await
                    .map_err(|_| {
                        CoreError::bad_request(format!("Flavor {flavor_ref} could not be found."))
                    })?;
                // Nova counts only what grows: the new flavor's extra cores and RAM.
                self.check_quota_growth(
                    &row.project_id,
                    (flavor.vcpus - row.vcpus).max(0),
                    (flavor.ram - row.ram).max(0),
                )
                .await?;
                self.ensure_flavor_in_pod(&flavor_snapshot(&flavor), &row.project_id, &pod_id)
                    .await?;
                resize_to = Some(flavor_snapshot(&flavor));
            }
            "rebuild" => {
                let image = body["rebuild"]["imageRef"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let info = self
                    .images
                    .resolve(&row.project_id, &image)
                    .await
                    .map_err(|_| {
                        CoreError::bad_request(format!("Image {image} could not be found."))
                    })?;
                let bottom_image = self
                    .images
                    .ensure_in_pod(&row.project_id, &info.id, &pod_id)
                    .await?;
                body["rebuild"]["imageRef"] = json!(bottom_image);
                rebuild_image = Some(info.id.clone());
                // New metadata replaces the pod's: keep the top id on the bottom server.
                if let Some(m) = body["rebuild"]
                    .get_mut("metadata")
                    .and_then(Value::as_object_mut)
                {
                    m.insert(super::TOP_ID_KEY.into(), json!(id));
                }
                if let Some(n) = body["rebuild"]["name"].as_str() {
                    body["rebuild"]["name"] = json!(format!("{n}@{id}"));
                }
            }
            _ => {}
        }
        let client = self.pods.client(&pod_id).await?;
        let token = match admin_policy {
            Some(_) => None,
            None => Some(self.delegation.token_for(actor).await?),
        };
        let r = client
            .send_as(
                token.as_deref(),
                Method::POST,
                "compute",
                &format!("/servers/{bottom}/action"),
                Some(&body),
                &[("OpenStack-API-Version", "compute 2.73")],
            )
            .await?;
        if r.status >= 500 {
            // The pod's own failure: its text is for operators only.
            let mut e = CoreError::new(ErrorKind::Unavailable, crate::error::POD_UNAVAILABLE);
            e.detail = Some(format!(
                "pod answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
            return Err(e);
        }
        if r.status >= 400 {
            let message = scrub(&pod_message(&r.body), Some(&bottom), id);
            return Err(CoreError::new(
                match r.status {
                    400 => ErrorKind::BadRequest,
                    403 => ErrorKind::Forbidden,
                    404 => ErrorKind::NotFound,
                    409 => ErrorKind::Conflict,
                    _ => ErrorKind::Unavailable,
                },
                message,
            ));
        }
        if let Some(to) = resize_to {
            // Both flavors, so the index follows the pod to the new one (and back on a revert).
            let mut resized = self.server_row(scope, id).await?;
            let mut request: Value = serde_json::from_str(&resized.request).unwrap_or_default();
            if request.is_object() {
                let from: Value = serde_json::from_str(&resized.flavor).unwrap_or_default();
                request["resize"] = json!({"from": from, "to": to});
                resized.request = json_text(&request);
                self.store.update_server(&resized).await?;
            }
        }
        if action.name == "rebuild" {
            // What the rebuild changed that the index shows: image, name, metadata, key, user data.
            let req = &action.body["rebuild"];
            let mut rebuilt = self.server_row(scope, id).await?;
            if let Some(image) = rebuild_image {
                rebuilt.image_id = image;
            }
            if let Some(n) = req["name"].as_str() {
                rebuilt.name = n.to_string();
            }
            if let Some(m) = req.get("metadata").filter(|m| m.is_object()) {
                rebuilt.metadata = json_text(m);
            }
            if let Some(k) = req.get("key_name") {
                rebuilt.key_name = k.as_str().map(str::to_string);
            }
            if let Some(u) = req.get("user_data") {
                let mut request: Value = serde_json::from_str(&rebuilt.request).unwrap_or_default();
                if request.is_object() {
                    request["user_data"] = u.clone();
                    rebuilt.request = json_text(&request);
                }
            }
            self.store.update_server(&rebuilt).await?;
        }
        // Refresh the index from the pod right away.
        let _ = self.get_server(scope, id).await;
        if action.name == "createImage" || backup.is_some() {
            // The pod makes the snapshot; a job adopts it at the top once it is active, under
            // the id answered now.
            let v = r.json().unwrap_or(Value::Null);
            let location = r
                .headers
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default();
            let bottom_image = v["image_id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| location.rsplit('/').next().map(str::to_string))
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    CoreError::new(
                        ErrorKind::Unavailable,
                        "the pod did not say which image it made",
                    )
                })?;
            let image_id = uuid::Uuid::new_v4().to_string();
            let name = body["createImage"]["name"]
                .as_str()
                .unwrap_or("snapshot")
                .to_string();
            let base = if row.image_id.is_empty() {
                None
            } else {
                self.images
                    .resolve(&row.project_id, &row.image_id)
                    .await
                    .ok()
            };
            let metadata = body["createImage"]["metadata"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            self.images
                .reserve_snapshot(&super::deps::SnapshotRequest {
                    image_id: image_id.clone(),
                    project_id: row.project_id.clone(),
                    user_id: actor.user_id.clone(),
                    name: name.clone(),
                    server_id: id.to_string(),
                    base_image: row.image_id.clone(),
                    metadata,
                    min_disk: base.as_ref().map_or(0, |b| b.min_disk),
                    min_ram: base.as_ref().map_or(0, |b| b.min_ram),
                    backup_type: backup.as_ref().map(|b| b.backup_type.clone()),
                })
                .await?;
            self.jobs
                .enqueue(NewJob {
                    job_type: super::saga::SNAPSHOT.into(),
                    resource_id: image_id.clone(),
                    project_id: row.project_id.clone(),
                    pod_id: Some(pod_id.clone()),
                    payload: json!({"bottom_image": bottom_image, "name": name, "server_id": id,
                        "backup_type": backup.as_ref().map(|b| &b.backup_type),
                        "rotation": backup.as_ref().map(|b| b.rotation)}),
                    max_attempts: Some(30),
                    delay: None,
                })
                .await?;
            return Ok(ActionOutcome::Body(202, json!({"image_id": image_id})));
        }
        if action.name == "os-getConsoleOutput" {
            return Ok(ActionOutcome::Body(
                r.status,
                r.json().unwrap_or(Value::Null),
            ));
        }
        if action.name == "rebuild" {
            let answered = r.json().unwrap_or(Value::Null);
            let admin_pass = action.body["rebuild"]["adminPass"]
                .as_str()
                .or(answered["server"]["adminPass"].as_str())
                .map(str::to_string);
            return Ok(ActionOutcome::Rebuilt { admin_pass });
        }
        if action.name == "confirmResize" {
            return Ok(ActionOutcome::NoContent);
        }
        Ok(ActionOutcome::Accepted)
    }

    /// `os-resetState` of a server that has no bottom server: Nova's validation and effect
    /// (the vm_state set, the task cleared) on the index row.
    async fn reset_state_in_index(
        &self,
        scope: &Scope,
        id: &str,
        body: &Value,
    ) -> Result<ActionOutcome> {
        let (vm_state, status) = match body["os-resetState"]["state"].as_str() {
            Some("active") => ("active", "ACTIVE"),
            Some("error") => ("error", "ERROR"),
            other => {
                let v = other.unwrap_or("None");
                return Err(CoreError::bad_request(format!(
                    "Invalid input for field/attribute state. Value: {v}. '{v}' is not one of ['active', 'error']"
                )));
            }
        };
        let mut row = self.server_row(scope, id).await?;
        row.vm_state = vm_state.into();
        row.status = status.into();
        row.task_state = None;
        row.updated_at = now_micros();
        self.store.update_server(&row).await?;
        Ok(ActionOutcome::Accepted)
    }

    /// `GET /servers/{id}/diagnostics` (admin): the pod's answer at the caller's microversion,
    /// asked with Cascade's own identity (diagnostics carry no ids to translate).
    pub async fn server_diagnostics(&self, scope: &Scope, id: &str, mv: &str) -> Result<Value> {
        let row = self.server_row(scope, id).await?;
        let (Some(pod_id), Some(bottom)) = (row.pod_id.clone(), row.bottom_id.clone()) else {
            return Err(CoreError::conflict(format!(
                "Cannot 'get_diagnostics' instance {id} while it is in vm_state {}",
                row.vm_state
            )));
        };
        let client = self.pods.client(&pod_id).await?;
        let version = format!("compute {mv}");
        let r = tokio::time::timeout(
            self.config
                .live_timeout
                .max(std::time::Duration::from_secs(5)),
            client.send(
                Method::GET,
                "compute",
                &format!("/servers/{bottom}/diagnostics"),
                None,
                &[("OpenStack-API-Version", version.as_str())],
            ),
        )
        .await
        .map_err(|_| CoreError::new(ErrorKind::Unavailable, crate::error::POD_UNAVAILABLE))??;
        if r.status >= 400 {
            let message = scrub(&pod_message(&r.body), Some(&bottom), id);
            return Err(CoreError::new(
                match r.status {
                    400 => ErrorKind::BadRequest,
                    404 => ErrorKind::NotFound,
                    409 => ErrorKind::Conflict,
                    _ => ErrorKind::Unavailable,
                },
                message,
            ));
        }
        r.json().map_err(|e| {
            let mut err = CoreError::new(ErrorKind::Unavailable, crate::error::POD_UNAVAILABLE);
            err.detail = Some(format!("diagnostics: unreadable answer: {e}"));
            err
        })
    }
}
