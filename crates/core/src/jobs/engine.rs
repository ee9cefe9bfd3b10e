//! [`JobEngine`]'s public face: handler registration, enqueue with dedupe, the admin operations
//! (get, list, redo, delete with Tricircle's rules), `wait_idle` for tests, and the engine's
//! metrics. The worker loop that runs jobs is in `worker.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use cascade_store::jobs::{Delete, JobRow, NewJobRow, Redo};
use cascade_store::{Store, StoreError, from_micros, now_micros};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::Notify;

use super::{Job, JobEngineConfig, JobFilter, JobHandler, JobStatus, NewJob};
use crate::{CoreError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RunLabels {
    pub(super) r#type: String,
    /// `success`, `retry`, `fail` or `lost` (the lease was lost; someone else owns the job).
    pub(super) outcome: String,
}

#[derive(Debug, Default)]
pub(super) struct JobMetrics {
    pub(super) runs: Family<RunLabels, Counter>,
    pub(super) running: Gauge,
    pub(super) due: Gauge,
}

impl JobMetrics {
    pub(super) fn count(&self, job_type: &str, outcome: &str) {
        self.runs
            .get_or_create(&RunLabels {
                r#type: job_type.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

/// The job engine: one per process, shared (`Arc`) by whoever enqueues and by the worker loop.
pub struct JobEngine {
    pub(super) store: Store,
    pub(super) config: JobEngineConfig,
    pub(super) handlers: RwLock<HashMap<String, Arc<dyn JobHandler>>>,
    /// Wakes the worker loop (a job was enqueued or redone, a handler registered).
    pub(super) wake: Notify,
    /// Jobs this process is running (handler or `on_failed`).
    pub(super) active: AtomicUsize,
    pub(super) metrics: JobMetrics,
    /// Job types without a handler here, and when that was last logged.
    pub(super) warned: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for JobEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobEngine")
            .field("config", &self.config)
            .field("job_types", &self.job_types())
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

pub(super) fn job_from_row(r: JobRow) -> Job {
    let json = |s: &str| {
        serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_string()))
    };
    Job {
        status: JobStatus::parse(&r.status).unwrap_or(JobStatus::Fail),
        payload: json(&r.payload),
        progress: r.progress.as_deref().map(json),
        attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
        max_attempts: u32::try_from(r.max_attempts).unwrap_or(u32::MAX),
        run_at: from_micros(r.run_at),
        created_at: from_micros(r.created_at),
        updated_at: from_micros(r.updated_at),
        id: r.id,
        job_type: r.job_type,
        resource_id: r.resource_id,
        project_id: r.project_id,
        pod_id: r.pod_id,
        last_error: r.last_error,
    }
}

fn not_found(id: &str) -> CoreError {
    CoreError::not_found(format!("Job {id} could not be found"))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl JobEngine {
    pub fn new(store: Store, config: JobEngineConfig) -> JobEngine {
        JobEngine {
            store,
            config,
            handlers: RwLock::new(HashMap::new()),
            wake: Notify::new(),
            active: AtomicUsize::new(0),
            metrics: JobMetrics::default(),
            warned: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &JobEngineConfig {
        &self.config
    }

    /// Registers the handler of a job type (replacing an earlier one), before or after
    /// [`JobEngine::start`]. Only registered types are claimed by this process.
    pub fn register(&self, handler: Arc<dyn JobHandler>) {
        let job_type = handler.job_type().to_string();
        let replaced = self
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_type.clone(), handler);
        if replaced.is_some() {
            tracing::warn!(%job_type, "job handler replaced");
        }
        self.wake.notify_one();
    }

    /// The registered job types, sorted.
    pub fn job_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        types.sort();
        types
    }

    pub(super) fn handler(&self, job_type: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(job_type)
            .cloned()
    }

    /// Writes a `NEW` job (due after `delay`) and wakes the worker. If a `NEW` or `RUNNING` job
    /// with the same `(job_type, resource_id)` exists, returns it instead (its payload wins).
    pub async fn enqueue(&self, job: NewJob) -> Result<Job> {
        if job.job_type.is_empty() || job.resource_id.is_empty() {
            return Err(CoreError::bad_request(
                "a job needs a job_type and a resource_id",
            ));
        }
        let max_attempts = job.max_attempts.unwrap_or(self.config.default_max_attempts);
        if max_attempts == 0 {
            return Err(CoreError::bad_request("max_attempts must be at least 1"));
        }
        let row = NewJobRow {
            id: uuid::Uuid::new_v4().to_string(),
            job_type: job.job_type,
            resource_id: job.resource_id,
            project_id: job.project_id,
            pod_id: job.pod_id,
            payload: job.payload.to_string(),
            max_attempts: i64::from(max_attempts),
            run_at: now_micros().saturating_add(job.delay.map(micros).unwrap_or(0)),
        };
        let (row, inserted) = self.store.enqueue_job(&row).await?;
        if inserted {
            tracing::debug!(job = %row.id, job_type = %row.job_type, resource = %row.resource_id, "job enqueued");
            self.wake.notify_one();
        }
        Ok(job_from_row(row))
    }

    pub async fn get(&self, id: &str) -> Result<Job> {
        match self.store.get_job(id).await {
            Ok(row) => Ok(job_from_row(row)),
            Err(StoreError::NotFound) => Err(not_found(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Jobs matching `filter` (its `status` in any case), newest first, at most `limit`,
    /// after the job `marker` (unknown marker: 400).
    pub async fn list(
        &self,
        filter: &JobFilter,
        limit: i64,
        marker: Option<&str>,
    ) -> Result<Vec<Job>> {
        let mut filter = filter.clone();
        if let Some(s) = &filter.status {
            let status = JobStatus::parse(s).ok_or_else(|| {
                CoreError::bad_request(format!(
                    "Invalid status {s:?}: use one of NEW, RUNNING, SUCCESS, FAIL"
                ))
            })?;
            filter.status = Some(status.as_str().to_string());
        }
        if limit <= 0 {
            return Err(CoreError::bad_request("limit must be a positive integer"));
        }
        match self.store.list_jobs(&filter, limit, marker).await {
            Ok(rows) => Ok(rows.into_iter().map(job_from_row).collect()),
            Err(StoreError::NotFound) => Err(CoreError::bad_request(format!(
                "marker {} does not exist",
                marker.unwrap_or_default()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Tricircle's redo: a `NEW` or `FAIL` job runs now (a `FAIL` job with its attempts reset);
    /// `RUNNING` and `SUCCESS` jobs are a 400; a `FAIL` job whose resource already has another
    /// active job is a 409.
    pub async fn redo(&self, id: &str) -> Result<Job> {
        match self.store.redo_job(id).await {
            Ok(Redo::Done(row)) => {
                self.wake.notify_one();
                Ok(job_from_row(row))
            }
            Ok(Redo::NotAllowed(row)) => Err(CoreError::bad_request(format!(
                "Job {id} is {}: only NEW or FAIL jobs can be redone",
                row.status
            ))),
            Err(StoreError::NotFound) => Err(not_found(id)),
            Err(StoreError::Conflict(_)) => Err(CoreError::conflict(format!(
                "Job {id} cannot be redone: another job for its resource is queued or running"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a `NEW` or `FAIL` job; `RUNNING` and `SUCCESS` jobs are a 400.
    /// Before undoing what jobs of `job_type` on `resource_id` make (a delete after a create):
    /// cancels those still queued, and asks the caller to retry while one runs.
    pub async fn cancel_or_wait(
        &self,
        job_type: &str,
        resource_id: &str,
    ) -> std::result::Result<(), super::JobError> {
        let filter = super::JobFilter {
            job_type: Some(job_type.to_string()),
            resource_id: Some(resource_id.to_string()),
            ..Default::default()
        };
        for j in self.list(&filter, 10, None).await? {
            match j.status {
                super::JobStatus::New => {
                    let _ = self.delete(&j.id).await;
                }
                super::JobStatus::Running => {
                    return Err(super::JobError::Retry(format!(
                        "{job_type} of {resource_id} still running"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> Result<()> {
        match self.store.delete_job(id).await {
            Ok(Delete::Done) => Ok(()),
            Ok(Delete::NotAllowed(status)) => Err(CoreError::bad_request(format!(
                "Job {id} is {status}: only NEW or FAIL jobs can be deleted"
            ))),
            Err(StoreError::NotFound) => Err(not_found(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// For tests: waits until this process runs no job and no job of a type registered here
    /// is `RUNNING` (in any process) or `NEW` and due before the timeout ends. True if that
    /// happened within `timeout`.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let horizon = now_micros().saturating_add(micros(timeout));
        loop {
            if self.active.load(Ordering::SeqCst) == 0 {
                let types = self.job_types();
                if types.is_empty() {
                    return true;
                }
                match self.store.count_pending_jobs(horizon, &types).await {
                    Ok(0) if self.active.load(Ordering::SeqCst) == 0 => return true,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "wait_idle: cannot count jobs"),
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Registers `cascade_jobs_total{type,outcome}` (finished runs), `cascade_jobs_running`
    /// (jobs this process runs) and `cascade_jobs_due` (due jobs of the types registered here,
    /// as last seen by the worker).
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "cascade_jobs",
            "Job runs by type and outcome (success, retry, fail, lost)",
            self.metrics.runs.clone(),
        );
        registry.register(
            "cascade_jobs_running",
            "Jobs running in this process",
            self.metrics.running.clone(),
        );
        registry.register(
            "cascade_jobs_due",
            "Due jobs waiting to be claimed (types handled by this process)",
            self.metrics.due.clone(),
        );
    }
}
