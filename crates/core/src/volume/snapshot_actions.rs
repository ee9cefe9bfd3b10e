//! The admin's snapshot actions, as Cinder's `snapshots/{id}/action`: `os-reset_status`,
//! `os-update_snapshot_status` (status and progress, only along Cinder's allowed transitions)
//! and `os-force_delete`. Each is sent to the snapshot's pod with Cascade's service identity
//! first, then recorded in the index.

use cascade_store::now_micros;
use cascade_store::volumes::SnapshotRow;
use http::Method;
use serde_json::{Value, json};

use super::{POD_MV, VolumeService, pod_error};
use crate::identity::Scope;
use crate::{CoreError, Result};

/// The statuses `os-reset_status` accepts for a snapshot.
const RESET_OK: &[&str] = &[
    "available",
    "error",
    "creating",
    "deleting",
    "error_deleting",
    "backing-up",
    "restoring",
    "unmanaging",
];

impl VolumeService {
    /// `os-reset_status` (admin).
    pub async fn reset_snapshot_status(&self, id: &str, status: &str) -> Result<()> {
        if !RESET_OK.contains(&status) {
            return Err(CoreError::bad_request(format!(
                "Invalid input received: Invalid status {status}."
            )));
        }
        let mut s = self.snapshot_row(&Scope::Admin, id).await?;
        self.snapshot_pod_action(&s, json!({"os-reset_status": {"status": status}}))
            .await?;
        s.status = status.to_string();
        s.updated_at = now_micros().max(s.updated_at + 1);
        self.store.update_snapshot(&s).await?;
        Ok(())
    }

    /// `os-update_snapshot_status`: `creating` may become `available` or `error`, `deleting`
    /// may become `error_deleting`; `progress` is kept as given.
    pub async fn update_snapshot_status(
        &self,
        scope: &Scope,
        id: &str,
        status: &str,
        progress: Option<String>,
    ) -> Result<()> {
        let mut s = self.snapshot_row(scope, id).await?;
        let allowed: &[&str] = match s.status.as_str() {
            "creating" => &["creating", "available", "error"],
            "deleting" => &["deleting", "error_deleting"],
            other => {
                return Err(CoreError::bad_request(format!(
                    "Invalid snapshot: Snapshot status {other} not allowed for update_snapshot_status"
                )));
            }
        };
        if !allowed.contains(&status) {
            return Err(CoreError::bad_request(format!(
                "Invalid snapshot: Provided snapshot status {status} not allowed for snapshot with status {}.",
                s.status
            )));
        }
        let mut args = json!({ "status": status });
        if let Some(p) = &progress {
            args["progress"] = json!(p);
        }
        self.snapshot_pod_action(&s, json!({ "os-update_snapshot_status": args }))
            .await?;
        s.status = status.to_string();
        if progress.is_some() {
            s.progress = progress;
        }
        s.updated_at = now_micros().max(s.updated_at + 1);
        self.store.update_snapshot(&s).await?;
        Ok(())
    }

    /// `os-force_delete` (admin): whatever its status; the delete job forgets the pod's copy.
    pub async fn force_delete_snapshot(&self, id: &str) -> Result<()> {
        let mut s = self.snapshot_row(&Scope::Admin, id).await?;
        self.snapshot_pod_action(&s, json!({"os-force_delete": {}}))
            .await?;
        s.status = "deleting".into();
        s.updated_at = now_micros().max(s.updated_at + 1);
        self.store.update_snapshot(&s).await?;
        self.jobs
            .enqueue(crate::jobs::NewJob {
                job_type: super::jobs::SNAPSHOT_DELETE.into(),
                resource_id: s.id.clone(),
                project_id: s.project_id.clone(),
                pod_id: s.pod_id.clone(),
                payload: json!({"snapshot_id": s.id}),
                max_attempts: Some(20),
                delay: None,
            })
            .await?;
        Ok(())
    }

    /// One snapshot action in its pod, with Cascade's service identity. A snapshot not made
    /// in a pod yet has nothing to change there.
    async fn snapshot_pod_action(&self, s: &SnapshotRow, action: Value) -> Result<()> {
        let (Some(pod_id), Some(bottom)) = (s.pod_id.clone(), s.bottom_id.clone()) else {
            return Ok(());
        };
        let client = self.pods.client(&pod_id).await?;
        let r = client
            .send(
                Method::POST,
                "volumev3",
                &format!("/snapshots/{bottom}/action"),
                Some(&action),
                &[POD_MV],
            )
            .await?;
        if r.status >= 400 {
            return Err(pod_error(r.status, &r.body, Some(&bottom), &s.id));
        }
        Ok(())
    }
}
