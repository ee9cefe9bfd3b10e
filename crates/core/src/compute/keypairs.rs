//! Keypairs: top-authoritative per user; imported public keys, or (below 2.92, without one) an
//! Ed25519 pair generated here (`keygen.rs`) whose private half is returned once and not kept. Copied into a pod, as the tenant, under the same name when a server
//! there uses one (a copy whose public key no longer matches the top's is replaced). Deleting
//! a keypair enqueues a `keypair_delete` job per pod holding a copy, which deletes the copy as
//! the pod's admin and drops its routing row, so a key re-imported under the same name is the
//! one new servers get everywhere.

use std::sync::{Arc, Weak};

use base64::Engine;
use cascade_store::compute::KeypairRow;
use cascade_store::{StoreError, now_micros};
use http::Method;
use md5::{Digest, Md5};
use serde_json::json;

use super::Compute;
use crate::identity::Actor;
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler, NewJob};
use crate::routing_lock::{BottomKey, ensure_bottom, forget};
use crate::{CoreError, ErrorKind, Result};

/// The job deleting one pod's copy of a deleted keypair.
pub(crate) const DELETE: &str = "keypair_delete";

/// The routing top id of a user's keypair.
fn top_id(user_id: &str, name: &str) -> String {
    format!("keypair:{user_id}:{name}")
}

/// Nova microversion of bottom keypair calls (`user_id` on delete needs 2.10).
const POD_MV: (&str, &str) = ("OpenStack-API-Version", "compute 2.10");

pub(crate) fn register(compute: &Arc<Compute>) {
    compute.jobs.register(Arc::new(KeypairJobs {
        compute: Arc::downgrade(compute),
    }));
}

struct KeypairJobs {
    compute: Weak<Compute>,
}

/// What a `keypair_delete` job works on.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct DeleteCopy {
    user_id: String,
    name: String,
    pod_id: String,
}

impl JobHandler for KeypairJobs {
    fn job_type(&self) -> &'static str {
        DELETE
    }

    fn run<'a>(
        &'a self,
        job: &'a Job,
        _ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let compute = self
                .compute
                .upgrade()
                .ok_or_else(|| JobError::Retry("shutting down".into()))?;
            let copy: DeleteCopy = serde_json::from_value(job.payload.clone())
                .map_err(|e| JobError::Fail(format!("bad payload: {e}")))?;
            compute.run_delete_copy(&copy).await
        })
    }
}

/// `POST /os-keypairs`.
#[derive(Debug, Clone)]
pub struct KeypairCreate {
    pub name: String,
    pub public_key: Option<String>,
    pub key_type: Option<String>,
    /// Admins (≥ 2.10) may create for another user.
    pub user_id: Option<String>,
}

/// A new keypair, and the private key when Cascade generated the pair (returned once, never
/// stored).
#[derive(Clone)]
pub struct CreatedKeypair {
    pub row: KeypairRow,
    pub private_key: Option<String>,
}

impl std::fmt::Debug for CreatedKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKeypair")
            .field("row", &self.row)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `aa:bb:…` MD5 fingerprint of an OpenSSH public key.
/// `None` unless the key is an OpenSSH public key whose blob is well formed: length-prefixed
/// fields, the first naming the key's own type, then the fields of that type (so `ssh-rsa JUNK`
/// or a blob of zeros is refused, as Nova's key loading refuses them).
pub(crate) fn fingerprint(public_key: &str) -> Option<String> {
    let mut parts = public_key.split_whitespace();
    let kind = parts.next()?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    let mut fields = Vec::new();
    let mut rest = blob.as_slice();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        fields.push(rest.get(4..4 + len)?);
        rest = &rest[4 + len..];
    }
    if fields.first().copied() != Some(kind.as_bytes()) {
        return None;
    }
    let shaped = match kind {
        // e, n: a modulus of at most 16384 bits.
        "ssh-rsa" => fields.len() == 3 && !fields[2].is_empty() && fields[2].len() <= 2049,
        "ssh-ed25519" => fields.len() == 2 && fields[1].len() == 32,
        "ssh-dss" => fields.len() == 5,
        k if k.starts_with("ecdsa-sha2-") => fields.len() == 3,
        _ => fields.len() >= 2,
    };
    if !shaped {
        return None;
    }
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
    ) -> Result<CreatedKeypair> {
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
        let key_type = req.key_type.unwrap_or_else(|| "ssh".into());
        // Without a public key Nova generates the pair and hands out the private half once.
        let (public_key, private_key) = match req.public_key {
            Some(k) => (k, None),
            None if key_type == "ssh" => {
                let g = super::keygen::generate("Generated-by-Nova");
                (g.public_key, Some(g.private_key))
            }
            None => {
                let (cert, key) =
                    super::x509::generate(&format!("{project_id}-{user_id}"), chrono::Utc::now());
                (cert, Some(key))
            }
        };
        if public_key.trim().is_empty() {
            return Err(CoreError::bad_request(
                "Keypair data is invalid: failed to generate fingerprint",
            ));
        }
        let fingerprint = if key_type == "ssh" {
            fingerprint(&public_key).ok_or_else(|| {
                CoreError::bad_request("Keypair data is invalid: failed to generate fingerprint")
            })?
        } else {
            super::x509::fingerprint(&public_key).ok_or_else(|| {
                CoreError::bad_request("Keypair data is invalid: failed to generate fingerprint")
            })?
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
        Ok(CreatedKeypair { row, private_key })
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

    /// Deletes the keypair, and (as jobs) every pod's copy of it. The jobs are enqueued first:
    /// a crash in between leaves a key whose pod copies are gone (they are made again on use),
    /// never a deleted key whose copies stay behind.
    pub async fn delete_keypair(&self, user_id: &str, name: &str) -> Result<()> {
        let kp = self.get_keypair(user_id, name).await?;
        let top = top_id(user_id, name);
        for r in self.store.routings_of(&top, "keypair").await? {
            self.jobs
                .enqueue(NewJob {
                    job_type: DELETE.into(),
                    resource_id: format!("{}:{top}", r.pod_id),
                    project_id: kp.project_id.clone(),
                    pod_id: Some(r.pod_id.clone()),
                    payload: serde_json::to_value(DeleteCopy {
                        user_id: user_id.to_string(),
                        name: name.to_string(),
                        pod_id: r.pod_id.clone(),
                    })
                    .map_err(|e| CoreError::internal(e.to_string()))?,
                    max_attempts: None,
                    delay: None,
                })
                .await?;
        }
        self.store
            .delete_keypair(user_id, name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => missing(name, user_id),
                other => other.into(),
            })
    }

    /// `keypair_delete`: deletes the pod's copy as the pod's admin, then drops the routing row.
    async fn run_delete_copy(&self, copy: &DeleteCopy) -> Result<(), JobError> {
        let top = top_id(&copy.user_id, &copy.name);
        let key = BottomKey {
            top_id: &top,
            pod_id: &copy.pod_id,
            project_id: "",
            resource_type: "keypair",
        };
        if self
            .store
            .find_routing(&top, &copy.pod_id, "keypair")
            .await
            .map_err(CoreError::from)?
            .is_none()
        {
            return Ok(());
        }
        if self
            .store
            .get_keypair(&copy.user_id, &copy.name)
            .await
            .is_ok()
        {
            // Re-imported since: the copy is checked against it when next used.
            return Ok(());
        }
        let client = self.pods.client(&copy.pod_id).await?;
        let r = client
            .send(
                Method::DELETE,
                "compute",
                &format!(
                    "/os-keypairs/{}?user_id={}",
                    url_encode(&copy.name),
                    url_encode(&copy.user_id)
                ),
                None,
                &[POD_MV],
            )
            .await?;
        match r.status {
            202 | 204 | 404 => {}
            s if s >= 500 || s == 429 || s == 401 => {
                return Err(JobError::Retry(format!("keypair delete: pod answered {s}")));
            }
            s => {
                return Err(JobError::Fail(format!(
                    "keypair delete: pod answered {s}: {}",
                    String::from_utf8_lossy(&r.body)
                )));
            }
        }
        forget(&self.store, &key).await?;
        tracing::info!(keypair = %copy.name, user = %copy.user_id, pod = %copy.pod_id, "pod copy of a deleted keypair removed");
        Ok(())
    }

    /// Copies the keypair into the pod as the tenant (same name). Idempotent. A copy whose
    /// public key differs from the top's (a key deleted and re-imported under the same name
    /// before the pod's copy was removed) is replaced.
    pub(crate) async fn ensure_keypair_in_pod(
        &self,
        actor: &Actor,
        name: &str,
        pod_id: &str,
    ) -> Result<String> {
        let kp = self.get_keypair(&actor.user_id, name).await?;
        for _ in 0..2 {
            let bottom = self.ensure_keypair_copy(actor, &kp, pod_id).await?;
            let client = self.pods.client(pod_id).await?;
            let token = self.delegation.token_for(actor).await?;
            let path = format!("/os-keypairs/{}", url_encode(name));
            let r = client
                .send_as(Some(&token), Method::GET, "compute", &path, None, &[])
                .await?;
            let current = r.status == 200
                && r.json().ok().is_some_and(|v| {
                    v["keypair"]["public_key"].as_str().map(str::trim) == Some(kp.public_key.trim())
                });
            if current {
                return Ok(bottom);
            }
            if r.status == 200 {
                tracing::info!(keypair = %name, pod = %pod_id, "pod copy of a keypair is stale; replacing it");
                let d = client
                    .send_as(Some(&token), Method::DELETE, "compute", &path, None, &[])
                    .await?;
                if !matches!(d.status, 202 | 204 | 404) {
                    return Err(CoreError::new(
                        ErrorKind::Unavailable,
                        format!("pod refused to delete a stale keypair {name}: {}", d.status),
                    ));
                }
            } else if r.status != 404 {
                return Err(CoreError::new(
                    ErrorKind::Unavailable,
                    format!("reading keypair {name} in the pod answered {}", r.status),
                ));
            }
            let top = top_id(&actor.user_id, name);
            forget(
                &self.store,
                &BottomKey {
                    top_id: &top,
                    pod_id,
                    project_id: &actor.project_id,
                    resource_type: "keypair",
                },
            )
            .await?;
        }
        Err(CoreError::new(
            ErrorKind::Unavailable,
            format!("keypair {name} could not be brought up to date in the pod"),
        ))
    }

    async fn ensure_keypair_copy(
        &self,
        actor: &Actor,
        kp: &KeypairRow,
        pod_id: &str,
    ) -> Result<String> {
        let name = kp.name.as_str();
        let client = self.pods.client(pod_id).await?;
        let token = self.delegation.token_for(actor).await?;
        let top_id = top_id(&actor.user_id, name);
        let key = BottomKey {
            top_id: &top_id,
            pod_id,
            project_id: &actor.project_id,
            resource_type: "keypair",
        };
        let path = format!("/os-keypairs/{}", url_encode(name));
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

/// A path or query segment, percent-encoded (keypair names may hold spaces and `@`).
fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
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
        assert!(super::fingerprint("ssh-rsa JUNK nova@ubuntu").is_none());
        let zeros = format!("ssh-rsa {} openstack@ubuntu", "A".repeat(2048));
        assert!(super::fingerprint(&zeros).is_none());
        // The type in the blob must be the one named.
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbLZ8yQ0Z5cR6F0k6x4F7pX8mH8N1rSxYb0tT2nB1Qm";
        assert!(super::fingerprint(ed).is_some());
        assert!(super::fingerprint(&ed.replace("ssh-ed25519", "ssh-rsa")).is_none());
    }
}
