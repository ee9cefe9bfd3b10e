//! The index watcher: every pod is polled on its own (one slow or dead pod never delays the
//! others) for the servers changed since its watermark (`changes-since`), and what changed is
//! copied into the server index. Our own writes update the index at once; the watcher catches
//! what happens in the pods on their own (a server finishing a resize, going to ERROR, being
//! deleted behind Cascade's back).

use std::sync::Arc;

use cascade_model::admin::PodState;
use cascade_store::{from_micros, now_micros};
use http::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Compute;
use super::servers::TOP_ID_KEY;
use crate::Result;

impl Compute {
    /// Polls one pod once; returns how many index rows changed.
    pub async fn watch_pod_once(&self, pod_id: &str) -> Result<usize> {
        let client = self.pods.client(pod_id).await?;
        let mark = self.store.watermark(pod_id, "server").await?.unwrap_or(0);
        let since = cascade_model::time::iso_seconds(from_micros(mark - 2_000_000));
        let started = now_micros();
        let mut path = format!("/servers/detail?all_tenants=1&changes-since={since}&limit=1000");
        let mut changed = 0;
        loop {
            let r = client
                .send(
                    Method::GET,
                    "compute",
                    &path,
                    None,
                    &[("OpenStack-API-Version", "compute 2.73")],
                )
                .await?;
            if r.status != 200 {
                return Err(crate::CoreError::new(
                    crate::ErrorKind::Unavailable,
                    format!("changes-since answered {}", r.status),
                ));
            }
            let v = r.json().unwrap_or(Value::Null);
            let servers = v["servers"].as_array().cloned().unwrap_or_default();
            for b in &servers {
                changed += usize::from(self.apply_watch(pod_id, b).await?);
            }
            let next = v["servers_links"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
                .and_then(|l| l["href"].as_str())
                .and_then(|h| {
                    h.split_once("/servers/detail")
                        .map(|(_, q)| format!("/servers/detail{q}"))
                });
            match next {
                Some(n) if !servers.is_empty() => path = n,
                _ => break,
            }
        }
        self.store.set_watermark(pod_id, "server", started).await?;
        Ok(changed)
    }

    async fn apply_watch(&self, pod_id: &str, b: &Value) -> Result<bool> {
        let bottom_id = b["id"].as_str().unwrap_or_default();
        let top_id = b["metadata"][TOP_ID_KEY]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                b["name"]
                    .as_str()
                    .and_then(|n| n.rsplit_once('@'))
                    .map(|(_, t)| t.to_string())
            });
        let row = match self.store.server_by_bottom(pod_id, bottom_id).await? {
            Some(r) => Some(r),
            None => match &top_id {
                Some(t) => self
                    .store
                    .get_server(t)
                    .await
                    .ok()
                    .filter(|r| r.pod_id.as_deref() == Some(pod_id)),
                None => None,
            },
        };
        let Some(mut row) = row else { return Ok(false) };
        if row.deleted || row.task_state.as_deref() == Some("deleting") {
            return Ok(false);
        }
        match row.bottom_id.as_deref() {
            // The build is still recording it; the saga owns this row for now.
            None => return Ok(false),
            Some(routed) if routed != bottom_id => {
                // It claims the top id (name or metadata) but is not the server the routing
                // names: never adopt it over the routed one.
                tracing::warn!(
                    server = %row.id,
                    pod = %pod_id,
                    routed = %routed,
                    claimant = %bottom_id,
                    "a pod server claims a top server it is not routed to; ignored"
                );
                return Ok(false);
            }
            Some(_) => {}
        }
        if b["status"] == "DELETED" {
            row.status = "ERROR".into();
            row.vm_state = "error".into();
            row.task_state = None;
            row.fault = Some(
                json!({"code": 500, "message": "The server was deleted in its availability zone outside Cascade.",
                       "created": cascade_model::time::iso_seconds(chrono::Utc::now())})
                .to_string(),
            );
            row.updated_at = now_micros();
            self.store.update_server(&row).await?;
            return Ok(true);
        }
        if self.refresh_from_bottom(&mut row, b).await {
            self.store.update_server(&row).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Closes the gap between writing a server row and enqueueing its job (a crash in
    /// between): servers still building without a bottom server get their build job again,
    /// servers marked `deleting` their delete job. Jobs are deduplicated, so this is safe to
    /// run any time. Returns how many jobs it (re)queued.
    pub async fn reconcile(&self) -> Result<usize> {
        use cascade_store::compute::{ServerFilter, ServerPage};
        let mut requeued = 0;
        let mut after = None;
        loop {
            let page = ServerPage {
                sort_column: "created_at",
                descending: false,
                after: after.clone(),
                limit: 500,
            };
            let rows = self
                .store
                .list_servers(&ServerFilter::default(), &page)
                .await?;
            let done = rows.len() < 500;
            for row in rows {
                after = Some(row.clone());
                let job_type = if row.task_state.as_deref() == Some("deleting") {
                    super::saga::DELETE
                } else if row.status == "BUILD" && row.pod_id.is_some() {
                    super::saga::BUILD
                } else {
                    continue;
                };
                self.jobs
                    .enqueue(crate::jobs::NewJob {
                        job_type: job_type.into(),
                        resource_id: row.id.clone(),
                        project_id: row.project_id.clone(),
                        pod_id: row.pod_id.clone(),
                        payload: json!({"server_id": row.id}),
                        max_attempts: None,
                        delay: None,
                    })
                    .await?;
                requeued += 1;
            }
            if done {
                return Ok(requeued);
            }
        }
    }

    /// Runs the watcher until `cancel` fires: each pod is polled in its own task; every 15
    /// rounds (and at start) [`Compute::reconcile`] runs.
    pub async fn run_watcher(self: Arc<Self>, cancel: CancellationToken) {
        let mut round: u64 = 0;
        loop {
            if round.is_multiple_of(15)
                && let Err(e) = self.reconcile().await
            {
                tracing::warn!(error = %e, "server reconcile failed");
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
                    match tokio::time::timeout(timeout, me.watch_pod_once(&pod.pod_id)).await {
                        Ok(Err(e)) => {
                            tracing::debug!(pod = %pod.region_name, error = %e, "watch failed")
                        }
                        Err(_) => tracing::debug!(pod = %pod.region_name, "watch timed out"),
                        Ok(Ok(_)) => {}
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
