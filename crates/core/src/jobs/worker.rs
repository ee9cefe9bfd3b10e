//! The worker loop of [`JobEngine`]: look at what is due per pod, claim only as many jobs per
//! pod as this process can start now (per-pod and total limits, fair share across pods), run
//! each in its own task with a lease heartbeat, and record the outcome only while the lease is
//! still held. On shutdown: stop claiming, cancel the handlers' tokens, wait briefly, and leave
//! whatever is unfinished to lease expiry.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use cascade_store::jobs::{Claim, PodScope};
use cascade_store::now_micros;
use rand::Rng;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::engine::job_from_row;
use super::{Job, JobContext, JobEngine, JobError, JobHandler, JobStatus};

/// The concurrency pool a job counts against: its pod, or the shared no-pod pool.
type PodKey = Option<String>;

/// How often an unhandled job type is logged.
const UNHANDLED_WARN_EVERY: Duration = Duration::from_secs(300);
/// Longest wait for running handlers on shutdown (never more than the lease).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Aborts the task when dropped, so a handler never outlives the job task that watches it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Counts a job as running in this process until dropped (also when its task is aborted).
struct Active(Arc<JobEngine>);

impl Active {
    fn new(engine: &Arc<JobEngine>) -> Active {
        engine.active.fetch_add(1, Ordering::SeqCst);
        engine.metrics.running.inc();
        Active(engine.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.metrics.running.dec();
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the loop knows about its running tasks.
#[derive(Default)]
struct Slots {
    tasks: JoinSet<()>,
    pods: HashMap<tokio::task::Id, PodKey>,
    per_pod: HashMap<PodKey, usize>,
}

impl Slots {
    fn release(&mut self, finished: Result<(tokio::task::Id, ()), JoinError>) {
        let id = match finished {
            Ok((id, ())) => id,
            Err(e) => {
                if e.is_panic() {
                    tracing::error!(error = %e, "job task panicked");
                }
                e.id()
            }
        };
        if let Some(key) = self.pods.remove(&id)
            && let Some(n) = self.per_pod.get_mut(&key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_pod.remove(&key);
            }
        }
    }

    fn reap(&mut self) {
        while let Some(finished) = self.tasks.try_join_next_with_id() {
            self.release(finished);
        }
    }
}

fn panic_message(e: JoinError) -> String {
    if e.is_cancelled() {
        return "the handler was cancelled".into();
    }
    let payload = e.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("the handler panicked: {text}")
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl JobEngine {
    /// Starts the worker loop; it runs until `cancel` is cancelled, then stops claiming, cancels
    /// the running handlers' tokens, waits briefly for them and returns (unfinished jobs are
    /// taken again by anyone after their lease expires).
    pub fn start(self: Arc<Self>, cancel: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run_loop(cancel))
    }

    async fn run_loop(self: Arc<Self>, cancel: CancellationToken) {
        tracing::debug!(owner = %self.config.owner, "job worker started");
        let mut slots = Slots::default();
        let mut failures: u32 = 0;
        loop {
            slots.reap();
            if cancel.is_cancelled() {
                break;
            }
            let claimed = match self.poll_once(&cancel, &mut slots).await {
                Ok(n) => {
                    failures = 0;
                    n
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, "job worker cannot claim jobs");
                    0
                }
            };
            if claimed > 0 {
                continue;
            }
            let pause = self
                .config
                .poll_interval
                .saturating_mul(1 << failures.min(5));
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                Some(finished) = slots.tasks.join_next_with_id(), if !slots.tasks.is_empty() => {
                    slots.release(finished);
                }
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // Shutdown: handlers saw their tokens cancelled (children of `cancel`).
        let grace = self.config.lease.min(SHUTDOWN_GRACE);
        let drained = tokio::time::timeout(grace, async {
            while let Some(finished) = slots.tasks.join_next_with_id().await {
                slots.release(finished);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                running = slots.tasks.len(),
                "jobs still running at shutdown are left to lease expiry"
            );
            slots.tasks.abort_all();
            while slots.tasks.join_next().await.is_some() {}
        }
        tracing::debug!(owner = %self.config.owner, "job worker stopped");
    }

    /// One look at the due jobs: claims what can start now and spawns it. Returns how many.
    async fn poll_once(
        self: &Arc<Self>,
        cancel: &CancellationToken,
        slots: &mut Slots,
    ) -> cascade_store::Result<usize> {
        let handled = self.job_types();
        let groups = self.store.due_jobs(now_micros()).await?;
        // Per pool: due jobs of handled types and the oldest run_at.
        let mut pools: HashMap<PodKey, (i64, i64)> = HashMap::new();
        let mut due_total = 0;
        for g in groups {
            if handled.binary_search(&g.job_type).is_err() {
                self.warn_unhandled(&g.job_type, g.due);
                continue;
            }
            due_total += g.due;
            let e = pools.entry(g.pod_id).or_insert((0, i64::MAX));
            e.0 += g.due;
            e.1 = e.1.min(g.first_run_at);
        }
        self.metrics.due.set(due_total);
        let mut free = self.config.concurrency.saturating_sub(slots.tasks.len());
        if free == 0 || pools.is_empty() {
            return Ok(0);
        }
        let per_pod = self.config.per_pod_concurrency.max(1);
        let mut order: Vec<(PodKey, usize, i64)> = pools
            .into_iter()
            .filter_map(|(key, (due, first))| {
                let room = per_pod.saturating_sub(slots.per_pod.get(&key).copied().unwrap_or(0));
                (room > 0).then(|| (key, room.min(usize::try_from(due).unwrap_or(0)), first))
            })
            .collect();
        if order.is_empty() {
            return Ok(0);
        }
        order.sort_by_key(|(_, _, first)| *first);
        let share = free.div_ceil(order.len()).max(1);
        let mut claimed = 0;
        for (key, room, _) in order {
            let n = room.min(share).min(free);
            if n == 0 {
                continue;
            }
            let now = now_micros();
            let scope = match &key {
                Some(pod) => PodScope::Pod(pod),
                None => PodScope::NoPod,
            };
            let rows = self
                .store
                .claim_jobs(&Claim {
                    owner: &self.config.owner,
                    now,
                    lease_until: now.saturating_add(micros(self.config.lease)),
                    limit: i64::try_from(n).unwrap_or(i64::MAX),
                    pod: scope,
                    job_types: &handled,
                })
                .await?;
            for row in rows {
                let job = job_from_row(row);
                let Some(handler) = self.handler(&job.job_type) else {
                    // Registered handlers are never removed; this cannot happen.
                    continue;
                };
                let active = Active::new(self);
                let token = cancel.child_token();
                let engine = self.clone();
                let handle = slots.tasks.spawn(async move {
                    let _active = active;
                    engine.run_job(job, handler, token).await;
                });
                slots.pods.insert(handle.id(), key.clone());
                *slots.per_pod.entry(key.clone()).or_default() += 1;
                free -= 1;
                claimed += 1;
            }
        }
        Ok(claimed)
    }

    fn warn_unhandled(&self, job_type: &str, due: i64) {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        let last = warned.get(job_type).copied();
        if last.is_none_or(|t| now.duration_since(t) >= UNHANDLED_WARN_EVERY) {
            warned.insert(job_type.to_string(), now);
            tracing::warn!(%job_type, due, "due jobs of a type this process has no handler for; they stay NEW");
        }
    }

    /// The delay before retry number `attempts` (1-based): `base · 2^(attempts-1)` capped at
    /// `backoff_max`, jittered between half and all of it.
    pub(super) fn backoff(&self, attempts: u32) -> Duration {
        let exp = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
        let full = self
            .config
            .backoff_base
            .saturating_mul(exp)
            .min(self.config.backoff_max);
        let half = full / 2;
        let jitter = rand::rng().random_range(0..=micros(full - half).max(0));
        half + Duration::from_micros(u64::try_from(jitter).unwrap_or(0))
    }

    /// Runs `fut` while renewing the job's lease every third of the lease. `None` when the
    /// lease was lost (another process owns the job now): the job's token is cancelled and
    /// `fut` dropped.
    async fn with_lease<F: Future>(
        &self,
        job_id: &str,
        token: &CancellationToken,
        fut: F,
    ) -> Option<F::Output> {
        tokio::pin!(fut);
        let every = (self.config.lease / 3).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                out = &mut fut => return Some(out),
                _ = tick.tick() => {
                    let until = now_micros().saturating_add(micros(self.config.lease));
                    match self.store.renew_job_lease(job_id, &self.config.owner, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job = %job_id, "job lease lost; abandoning this run");
                            token.cancel();
                            return None;
                        }
                        Err(e) => tracing::warn!(job = %job_id, error = %e, "cannot renew job lease"),
                    }
                }
            }
        }
    }

    /// Records an outcome, retrying briefly on database errors. `Some(held)` tells whether the
    /// lease was still held; `None` that the database kept failing (the job will be taken again
    /// after its lease expires).
    async fn record<F, Fut>(&self, job: &Job, what: &str, f: F) -> Option<bool>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = cascade_store::Result<bool>>,
    {
        for attempt in 0..4u32 {
            match f().await {
                Ok(held) => return Some(held),
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "cannot record job {what}");
                    tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(attempt)).await;
                }
            }
        }
        None
    }

    async fn run_job(
        self: Arc<Self>,
        job: Job,
        handler: Arc<dyn JobHandler>,
        token: CancellationToken,
    ) {
        let ctx = JobContext {
            job_id: job.id.clone(),
            cancel: token.clone(),
            store: self.store.clone(),
            owner: self.config.owner.clone(),
        };
        let outcome = if job.attempts > job.max_attempts {
            // Claimed again after its lease expired on every allowed attempt (a process died
            // while running it each time).
            Some(Err(JobError::Fail(format!(
                "abandoned after {} attempts: the lease expired while it ran",
                job.max_attempts
            ))))
        } else {
            let (h, j, c) = (handler.clone(), job.clone(), ctx.clone());
            let run = AbortOnDrop(tokio::spawn(async move { h.run(&j, &c).await }));
            self.with_lease(&job.id, &token, run)
                .await
                .map(|joined| joined.unwrap_or_else(|e| Err(JobError::Retry(panic_message(e)))))
        };
        let Some(outcome) = outcome else {
            self.metrics.count(&job.job_type, "lost");
            return;
        };
        let (id, owner) = (job.id.as_str(), self.config.owner.as_str());
        let (outcome_label, held) = match outcome {
            Ok(()) => {
                tracing::debug!(job = %id, job_type = %job.job_type, "job succeeded");
                let held = self
                    .record(&job, "success", || self.store.complete_job(id, owner))
                    .await;
                ("success", held)
            }
            Err(JobError::Retry(msg)) if job.attempts < job.max_attempts => {
                let delay = self.backoff(job.attempts);
                tracing::info!(job = %id, job_type = %job.job_type, attempts = job.attempts, ?delay, error = %msg, "job will be retried");
                let run_at = now_micros().saturating_add(micros(delay));
                let held = self
                    .record(&job, "retry", || {
                        self.store.retry_job(id, owner, run_at, &msg)
                    })
                    .await;
                ("retry", held)
            }
            Err(JobError::Retry(msg) | JobError::Fail(msg)) => {
                tracing::error!(job = %id, job_type = %job.job_type, attempts = job.attempts, error = %msg, "job failed for good");
                let mut failed = job.clone();
                failed.status = JobStatus::Fail;
                failed.last_error = Some(msg.clone());
                let (h, e) = (handler.clone(), msg.clone());
                let notify = AbortOnDrop(tokio::spawn(async move {
                    h.on_failed(&failed, &e).await;
                }));
                match self.with_lease(id, &token, notify).await {
                    None => {
                        self.metrics.count(&job.job_type, "lost");
                        return;
                    }
                    Some(Err(e)) => {
                        tracing::error!(job = %id, error = %panic_message(e), "on_failed did not complete");
                    }
                    Some(Ok(())) => {}
                }
                let held = self
                    .record(&job, "failure", || self.store.fail_job(id, owner, &msg))
                    .await;
                ("fail", held)
            }
        };
        match held {
            Some(true) => self.metrics.count(&job.job_type, outcome_label),
            Some(false) => {
                tracing::warn!(job = %id, "job outcome discarded: the lease was lost");
                self.metrics.count(&job.job_type, "lost");
            }
            None => {}
        }
    }
}
