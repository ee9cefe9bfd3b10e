//! Attachments. A volume lives in one pod and a server in one pod; attaching works only when
//! they are the same pod, and is then done by the pod's own Nova (as the tenant, with bottom
//! ids). Across pods the attach is refused with a 400 that names both AZs: Cascade does not
//! move volumes between pods (a copy of a whole disk behind a synchronous API call would be
//! slow and surprising; the tenant can make a new volume in the right AZ from a snapshot or an
//! image instead). The top keeps an attachment record per attachment (Cinder's attachment API
//! reads them) and the server's `volumes_attached` lists top volume ids.
//!
//! Cinder's attachment API (`/attachments`, 3.27) is forwarded to the pod's Cinder the same
//! way, with the same same-pod rule when an `instance_uuid` is given.

use cascade_store::now_micros;
use cascade_store::volumes::{AttachmentRow, VolumeRow};
use http::Method;
use serde_json::{Value, json};

use super::{VolumeService, json_text, pod_error, tenant_path};
use crate::identity::Actor;
use crate::identity::Scope;
use crate::{CoreError, ErrorKind, Result};

/// Nova microversion for bottom attachment calls (`delete_on_termination` needs 2.79).
const NOVA_MV: (&str, &str) = ("OpenStack-API-Version", "compute 2.79");

/// `POST /servers/{id}/os-volume_attachments`.
#[derive(Debug, Clone, Default)]
pub struct AttachRequest {
    pub volume_id: String,
    pub device: Option<String>,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
}

impl VolumeService {
    /// Checks a volume and a server can be attached (same pod), with the clear 400 if not.
    async fn same_pod(
        &self,
        vol: &VolumeRow,
        server_id: &str,
        scope: &Scope,
    ) -> Result<(String, String)> {
        let server = self.compute.server_row(scope, server_id).await?;
        let (Some(vpod), Some(spod)) = (vol.pod_id.clone(), server.pod_id.clone()) else {
            return Err(CoreError::conflict(format!(
                "Server {server_id} or volume {} is not placed yet.",
                vol.id
            )));
        };
        if vpod != spod {
            return Err(CoreError::bad_request(format!(
                "Volume {} is in availability zone {} and server {server_id} is in availability \
                 zone {}: a volume can only be attached to a server in the same availability zone \
                 (Cascade does not move volumes between zones). Create the volume in {} (for \
                 example from a snapshot or an image) and attach that one.",
                vol.id, vol.az, server.az, server.az
            )));
        }
        let bottom_server = server.bottom_id.clone().ok_or_else(|| {
            CoreError::conflict(format!(
                "Cannot 'attach_volume' instance {server_id} while it is in vm_state {}",
                server.vm_state
            ))
        })?;
        Ok((spod, bottom_server))
    }

    /// Nova's attach: in the server's pod, as the tenant. Returns the volume's attachment entry
    /// (Nova shape built by the API layer from it).
    pub async fn attach_to_server(
        &self,
        actor: &Actor,
        scope: &Scope,
        server_id: &str,
        req: AttachRequest,
    ) -> Result<Value> {
        let mut vol = self.volume_row(scope, &req.volume_id).await.map_err(|e| {
            if e.kind == ErrorKind::NotFound {
                CoreError::not_found(format!("Volume {} could not be found.", req.volume_id))
            } else {
                e
            }
        })?;
        let (pod_id, bottom_server) = self.same_pod(&vol, server_id, scope).await?;
        let attached: Vec<Value> = serde_json::from_str(&vol.attachments).unwrap_or_default();
        if attached.iter().any(|a| a["server_id"] == server_id) {
            // Nova's `InvalidVolume`: a 400.
            return Err(CoreError::bad_request(format!(
                "Invalid volume: volume {} already attached",
                vol.id
            )));
        }
        if vol.status != "available" && !(vol.multiattach && vol.status == "in-use") {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: volume {} status must be available, but current status is: {}",
                vol.id, vol.status
            )));
        }
        let bottom_vol = vol.bottom_id.clone().ok_or_else(|| {
            CoreError::bad_request(format!("Invalid volume: volume {} is not ready", vol.id))
        })?;
        if self.pod_unreachable(&pod_id).await {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                format!("The availability zone {} is unreachable.", vol.az),
            ));
        }
        let client = self.pods.client(&pod_id).await?;
        let token = self.delegation.token_for(actor).await?;
        let mut a =
            json!({"volumeId": bottom_vol, "delete_on_termination": req.delete_on_termination});
        if let Some(d) = &req.device {
            a["device"] = json!(d);
        }
        if let Some(t) = &req.tag {
            a["tag"] = json!(t);
        }
        let r = client
            .send_as(
                Some(&token),
                Method::POST,
                "compute",
                &format!("/servers/{bottom_server}/os-volume_attachments"),
                Some(&json!({"volumeAttachment": a})),
                &[NOVA_MV],
            )
            .await?;
        if r.status >= 400 {
            let mut e = pod_error(r.status, &r.body, Some(&bottom_vol), &vol.id);
            e.message = e.message.replace(&bottom_server, server_id);
            return Err(e);
        }
        let b = r.json().unwrap_or(Value::Null)["volumeAttachment"].clone();
        let device = b["device"].as_str().map(str::to_string);
        let now = now_micros();
        let attachment_id = uuid::Uuid::new_v4().to_string();
        self.store
            .insert_attachment(&AttachmentRow {
                id: attachment_id.clone(),
                project_id: vol.project_id.clone(),
                volume_id: vol.id.clone(),
                server_id: Some(server_id.to_string()),
                status: "attached".into(),
                attach_mode: "rw".into(),
                device: device.clone(),
                bottom_id: b["attachment_id"].as_str().map(str::to_string),
                created_at: now,
            })
            .await?;
        let entry = json!({"id": vol.id, "volume_id": vol.id, "server_id": server_id,
            "attachment_id": attachment_id, "host_name": null, "device": device,
            "attached_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            "tag": req.tag, "delete_on_termination": req.delete_on_termination});
        let mut list = attached;
        list.push(entry.clone());
        vol.attachments = json_text(&list);
        vol.status = "in-use".into();
        vol.updated_at = now.max(vol.updated_at + 1);
        self.store.update_volume(&vol).await?;
        self.compute
            .set_server_volume(server_id, &vol.id, Some(req.delete_on_termination))
            .await?;
        tracing::info!(volume = %vol.id, server = %server_id, "volume attached");
        Ok(entry)
    }

    /// Nova's detach.
    pub async fn detach_from_server(
        &self,
        actor: &Actor,
        scope: &Scope,
        server_id: &str,
        volume_id: &str,
    ) -> Result<()> {
        let not_attached = || {
            CoreError::not_found(format!(
                "Volume {volume_id} is not attached to the server {server_id}."
            ))
        };
        let server = self.compute.server_row(scope, server_id).await?;
        let mut vol = self
            .volume_row(scope, volume_id)
            .await
            .map_err(|_| not_attached())?;
        let attached: Vec<Value> = serde_json::from_str(&vol.attachments).unwrap_or_default();
        if !attached.iter().any(|a| a["server_id"] == server_id) {
            return Err(not_attached());
        }
        let (Some(pod_id), Some(bottom_server), Some(bottom_vol)) = (
            server.pod_id.clone(),
            server.bottom_id.clone(),
            vol.bottom_id.clone(),
        ) else {
            return Err(not_attached());
        };
        let client = self.pods.client(&pod_id).await?;
        let token = self.delegation.token_for(actor).await?;
        let r = client
            .send_as(
                Some(&token),
                Method::DELETE,
                "compute",
                &format!("/servers/{bottom_server}/os-volume_attachments/{bottom_vol}"),
                None,
                &[NOVA_MV],
            )
            .await?;
        if r.status >= 400 && r.status != 404 {
            let mut e = pod_error(r.status, &r.body, Some(&bottom_vol), volume_id);
            e.message = e.message.replace(&bottom_server, server_id);
            return Err(e);
        }
        for a in self.store.volume_attachments(volume_id).await? {
            if a.server_id.as_deref() == Some(server_id) {
                let _ = self.store.delete_attachment(&a.id).await;
            }
        }
        let rest: Vec<Value> = attached
            .into_iter()
            .filter(|a| a["server_id"] != server_id)
            .collect();
        vol.status = if rest.is_empty() {
            "available".into()
        } else {
            "in-use".into()
        };
        vol.attachments = json_text(&rest);
        vol.updated_at = now_micros().max(vol.updated_at + 1);
        self.store.update_volume(&vol).await?;
        self.compute
            .set_server_volume(server_id, volume_id, None)
            .await?;
        tracing::info!(volume = %volume_id, server = %server_id, "volume detached");
        Ok(())
    }

    /// The volumes attached to a server, with their attachment entries (for Nova's list).
    pub async fn server_attachments(&self, scope: &Scope, server_id: &str) -> Result<Vec<Value>> {
        let server = self.compute.server_row(scope, server_id).await?;
        let ids: Vec<Value> = serde_json::from_str(&server.volumes).unwrap_or_default();
        let mut out = Vec::new();
        for v in ids {
            let Some(id) = v["id"].as_str() else { continue };
            let entry = match self.store.get_volume(id).await {
                Ok(row) if !row.deleted => {
                    let list: Vec<Value> =
                        serde_json::from_str(&row.attachments).unwrap_or_default();
                    list.into_iter()
                        .find(|a| a["server_id"] == server_id)
                        .unwrap_or_else(|| json!({"volume_id": id, "server_id": server_id}))
                }
                _ => json!({"volume_id": id, "server_id": server_id}),
            };
            let mut entry = entry;
            entry["delete_on_termination"] = v["delete_on_termination"].clone();
            out.push(entry);
        }
        Ok(out)
    }

    // ---- Cinder's attachment API -------------------------------------------------------------

    /// `POST /attachments`: reserves (and, with a connector, connects) the volume in its pod.
    pub async fn create_attachment(
        &self,
        actor: &Actor,
        scope: &Scope,
        volume_id: &str,
        instance: Option<&str>,
        connector: Option<Value>,
        mode: Option<&str>,
    ) -> Result<AttachmentRow> {
        let mut vol = self.volume_row(scope, volume_id).await?;
        let (pod_id, bottom_server) = match instance {
            Some(s) => {
                let (p, b) = self.same_pod(&vol, s, scope).await?;
                (p, Some(b))
            }
            None => (
                vol.pod_id
                    .clone()
                    .ok_or_else(|| CoreError::bad_request("Invalid volume: not placed yet"))?,
                None,
            ),
        };
        if vol.status != "available" && !(vol.multiattach && vol.status == "in-use") {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Volume {volume_id} status must be available or in-use, but current status is: {}.",
                vol.status
            )));
        }
        let bottom_vol = vol
            .bottom_id
            .clone()
            .ok_or_else(|| CoreError::bad_request("Invalid volume: not ready"))?;
        let client = self.pods.client(&pod_id).await?;
        let token = self.delegation.token_for(actor).await?;
        let mut body = json!({"volume_uuid": bottom_vol, "volume_id": bottom_vol});
        if let Some(b) = &bottom_server {
            body["instance_uuid"] = json!(b);
        }
        if let Some(c) = connector {
            body["connector"] = c;
        }
        if let Some(m) = mode {
            body["mode"] = json!(m);
        }
        let r = client
            .send_as(
                Some(&token),
                Method::POST,
                "volumev3",
                &tenant_path(&vol.project_id, "/attachments"),
                Some(&json!({"attachment": body})),
                &[("OpenStack-API-Version", "volume 3.54")],
            )
            .await?;
        if r.status >= 400 {
            return Err(pod_error(r.status, &r.body, Some(&bottom_vol), volume_id));
        }
        let b = r.json().unwrap_or(Value::Null)["attachment"].clone();
        let row = AttachmentRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: vol.project_id.clone(),
            volume_id: volume_id.to_string(),
            server_id: instance.map(str::to_string),
            status: b["status"].as_str().unwrap_or("reserved").to_string(),
            // Cinder makes every new attachment of a read-only flagged volume `ro`.
            attach_mode: b["attach_mode"]
                .as_str()
                .or(super::actions::is_readonly(&vol).then_some("ro"))
                .or(mode)
                .unwrap_or("rw")
                .to_string(),
            device: None,
            bottom_id: b["id"].as_str().map(str::to_string),
            created_at: now_micros(),
        };
        self.store.insert_attachment(&row).await?;
        vol.status = if row.status == "attached" {
            "in-use".into()
        } else {
            "reserved".into()
        };
        vol.updated_at = now_micros().max(vol.updated_at + 1);
        self.store.update_volume(&vol).await?;
        Ok(row)
    }

    pub async fn get_attachment(&self, scope: &Scope, id: &str) -> Result<AttachmentRow> {
        let a =
            self.store.get_attachment(id).await.map_err(|_| {
                CoreError::not_found(format!("Attachment {id} could not be found."))
            })?;
        if !scope.permits(&a.project_id) {
            return Err(CoreError::not_found(format!(
                "Attachment {id} could not be found."
            )));
        }
        Ok(a)
    }

    pub async fn list_attachments(&self, scope: &Scope) -> Result<Vec<AttachmentRow>> {
        Ok(self.store.list_attachments(scope.project()).await?)
    }

    /// `DELETE /attachments/{id}`: removes it in the pod and at the top.
    pub async fn delete_attachment(&self, actor: &Actor, scope: &Scope, id: &str) -> Result<()> {
        let a = self.get_attachment(scope, id).await?;
        if let Some(server) = &a.server_id
            && self.compute.server_row(&Scope::Admin, server).await.is_ok()
            && a.bottom_id.is_none()
        {
            // Made through Nova: detach through Nova.
            return self
                .detach_from_server(actor, scope, server, &a.volume_id)
                .await;
        }
        let mut vol = self.volume_row(&Scope::Admin, &a.volume_id).await?;
        if let (Some(pod_id), Some(bottom)) = (vol.pod_id.clone(), a.bottom_id.clone()) {
            let client = self.pods.client(&pod_id).await?;
            let token = self.delegation.token_for(actor).await?;
            let r = client
                .send_as(
                    Some(&token),
                    Method::DELETE,
                    "volumev3",
                    &tenant_path(&vol.project_id, &format!("/attachments/{bottom}")),
                    None,
                    &[("OpenStack-API-Version", "volume 3.54")],
                )
                .await?;
            if r.status >= 400 && r.status != 404 {
                return Err(pod_error(r.status, &r.body, None, id));
            }
        }
        self.store.delete_attachment(id).await?;
        if let Some(server) = &a.server_id {
            let list: Vec<Value> = serde_json::from_str(&vol.attachments).unwrap_or_default();
            let rest: Vec<Value> = list
                .into_iter()
                .filter(|x| x["server_id"] != server.as_str())
                .collect();
            vol.attachments = json_text(&rest);
            let _ = self.compute.set_server_volume(server, &vol.id, None).await;
        }
        if self.store.volume_attachments(&vol.id).await?.is_empty() {
            vol.status = "available".into();
        }
        vol.updated_at = now_micros().max(vol.updated_at + 1);
        self.store.update_volume(&vol).await?;
        Ok(())
    }
}
