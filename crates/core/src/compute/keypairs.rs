//! Keypairs: top-authoritative per user; imported public keys only (clients ≥ 2.92 generate
//! keys themselves). Copied into a pod, as the tenant, under the same name when a server
//! there uses one.

use base64::Engine;
use cascade_store::compute::KeypairRow;
use cascade_store::{StoreError, now_micros};
use http::Method;
use md5::{Digest, Md5};
use serde_json::json;

use super::Compute;
use crate::identity::Actor;
use crate::routing_lock::{BottomKey, ensure_bottom};
use crate::{CoreError, Result};

/// `POST /os-keypairs`.
#[derive(Debug, Clone)]
pub struct KeypairCreate {
    pub name: String,
    pub public_key: Option<String>,
    pub key_type: Option<String>,
    /// Admins (≥ 2.10) may create for another user.
    pub user_id: Option<String>,
}

/// `aa:bb:…` MD5 fingerprint of an OpenSSH public key.
pub(crate) fn fingerprint(public_key: &str) -> Option<String> {
    let mut parts = public_key.split_whitespace();
    let _kind = parts.next()?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    let digest = Md5::digest(&blob);
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn missing(name: &str, user_id: &str) -> CoreError {
    CoreError::not_found(format!("Keypair {name} not found for user {user_id}"))
}

impl Compute {
    pub async fn create_keypair(
        &self,
        user_id: &str,
        project_id: &str,
        req: KeypairCreate,
        allow_dots: bool,
    ) -> Result<KeypairRow> {
        let valid = |c: char| {
            c.is_ascii_alphanumeric()
                || c == '-'
                || c == '_'
                || c == ' '
                || (allow_dots && (c == '.' || c == '@'))
        };
        if req.name.is_empty()
            || req.name.len() > 255
            || req.name.trim() != req.name
            || !req.name.chars().all(valid)
        {
            return Err(CoreError::bad_request(
                "Keypair data is invalid: Keypair name contains unsafe characters",
            ));
        }
        let Some(public_key) = req.public_key.filter(|k| !k.trim().is_empty()) else {
            return Err(CoreError::bad_request(
                "Keypair data is invalid: Cascade does not generate keys; provide public_key (clients at microversion 2.92+ generate one themselves)",
            ));
        };
        let key_type = req.key_type.unwrap_or_else(|| "ssh".into());
        let fingerprint = if key_type == "ssh" {
            fingerprint(&public_key).ok_or_else(|| {
                CoreError::bad_request("Keypair data is invalid: failed to generate fingerprint")
            })?
        } else {
            let digest = Md5::digest(public_key.as_bytes());
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let row = KeypairRow {
            user_id: user_id.to_string(),
            name: req.name.clone(),
            project_id: project_id.to_string(),
            public_key,
            fingerprint,
            key_type,
            created_at: now_micros(),
        };
        self.store.insert_keypair(&row).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                CoreError::conflict(format!("Key pair '{}' already exists.", req.name))
            }
            other => other.into(),
        })?;
        Ok(row)
    }

    pub async fn get_keypair(&self, user_id: &str, name: &str) -> Result<KeypairRow> {
        self.store
            .get_keypair(user_id, name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => missing(name, user_id),
                other => other.into(),
            })
    }

    pub async fn list_keypairs(&self, user_id: &str) -> Result<Vec<KeypairRow>> {
        Ok(self.store.list_keypairs(user_id).await?)
    }

    pub async fn delete_keypair(&self, user_id: &str, name: &str) -> Result<()> {
        self.store
            .delete_keypair(user_id, name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => missing(name, user_id),
                other => other.into(),
            })
    }

    /// Copies the keypair into the pod as the tenant (same name). Idempotent.
    pub(crate) async fn ensure_keypair_in_pod(
        &self,
        actor: &Actor,
        name: &str,
        pod_id: &str,
    ) -> Result<String> {
        let kp = self.get_keypair(&actor.user_id, name).await?;
        let client = self.pods.client(pod_id).await?;
        let token = self.delegation.token_for(actor).await?;
        let top_id = format!("keypair:{}:{}", actor.user_id, name);
        let key = BottomKey {
            top_id: &top_id,
            pod_id,
            project_id: &actor.project_id,
            resource_type: "keypair",
        };
        let path = format!("/os-keypairs/{name}");
        ensure_bottom(
            &self.store,
            &key,
            || {
                let (client, token, path) = (client.clone(), token.clone(), path.clone());
                async move {
                    let r = client.send_as(Some(&token), Method::GET, "compute", &path, None, &[]).await?;
                    Ok((r.status == 200).then(|| name.to_string()))
                }
            },
            || {
                let (client, token, kp) = (client.clone(), token.clone(), kp.clone());
                async move {
                    let body = json!({"keypair": {"name": kp.name, "public_key": kp.public_key, "type": kp.key_type}});
                    let r = client
                        .send_as(Some(&token), Method::POST, "compute", "/os-keypairs", Some(&body), &[("OpenStack-API-Version", "compute 2.2")])
                        .await?;
                    match r.status {
                        200 | 201 | 409 => Ok(kp.name),
                        s => Err(CoreError::bad_request(format!("pod refused keypair {}: {s}", kp.name))),
                    }
                }
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_openssh_keys() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbLZ8yQ0Z5cR6F0k6x4F7pX8mH8N1rSxYb0tT2nB1Qm demo";
        let fp = super::fingerprint(key).unwrap();
        assert_eq!(fp.split(':').count(), 16);
        assert!(super::fingerprint("ssh-rsa not-base64!").is_none());
    }
}
