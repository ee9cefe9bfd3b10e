//! Volume transfers (`os-volume-transfer`, and `volume-transfers` from 3.55): a transfer of a
//! volume is made in the volume's pod as the volume's owner, and the pod's auth key is the one
//! handed to the tenant (the top keeps only a salted SHA-256 of it, never the key). Accepting
//! checks the key at the top, then accepts the pod's transfer as the accepting project (a
//! delegated token), so the bottom volume and its snapshots change owner in the pod too; the
//! index follows (project, user, and the grant later jobs act with).

use cascade_store::now_micros;
use cascade_store::volume_admin::TransferRow;
use http::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{POD_MV, VolumeService, json_text, pod_error, tenant_path};
use crate::identity::{Actor, Scope};
use crate::{CoreError, ErrorKind, Result};

/// `POST /os-volume-transfer`, `POST /volume-transfers`.
#[derive(Debug, Clone, Default)]
pub struct TransferCreate {
    pub volume_id: String,
    pub name: Option<String>,
    /// 3.55: the volume's snapshots stay with the giver.
    pub no_snapshots: bool,
}

fn key_hash(salt: &str, key: &str) -> String {
    hex::encode(Sha256::digest(format!("{salt}{key}").as_bytes()))
}

fn transfer_missing(id: &str) -> CoreError {
    CoreError::not_found(format!("Transfer {id} could not be found."))
}

impl VolumeService {
    /// Creates the transfer; returns the row and the auth key (shown once).
    pub async fn create_transfer(
        &self,
        actor: &Actor,
        scope: &Scope,
        req: TransferCreate,
    ) -> Result<(TransferRow, String)> {
        let mut vol = self.volume_row(scope, &req.volume_id).await?;
        if vol.status != "available" {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: Status of volume must be available, but current status is: {}.",
                vol.status
            )));
        }
        let (Some(pod_id), Some(bottom)) = (vol.pod_id.clone(), vol.bottom_id.clone()) else {
            return Err(CoreError::bad_request(format!(
                "Invalid volume: volume {} is not ready.",
                vol.id
            )));
        };
        let owner = if actor.project_id == vol.project_id {
            actor.clone()
        } else {
            Actor::from_request(&vol.request, &vol.user_id, &vol.project_id)
        };
        let token = self.delegation.token_for(&owner).await?;
        let client = self.pods.client(&pod_id).await?;
        let body = json!({"transfer": {"volume_id": bottom, "name": req.name,
            "no_snapshots": req.no_snapshots}});
        let r = client
            .send_as(
                Some(&token),
                Method::POST,
                "volumev3",
                &tenant_path(&vol.project_id, "/volume-transfers"),
                Some(&body),
                &[("OpenStack-API-Version", "volume 3.55")],
            )
            .await?;
        if r.status >= 400 {
            return Err(pod_error(r.status, &r.body, Some(&bottom), &vol.id));
        }
        let v = r.json().unwrap_or(Value::Null);
        let (Some(bottom_transfer), Some(key)) = (
            v["transfer"]["id"].as_str().map(str::to_string),
            v["transfer"]["auth_key"].as_str().map(str::to_string),
        ) else {
            return Err(CoreError::new(
                ErrorKind::Unavailable,
                "the pod's transfer has no id or auth key",
            ));
        };
        let salt = uuid::Uuid::new_v4().simple().to_string();
        let row = TransferRow {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id: vol.id.clone(),
            project_id: vol.project_id.clone(),
            name: req.name,
            key_hash: key_hash(&salt, &key),
            salt,
            no_snapshots: req.no_snapshots,
            pod_id: Some(pod_id),
            bottom_id: Some(bottom_transfer),
            created_at: now_micros(),
        };
        self.store.insert_transfer(&row).await?;
        vol.status = "awaiting-transfer".into();
        vol.updated_at = now_micros().max(vol.updated_at + 1);
        self.store.update_volume(&vol).await?;
        Ok((row, key))
    }

    /// A transfer the scope's project gives (any for admins).
    pub async fn get_transfer(&self, scope: &Scope, id: &str) -> Result<TransferRow> {
        let t = self
            .store
            .get_transfer(id)
            .await
            .map_err(|_| transfer_missing(id))?;
        if !scope.permits(&t.project_id) {
            return Err(transfer_missing(id));
        }
        Ok(t)
    }

    pub async fn list_transfers(&self, scope: &Scope) -> Result<Vec<TransferRow>> {
        Ok(self.store.list_transfers(scope.project()).await?)
    }

    /// Cancels a transfer: the pod's first (as the volume's owner), then the top's; the volume
    /// is `available` again.
    pub async fn delete_transfer(&self, scope: &Scope, id: &str) -> Result<()> {
        let t = self.get_transfer(scope, id).await?;
        let mut vol = self.volume_row(&Scope::Admin, &t.volume_id).await?;
        if let (Some(pod_id), Some(bottom)) = (t.pod_id.as_deref(), t.bottom_id.as_deref()) {
            let owner = Actor::from_request(&vol.request, &vol.user_id, &vol.project_id);
            let token = self.delegation.token_for(&owner).await?;
            let client = self.pods.client(pod_id).await?;
            let r = client
                .send_as(
                    Some(&token),
                    Method::DELETE,
                    "volumev3",
                    &tenant_path(&vol.project_id, &format!("/os-volume-transfer/{bottom}")),
                    None,
                    &[POD_MV],
                )
                .await?;
            if r.status >= 400 && r.status != 404 {
                return Err(pod_error(r.status, &r.body, Some(bottom), id));
            }
        }
        self.store.delete_transfer(&t.id).await?;
        if vol.status == "awaiting-transfer" {
            vol.status = "available".into();
            vol.updated_at = now_micros().max(vol.updated_at + 1);
            self.store.update_volume(&vol).await?;
        }
        Ok(())
    }

    /// Accepts a transfer for `actor`'s project with the auth key given at its creation.
    pub async fn accept_transfer(
        &self,
        actor: &Actor,
        id: &str,
        auth_key: &str,
    ) -> Result<TransferRow> {
        let t = self
            .store
            .get_transfer(id)
            .await
            .map_err(|_| transfer_missing(id))?;
        if key_hash(&t.salt, auth_key) != t.key_hash {
            return Err(CoreError::bad_request(format!(
                "Invalid auth key: Attempt to transfer {id} with invalid auth key."
            )));
        }
        let mut vol = self.volume_row(&Scope::Admin, &t.volume_id).await?;
        let gigs = vol.size;
        self.check_volume_quota(&actor.project_id, 1, gigs).await?;
        if let (Some(pod_id), Some(bottom)) = (t.pod_id.as_deref(), t.bottom_id.as_deref()) {
            let token = self.delegation.token_for(actor).await?;
            let client = self.pods.client(pod_id).await?;
            let r = client
                .send_as(
                    Some(&token),
                    Method::POST,
                    "volumev3",
                    &tenant_path(
                        &actor.project_id,
                        &format!("/os-volume-transfer/{bottom}/accept"),
                    ),
                    Some(&json!({"accept": {"auth_key": auth_key}})),
                    &[POD_MV],
                )
                .await?;
            if r.status >= 400 {
                return Err(pod_error(r.status, &r.body, Some(bottom), id));
            }
        }
        self.store.delete_transfer(&t.id).await?;
        vol.project_id = actor.project_id.clone();
        vol.user_id = actor.user_id.clone();
        vol.request = json_text(&json!({ "actor": actor }));
        vol.status = "available".into();
        vol.updated_at = now_micros().max(vol.updated_at + 1);
        self.store.update_volume(&vol).await?;
        if !t.no_snapshots {
            for mut s in self.store.volume_snapshots(&vol.id).await? {
                s.project_id = actor.project_id.clone();
                s.user_id = actor.user_id.clone();
                s.updated_at = now_micros().max(s.updated_at + 1);
                self.store.update_snapshot(&s).await?;
            }
        }
        Ok(t)
    }
}
