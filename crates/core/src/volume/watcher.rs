//! The volume index watcher: every pod is polled on its own (one slow or dead pod never delays
//! the others) for the volumes changed since its watermark (`changes-since`), and what changed
//! is copied into the index (status, size, attachments translated to top server ids). Every
//! few rounds a sweep lists the pod's volume ids and marks index rows whose bottom volume is
//! gone as deleted, each only once the pod answers 404 for it (an empty or short list proves
//! nothing) (Cinder's `changes-since` does not report deleted volumes; a server deleted
//! with `delete_on_termination` takes its volume with it), and a reconcile re-enqueues the jobs
//! of volumes stuck `creating` or `deleting` (a crash between the row and its job).

use std::collections::BTreeSet;
use std::sync::Arc;

use cascade_model::admin::PodState;
use cascade_store::volumes::{VolumeFilter, VolumePage};
use cascade_store::{from_micros, now_micros};
use http::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{POD_MV, TOP_ID_KEY, VolumeService};
use crate::Result;

/// Volumes younger than this are not swept (their bottom may not be listed yet).
const SWEEP_GRACE_US: i64 = 30_000_000;

impl VolumeService {
    /// Polls one pod once; returns how many index rows changed.
    pub async fn watch_pod_once(&self, pod_id: &str) -> Result<usize> {
        let client = self.pods.client(pod_id).await?;
        let mark = self.store.watermark(pod_id, "volume").await?.unwrap_or(0);
        let since = cascade_model::time::iso_seconds(from_micros(mark - 2_000_000));
        let started = now_micros();
        let mut path = format!("/volumes/detail?all_tenants=1&changes-since={since}&limit=1000");
        let mut changed = 0;
        loop {
            let r = client
                .send(Method::GET, "volumev3", &path, None, &[POD_MV])
                .await?;
            if r.status != 200 {
                return Err(crate::CoreError::new(
                    crate::ErrorKind::Unavailable,
                    format!("changes-since answered {}", r.status),
                ));
            }
            let v = r.json().unwrap_or(Value::Null);
            let volumes = v["volumes"].as_array().cloned().unwrap_or_default();
            for b in &volumes {
                changed += usize::from(self.apply_watch(pod_id, b).await?);
            }
            let next = v["volumes_links"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
                .and_then(|l| l["href"].as_str())
                .and_then(|h| {
                    h.split_once("/volumes/detail")
                        .map(|(_, q)| format!("/volumes/detail{q}"))
                });
            match next {
                Some(n) if !volumes.is_empty() => path = n,
                _ => break,
            }
        }
        self.store.set_watermark(pod_id, "volume", started).await?;
        Ok(changed)
    }

    async fn apply_watch(&self, pod_id: &str, b: &Value) -> Result<bool> {
        let bottom_id = b["id"].as_str().unwrap_or_default();
        let row = match self.store.volume_by_bottom(pod_id, bottom_id).await? {
            Some(r) => Some(r),
            None => match b["metadata"][TOP_ID_KEY].as_str() {
                Some(t) => self
                    .store
                    .get_volume(t)
                    .await
                    .ok()
                    .filter(|r| r.pod_id.as_deref() == Some(pod_id) && r.bottom_id.is_some()),
                None => None,
            },
        };
        let Some(mut row) = row else { return Ok(false) };
        if row.deleted || matches!(row.status.as_str(), "deleting" | "creating") {
            return Ok(false); // a job owns the row for now
        }
        if let Some(routed) = row.bottom_id.as_deref()
            && routed != bottom_id
        {
            // It claims the top id in its metadata but is not the volume the routing names:
            // never adopt it over the routed one.
            tracing::warn!(
                volume = %row.id,
                pod = %pod_id,
                routed = %routed,
                claimant = %bottom_id,
                "a pod volume claims a top volume it is not routed to; ignored"
            );
            return Ok(false);
        }
        if self.refresh_from_bottom(&mut row, b).await {
            self.store.update_volume(&row).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Marks index rows of `pod_id` whose bottom volume no longer exists as deleted.
    pub async fn sweep_pod(&self, pod_id: &str) -> Result<usize> {
        let client = self.pods.client(pod_id).await?;
        let mut present = BTreeSet::new();
        let mut path = "/volumes?all_tenants=1&limit=1000".to_string();
        loop {
            let r = client
                .send(Method::GET, "volumev3", &path, None, &[POD_MV])
                .await?;
            if r.status != 200 {
                return Ok(0);
            }
            let v = r.json().unwrap_or(Value::Null);
            let list = v["volumes"].as_array().cloned().unwrap_or_default();
            for b in &list {
                if let Some(id) = b["id"].as_str() {
                    present.insert(id.to_string());
                }
            }
            let next = v["volumes_links"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
                .and_then(|l| l["href"].as_str())
                .and_then(|h| {
                    h.split_once("/volumes")
                        .map(|(_, q)| format!("/volumes{q}"))
                });
            match next {
                Some(n) if !list.is_empty() => path = n,
                _ => break,
            }
        }
        let mut gone = 0;
        let now = now_micros();
        for mut row in self.store.pod_volumes(pod_id).await? {
            let Some(b) = &row.bottom_id else { continue };
            if present.contains(b)
                || matches!(row.status.as_str(), "creating" | "deleting")
                || now - row.updated_at < SWEEP_GRACE_US
            {
                continue;
            }
            // A list can be empty or short (paging, a lost admin role that makes the pod
            // ignore all_tenants): only the pod's 404 for this very volume means it is gone.
            let confirm = client
                .send(
                    Method::GET,
                    "volumev3",
                    &format!("/volumes/{b}"),
                    None,
                    &[POD_MV],
                )
                .await?;
            match confirm.status {
                404 => {}
                200 => {
                    tracing::warn!(volume = %row.id, pod = %pod_id, bottom = %b, "the pod's volume list omitted a volume that exists; not marked deleted");
                    continue;
                }
                other => {
                    tracing::debug!(volume = %row.id, pod = %pod_id, status = other, "cannot confirm a volume is gone; kept");
                    continue;
                }
            }
            tracing::info!(volume = %row.id, pod = %pod_id, "volume gone from its pod");
            self.mark_deleted(&mut row).await?;
            gone += 1;
        }
        Ok(gone)
    }

    /// Re-enqueues the jobs of volumes left `creating` or `deleting` (deduplicated, so safe to
    /// run any time). Returns how many it (re)queued.
    pub async fn reconcile(&self) -> Result<usize> {
        let mut requeued = 0;
        for status in ["creating", "deleting"] {
            let mut after = None;
            loop {
                let rows = self
                    .store
                    .list_volumes(
                        &VolumeFilter {
                            status: Some(status.into()),
                            ..Default::default()
                        },
                        &VolumePage {
                            sort_column: "created_at",
                            descending: false,
                            after: after.clone(),
                            limit: 500,
                        },
                    )
                    .await?;
                let done = rows.len() < 500;
                for row in rows {
                    after = Some(row.clone());
                    // Volumes made for a server are created by its build saga.
                    let for_server = serde_json::from_str::<Value>(&row.request)
                        .ok()
                        .is_some_and(|r| r["server_id"].is_string());
                    if row.pod_id.is_none() || (status == "creating" && for_server) {
                        continue;
                    }
                    let job = if status == "creating" {
                        super::jobs::CREATE
                    } else {
                        super::jobs::DELETE
                    };
                    self.enqueue(job, &row).await?;
                    requeued += 1;
                }
                if done {
                    break;
                }
            }
        }
        Ok(requeued)
    }

    /// Runs the watcher until `cancel` fires: each pod polled in its own task; every 15 rounds
    /// (and at start) the reconcile, and the sweep of every pod.
    pub async fn run_watcher(self: Arc<Self>, cancel: CancellationToken) {
        let mut round: u64 = 0;
        loop {
            let full = round.is_multiple_of(15);
            if full && let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "volume reconcile failed");
            }
            round += 1;
            let pods = self.pods.list().await.unwrap_or_default();
            let mut set = tokio::task::JoinSet::new();
            for pod in pods {
                if matches!(pod.state, PodState::Down) {
                    continue;
                }
                let me = self.clone();
                set.spawn(async move {
                    let timeout = me.config.watch_interval * 5;
                    let work = async {
                        me.watch_pod_once(&pod.pod_id).await?;
                        if full {
                            me.sweep_pod(&pod.pod_id).await?;
                        }
                        Ok::<_, crate::CoreError>(())
                    };
                    match tokio::time::timeout(timeout, work).await {
                        Ok(Err(e)) => {
                            tracing::debug!(pod = %pod.region_name, error = %e, "volume watch failed")
                        }
                        Err(_) => tracing::debug!(pod = %pod.region_name, "volume watch timed out"),
                        Ok(Ok(())) => {}
                    }
                });
            }
            tokio::select! {
                _ = cancel.cancelled() => { set.abort_all(); return; }
                _ = async { while set.join_next().await.is_some() {} } => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.config.watch_interval) => {}
            }
        }
    }
}
