//! The durable job engine of DESIGN.md protocol 2 ("jobs before effects"): callers write a job
//! row ([`JobEngine::enqueue`], deduplicated by `(job_type, resource_id)` among `NEW`/`RUNNING`
//! jobs), and the worker loop ([`JobEngine::start`]) claims due jobs with leases in the
//! database, runs the registered [`JobHandler`] for each under per-pod concurrency limits,
//! renews the lease while it runs, and records the outcome (`SUCCESS`; `NEW` again after an
//! exponential backoff with jitter; `FAIL` once attempts are exhausted or the error is
//! permanent). Nothing lives only in memory: a crashed process's jobs are claimed again by
//! anyone once their lease expires. This module holds the vocabulary; `engine.rs` the public
//! API, `worker.rs` the loop.

mod engine;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use cascade_store::Store;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

pub use cascade_store::jobs::JobFilter;
pub use engine::JobEngine;

use crate::CoreError;

/// A boxed, sendable future (handlers are object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    New,
    Running,
    Success,
    Fail,
}

impl JobStatus {
    /// The stored and shown form: `NEW`, `RUNNING`, `SUCCESS`, `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::New => cascade_store::jobs::NEW,
            JobStatus::Running => cascade_store::jobs::RUNNING,
            JobStatus::Success => cascade_store::jobs::SUCCESS,
            JobStatus::Fail => cascade_store::jobs::FAIL,
        }
    }

    /// Parses a status, ignoring case (the admin API's `status` filter).
    pub fn parse(s: &str) -> Option<JobStatus> {
        [
            JobStatus::New,
            JobStatus::Running,
            JobStatus::Success,
            JobStatus::Fail,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// A UUID4.
    pub id: String,
    pub job_type: String,
    /// What the job works on; `(job_type, resource_id)` is the dedupe key.
    pub resource_id: String,
    pub project_id: String,
    /// The pod whose concurrency limit the job counts against (`None`: the shared no-pod pool).
    pub pod_id: Option<String>,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    /// Runs started so far (each claim counts, including the current one).
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    pub progress: Option<serde_json::Value>,
    /// When the job is (or was) due.
    pub run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_type: String,
    pub resource_id: String,
    pub project_id: String,
    pub pod_id: Option<String>,
    pub payload: serde_json::Value,
    /// Default: [`JobEngineConfig::default_max_attempts`].
    pub max_attempts: Option<u32>,
    /// Run no earlier than this from now.
    pub delay: Option<Duration>,
}

/// How a run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Transient: back off and run again until attempts are exhausted.
    #[error("{0}")]
    Retry(String),
    /// Permanent: the job fails now.
    #[error("{0}")]
    Fail(String),
}

impl From<CoreError> for JobError {
    /// Retryable core errors (pod or database unavailable) retry; the others fail the job.
    /// Jobs are seen by operators only, so they keep the error's detail.
    fn from(err: CoreError) -> Self {
        if err.retryable {
            JobError::Retry(err.full())
        } else {
            JobError::Fail(err.full())
        }
    }
}

impl From<cascade_pod::PodError> for JobError {
    /// Pod failures that may pass (timeouts, 5xx, an open breaker) retry; the others fail.
    fn from(err: cascade_pod::PodError) -> Self {
        if err.is_retryable() {
            JobError::Retry(err.to_string())
        } else {
            JobError::Fail(err.to_string())
        }
    }
}

/// Runs the jobs of one type. Runs must be idempotent: a job may run again after a crash, a
/// lost lease or a retry.
pub trait JobHandler: Send + Sync + 'static {
    fn job_type(&self) -> &'static str;
    fn run<'a>(&'a self, job: &'a Job, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>>;
    /// Called when the job ends in `FAIL`, so the handler can record it on its resource (e.g.
    /// server → `ERROR`). It runs while the engine still holds the job's lease, just before the
    /// row becomes `FAIL`: once per job normally, again only if the process dies in between, so
    /// make it idempotent. `job.status` is already [`JobStatus::Fail`].
    fn on_failed<'a>(&'a self, _job: &'a Job, _error: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// What a running handler can use besides its job.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job's id.
    pub job_id: String,
    /// Cancelled when the process shuts down or the engine loses the job's lease; long
    /// handlers should stop soon after (returning [`JobError::Retry`]).
    pub cancel: CancellationToken,
    store: Store,
    owner: String,
}

impl JobContext {
    /// Records progress on the job row (shown by the admin API). Ignored, with a warning, if
    /// the lease was lost or the database fails.
    pub async fn set_progress(&self, v: serde_json::Value) {
        match self
            .store
            .set_job_progress(&self.job_id, &self.owner, &v.to_string())
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job = %self.job_id, "progress not recorded: lease lost"),
            Err(e) => tracing::warn!(job = %self.job_id, error = %e, "progress not recorded"),
        }
    }

    /// Whether the handler should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Tuning of a [`JobEngine`].
#[derive(Debug, Clone)]
pub struct JobEngineConfig {
    /// Jobs running at once in this process.
    pub concurrency: usize,
    /// Jobs of one pod running at once in this process (jobs without a pod share one such
    /// pool).
    pub per_pod_concurrency: usize,
    /// How long a claim holds a job; renewed every third of it while the handler runs.
    pub lease: Duration,
    /// How often the worker looks for due jobs when nothing wakes it.
    pub poll_interval: Duration,
    /// Retry `n` waits about `backoff_base · 2^(n-1)` (jittered between half and all of it),
    /// at most `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub default_max_attempts: u32,
    /// Unique per process: the lease owner.
    pub owner: String,
}

impl Default for JobEngineConfig {
    fn default() -> Self {
        JobEngineConfig {
            concurrency: 32,
            per_pod_concurrency: 8,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(250),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            default_max_attempts: 8,
            owner: default_owner(),
        }
    }
}

/// `hostname-pid-uuid`.
pub fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "cascade".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings() {
        for s in ["NEW", "running", "Success", "fail"] {
            let st = JobStatus::parse(s).unwrap();
            assert!(st.as_str().eq_ignore_ascii_case(s));
        }
        assert_eq!(JobStatus::parse("DONE"), None);
    }

    #[test]
    fn core_errors_map_to_retry_or_fail() {
        let e: JobError = CoreError::new(crate::ErrorKind::Unavailable, "pod down").into();
        assert_eq!(e, JobError::Retry("pod down".into()));
        let e: JobError = CoreError::bad_request("no").into();
        assert_eq!(e, JobError::Fail("no".into()));
    }

    #[test]
    fn owners_are_unique() {
        assert_ne!(default_owner(), default_owner());
    }
}
