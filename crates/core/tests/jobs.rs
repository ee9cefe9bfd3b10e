//! The job engine against real databases (SQLite and PostgreSQL, a private schema per case):
//! success, retries with backoff, exhausted attempts and permanent failures (with `on_failed`
//! once), panics, dedupe, redo, two engines on separate pools sharing one database (every job
//! runs exactly once), crash recovery after lease expiry, lease renewal for long jobs, and the
//! per-pod limits with a slow pod that must not starve the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cascade_core::jobs::{
    BoxFuture, Job, JobContext, JobEngine, JobEngineConfig, JobError, JobFilter, JobHandler,
    JobStatus, NewJob,
};
use cascade_store::Store;
use cascade_store::testing::TestDb;
use serde_json::json;
use tokio_util::sync::CancellationToken;

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = cascade_store::testing::TestDb::sqlite().await.expect("sqlite test db");
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = cascade_store::testing::TestDb::postgres()
                        .await
                        .expect("PostgreSQL test db (set CASCADE_TEST_POSTGRES_URL; .ci/run starts the server)");
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

both_backends!(
    success_and_metrics,
    retry_then_success,
    attempts_exhausted_fail_once,
    permanent_fail_and_redo,
    dedupe_and_unhandled_types,
    two_engines_run_each_job_once,
    crash_recovery_after_lease_expiry,
    heartbeat_keeps_long_jobs,
    per_pod_limit,
    slow_pod_does_not_starve_others,
);

const IDLE: Duration = Duration::from_secs(20);

fn config(owner: &str) -> JobEngineConfig {
    JobEngineConfig {
        concurrency: 16,
        per_pod_concurrency: 4,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        default_max_attempts: 3,
        owner: owner.into(),
    }
}

/// A second pool on the same database, as another process would have.
async fn second_store(db: &TestDb) -> Store {
    Store::connect(&db.url, db.schema.as_deref())
        .await
        .expect("second pool")
}

fn new_job(job_type: &str, resource: &str, payload: serde_json::Value) -> NewJob {
    NewJob {
        job_type: job_type.into(),
        resource_id: resource.into(),
        project_id: "p1".into(),
        pod_id: None,
        payload,
        max_attempts: None,
        delay: None,
    }
}

/// Fails or panics on the first `fail_times` runs of a job (`mode`: `retry`, `fail`, `panic`),
/// then succeeds; counts runs and `on_failed` calls per job.
#[derive(Default)]
struct Scripted {
    runs: Mutex<HashMap<String, u32>>,
    failed: Mutex<HashMap<String, (u32, String, JobStatus)>>,
}

impl Scripted {
    fn runs(&self, id: &str) -> u32 {
        self.runs.lock().unwrap().get(id).copied().unwrap_or(0)
    }
    fn failed(&self, id: &str) -> Option<(u32, String, JobStatus)> {
        self.failed.lock().unwrap().get(id).cloned()
    }
}

impl JobHandler for Scripted {
    fn job_type(&self) -> &'static str {
        "scripted"
    }
    fn run<'a>(&'a self, job: &'a Job, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let n = {
                let mut runs = self.runs.lock().unwrap();
                let n = runs.entry(job.id.clone()).or_default();
                *n += 1;
                *n
            };
            assert!(job.attempts >= 1 && job.attempts <= n, "the claim counted");
            ctx.set_progress(json!({"run": n})).await;
            let fail_times = job.payload["fail_times"].as_u64().unwrap_or(0) as u32;
            if n <= fail_times {
                match job.payload["mode"].as_str() {
                    Some("fail") => return Err(JobError::Fail(format!("permanent {n}"))),
                    Some("panic") => panic!("handler bug {n}"),
                    _ => return Err(JobError::Retry(format!("transient {n}"))),
                }
            }
            Ok(())
        })
    }
    fn on_failed<'a>(&'a self, job: &'a Job, error: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut failed = self.failed.lock().unwrap();
            let e = failed
                .entry(job.id.clone())
                .or_insert((0, String::new(), job.status));
            e.0 += 1;
            e.1 = error.to_string();
            e.2 = job.status;
        })
    }
}

async fn engine_with(
    store: Store,
    owner: &str,
    handler: Arc<dyn JobHandler>,
) -> (
    Arc<JobEngine>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let engine = Arc::new(JobEngine::new(store, config(owner)));
    engine.register(handler);
    let cancel = CancellationToken::new();
    let task = engine.clone().start(cancel.clone());
    (engine, cancel, task)
}

async fn stop(cancel: CancellationToken, task: tokio::task::JoinHandle<()>) {
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the worker stops promptly")
        .unwrap();
}

async fn success_and_metrics(db: &TestDb) {
    let h = Arc::new(Scripted::default());
    let (engine, cancel, task) = engine_with(db.store.clone(), "a", h.clone()).await;
    let mut registry = prometheus_client::registry::Registry::default();
    engine.register_metrics(&mut registry);
    let job = engine
        .enqueue(new_job("scripted", "r1", json!({})))
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::New);
    assert_eq!(job.max_attempts, 3);
    assert!(engine.wait_idle(IDLE).await);
    let done = engine.get(&job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Success);
    assert_eq!(done.attempts, 1);
    assert_eq!(done.progress, Some(json!({"run": 1})));
    assert_eq!(done.payload, json!({}));
    assert_eq!(h.runs(&job.id), 1);
    assert!(h.failed(&job.id).is_none());
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"cascade_jobs_total{type="scripted",outcome="success"} 1"#),
        "{text}"
    );
    assert!(text.contains("cascade_jobs_running 0"), "{text}");
    stop(cancel, task).await;
    assert_eq!(
        engine.get("nope").await.unwrap_err().kind,
        cascade_core::ErrorKind::NotFound
    );
}

async fn retry_then_success(db: &TestDb) {
    let h = Arc::new(Scripted::default());
    let (engine, cancel, task) = engine_with(db.store.clone(), "a", h.clone()).await;
    let mut retried = new_job("scripted", "r1", json!({"fail_times": 2}));
    retried.max_attempts = Some(5);
    let retried = engine.enqueue(retried).await.unwrap();
    let panicked = engine
        .enqueue(new_job(
            "scripted",
            "r2",
            json!({"fail_times": 1, "mode": "panic"}),
        ))
        .await
        .unwrap();
    assert!(engine.wait_idle(IDLE).await);
    let done = engine.get(&retried.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Success);
    assert_eq!(done.attempts, 3);
    assert_eq!(done.last_error.as_deref(), Some("transient 2"));
    assert_eq!(h.runs(&retried.id), 3);
    let done = engine.get(&panicked.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Success, "a panic is retried");
    assert_eq!(done.attempts, 2);
    assert!(
        done.last_error
            .as_deref()
            .unwrap()
            .contains("handler bug 1"),
        "{:?}",
        done.last_error
    );
    assert!(h.failed(&retried.id).is_none());
    stop(cancel, task).await;
}

async fn attempts_exhausted_fail_once(db: &TestDb) {
    let h = Arc::new(Scripted::default());
    let (engine, cancel, task) = engine_with(db.store.clone(), "a", h.clone()).await;
    let job = engine
        .enqueue(new_job("scripted", "r1", json!({"fail_times": 100})))
        .await
        .unwrap();
    assert!(engine.wait_idle(IDLE).await);
    let done = engine.get(&job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Fail);
    assert_eq!(done.attempts, 3);
    assert_eq!(done.last_error.as_deref(), Some("transient 3"));
    assert_eq!(h.runs(&job.id), 3);
    assert_eq!(
        h.failed(&job.id),
        Some((1, "transient 3".to_string(), JobStatus::Fail)),
        "on_failed once, with the last error"
    );
    // Nothing more happens to a failed job.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.runs(&job.id), 3);
    assert_eq!(h.failed(&job.id).unwrap().0, 1);
    stop(cancel, task).await;
}

async fn permanent_fail_and_redo(db: &TestDb) {
    let h = Arc::new(Scripted::default());
    let (engine, cancel, task) = engine_with(db.store.clone(), "a", h.clone()).await;
    let job = engine
        .enqueue(new_job(
            "scripted",
            "r1",
            json!({"fail_times": 1, "mode": "fail"}),
        ))
        .await
        .unwrap();
    assert!(engine.wait_idle(IDLE).await);
    let done = engine.get(&job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Fail);
    assert_eq!(done.attempts, 1, "a permanent error is not retried");
    assert_eq!(done.last_error.as_deref(), Some("permanent 1"));
    assert_eq!(h.failed(&job.id).unwrap().0, 1);
    // A FAIL job can be deleted.
    engine.delete(&done.id).await.unwrap();
    assert_eq!(
        engine.get(&done.id).await.unwrap_err().kind,
        cascade_core::ErrorKind::NotFound
    );
    assert_eq!(
        engine.delete(&done.id).await.unwrap_err().kind,
        cascade_core::ErrorKind::NotFound
    );
    let job = engine
        .enqueue(new_job(
            "scripted",
            "r2",
            json!({"fail_times": 1, "mode": "fail"}),
        ))
        .await
        .unwrap();
    assert!(engine.wait_idle(IDLE).await);
    assert_eq!(engine.get(&job.id).await.unwrap().status, JobStatus::Fail);
    let redone = engine.redo(&job.id).await.unwrap();
    assert_eq!(redone.status, JobStatus::New);
    assert_eq!(redone.attempts, 0);
    assert!(engine.wait_idle(IDLE).await);
    let done = engine.get(&job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Success, "the redo ran it again");
    assert_eq!(done.attempts, 1, "attempts start over after a redo");
    assert_eq!(h.runs(&job.id), 2);
    let err = engine.redo(&job.id).await.unwrap_err();
    assert_eq!(err.kind, cascade_core::ErrorKind::BadRequest);
    let err = engine.delete(&job.id).await.unwrap_err();
    assert_eq!(err.kind, cascade_core::ErrorKind::BadRequest);
    stop(cancel, task).await;
}

async fn dedupe_and_unhandled_types(db: &TestDb) {
    let h = Arc::new(Scripted::default());
    // Enqueue before the worker starts.
    let engine = Arc::new(JobEngine::new(db.store.clone(), config("a")));
    engine.register(h.clone());
    let a = engine
        .enqueue(new_job("scripted", "r1", json!({"n": 1})))
        .await
        .unwrap();
    let b = engine
        .enqueue(new_job("scripted", "r1", json!({"n": 2})))
        .await
        .unwrap();
    assert_eq!(a.id, b.id, "same (type, resource) while NEW");
    assert_eq!(b.payload, json!({"n": 1}), "the existing job wins");
    let other = engine
        .enqueue(new_job("scripted", "r2", json!({})))
        .await
        .unwrap();
    assert_ne!(other.id, a.id);
    let orphan = engine
        .enqueue(new_job("nobody-handles-this", "r1", json!({})))
        .await
        .unwrap();
    let mut later = new_job("scripted", "r3", json!({}));
    later.delay = Some(Duration::from_secs(3600));
    let later = engine.enqueue(later).await.unwrap();
    assert!(
        engine
            .enqueue(new_job("scripted", "", json!({})))
            .await
            .is_err()
    );

    let cancel = CancellationToken::new();
    let task = engine.clone().start(cancel.clone());
    assert!(engine.wait_idle(IDLE).await);
    assert_eq!(h.runs(&a.id), 1);
    assert_eq!(h.runs(&other.id), 1);
    assert_eq!(h.runs(&later.id), 0, "not due yet");
    assert_eq!(engine.get(&later.id).await.unwrap().status, JobStatus::New);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let orphan = engine.get(&orphan.id).await.unwrap();
    assert_eq!(orphan.status, JobStatus::New, "no handler here: stays NEW");
    assert_eq!(orphan.attempts, 0);
    // Done: the resource can be queued again.
    let again = engine
        .enqueue(new_job("scripted", "r1", json!({})))
        .await
        .unwrap();
    assert_ne!(again.id, a.id);
    assert!(engine.wait_idle(IDLE).await);

    let page = engine
        .list(
            &JobFilter {
                status: Some("success".into()),
                ..Default::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[0].id, again.id, "newest first");
    let err = engine
        .list(
            &JobFilter {
                status: Some("DONE".into()),
                ..Default::default()
            },
            10,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, cascade_core::ErrorKind::BadRequest);
    stop(cancel, task).await;
}

/// Counts runs per job across engines, and per engine.
struct Counting {
    runs: Arc<Mutex<HashMap<String, u32>>>,
    mine: AtomicUsize,
}

impl JobHandler for Counting {
    fn job_type(&self) -> &'static str {
        "count"
    }
    fn run<'a>(
        &'a self,
        job: &'a Job,
        _ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            *self.runs.lock().unwrap().entry(job.id.clone()).or_default() += 1;
            self.mine.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(())
        })
    }
}

async fn two_engines_run_each_job_once(db: &TestDb) {
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let ha = Arc::new(Counting {
        runs: runs.clone(),
        mine: AtomicUsize::new(0),
    });
    let hb = Arc::new(Counting {
        runs: runs.clone(),
        mine: AtomicUsize::new(0),
    });
    let store_b = second_store(db).await;
    let (a, cancel_a, task_a) = engine_with(db.store.clone(), "engine-a", ha.clone()).await;
    let (b, cancel_b, task_b) = engine_with(store_b.clone(), "engine-b", hb.clone()).await;
    let mut ids = Vec::new();
    for i in 0..200 {
        let mut j = new_job("count", &format!("r{i}"), json!({"i": i}));
        j.pod_id = Some(format!("pod{}", i % 5));
        // Producers on both "processes".
        let engine = if i % 2 == 0 { &a } else { &b };
        ids.push(engine.enqueue(j).await.unwrap().id);
    }
    assert!(a.wait_idle(IDLE).await);
    assert!(b.wait_idle(IDLE).await);
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 200);
    for id in &ids {
        assert_eq!(runs.get(id), Some(&1), "job {id} ran exactly once");
    }
    let (na, nb) = (
        ha.mine.load(Ordering::SeqCst),
        hb.mine.load(Ordering::SeqCst),
    );
    assert_eq!(na + nb, 200);
    assert!(na > 0 && nb > 0, "both engines worked: {na} + {nb}");
    let done = a
        .list(
            &JobFilter {
                status: Some("SUCCESS".into()),
                job_type: Some("count".into()),
                ..Default::default()
            },
            1000,
            None,
        )
        .await
        .unwrap();
    assert_eq!(done.len(), 200);
    assert!(done.iter().all(|j| j.attempts == 1));
    stop(cancel_a, task_a).await;
    stop(cancel_b, task_b).await;
    store_b.close().await;
}

/// Never returns (ignores cancellation), like a process that dies mid-run; notes that it saw
/// its token cancelled.
#[derive(Default)]
struct Hang {
    started: AtomicUsize,
    saw_cancel: AtomicUsize,
}

impl JobHandler for Hang {
    fn job_type(&self) -> &'static str {
        "count"
    }
    fn run<'a>(
        &'a self,
        _job: &'a Job,
        ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            ctx.cancel.cancelled().await;
            self.saw_cancel.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

async fn crash_recovery_after_lease_expiry(db: &TestDb) {
    let hang = Arc::new(Hang::default());
    let mut cfg = config("doomed");
    cfg.lease = Duration::from_millis(600);
    let doomed = Arc::new(JobEngine::new(db.store.clone(), cfg));
    doomed.register(hang.clone());
    let cancel = CancellationToken::new();
    let task = doomed.clone().start(cancel.clone());
    let job = doomed
        .enqueue(new_job("count", "r1", json!({})))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while hang.started.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        doomed.get(&job.id).await.unwrap().status,
        JobStatus::Running
    );
    stop(cancel, task).await;
    assert_eq!(hang.saw_cancel.load(Ordering::SeqCst), 1, "token cancelled");
    assert_eq!(
        doomed.get(&job.id).await.unwrap().status,
        JobStatus::Running,
        "left to lease expiry"
    );

    let store_b = second_store(db).await;
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let counting = Arc::new(Counting {
        runs: runs.clone(),
        mine: AtomicUsize::new(0),
    });
    let (rescuer, cancel_b, task_b) = engine_with(store_b.clone(), "rescuer", counting).await;
    assert!(rescuer.wait_idle(IDLE).await);
    let done = rescuer.get(&job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Success);
    assert_eq!(done.attempts, 2, "the lost run counts as an attempt");
    assert_eq!(runs.lock().unwrap().get(&job.id), Some(&1));
    assert_eq!(hang.started.load(Ordering::SeqCst), 1);
    stop(cancel_b, task_b).await;
    store_b.close().await;
}

/// Sleeps for the payload's `ms`.
struct Sleepy {
    runs: Arc<Mutex<HashMap<String, u32>>>,
}

impl JobHandler for Sleepy {
    fn job_type(&self) -> &'static str {
        "sleepy"
    }
    fn run<'a>(
        &'a self,
        job: &'a Job,
        _ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            *self.runs.lock().unwrap().entry(job.id.clone()).or_default() += 1;
            let ms = job.payload["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        })
    }
}

async fn heartbeat_keeps_long_jobs(db: &TestDb) {
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let store_b = second_store(db).await;
    let mut engines = Vec::new();
    for (owner, store) in [("a", db.store.clone()), ("b", store_b.clone())] {
        let mut cfg = config(owner);
        cfg.lease = Duration::from_millis(300);
        let engine = Arc::new(JobEngine::new(store, cfg));
        engine.register(Arc::new(Sleepy { runs: runs.clone() }));
        let cancel = CancellationToken::new();
        let task = engine.clone().start(cancel.clone());
        engines.push((engine, cancel, task));
    }
    let job = engines[0]
        .0
        .enqueue(new_job("sleepy", "r1", json!({"ms": 1200})))
        .await
        .unwrap();
    assert!(engines[0].0.wait_idle(IDLE).await);
    let done = engines[1].0.get(&job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Success);
    assert_eq!(done.attempts, 1, "the lease was renewed, never stolen");
    assert_eq!(runs.lock().unwrap().get(&job.id), Some(&1));
    for (_, cancel, task) in engines {
        stop(cancel, task).await;
    }
    store_b.close().await;
}

/// Tracks how many jobs run at once per pod and in total.
#[derive(Default)]
struct Gauge {
    now: Mutex<(HashMap<Option<String>, usize>, usize)>,
    max: Mutex<(HashMap<Option<String>, usize>, usize)>,
    /// Jobs of pod "slow" wait for this.
    release: tokio::sync::Notify,
    released: std::sync::atomic::AtomicBool,
}

impl JobHandler for Gauge {
    fn job_type(&self) -> &'static str {
        "gauge"
    }
    fn run<'a>(
        &'a self,
        job: &'a Job,
        _ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            {
                let mut now = self.now.lock().unwrap();
                let n = now.0.entry(job.pod_id.clone()).or_default();
                *n += 1;
                let n = *n;
                now.1 += 1;
                let total = now.1;
                let mut max = self.max.lock().unwrap();
                let m = max.0.entry(job.pod_id.clone()).or_default();
                *m = (*m).max(n);
                max.1 = max.1.max(total);
            }
            if job.pod_id.as_deref() == Some("slow") {
                while !self.released.load(Ordering::SeqCst) {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(50), self.release.notified())
                            .await;
                }
            } else {
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            let mut now = self.now.lock().unwrap();
            *now.0.get_mut(&job.pod_id).unwrap() -= 1;
            now.1 -= 1;
            Ok(())
        })
    }
}

async fn per_pod_limit(db: &TestDb) {
    let gauge = Arc::new(Gauge::default());
    gauge.released.store(true, Ordering::SeqCst);
    let mut cfg = config("a");
    cfg.per_pod_concurrency = 2;
    cfg.concurrency = 5;
    let engine = Arc::new(JobEngine::new(db.store.clone(), cfg));
    engine.register(gauge.clone());
    for i in 0..22 {
        let mut j = new_job("gauge", &format!("r{i}"), json!({}));
        j.pod_id = (i < 18).then(|| format!("pod{}", i % 3));
        engine.enqueue(j).await.unwrap();
    }
    let cancel = CancellationToken::new();
    let task = engine.clone().start(cancel.clone());
    assert!(engine.wait_idle(IDLE).await);
    let max = gauge.max.lock().unwrap().clone();
    for (pod, m) in &max.0 {
        assert!(*m <= 2, "pod {pod:?} ran {m} jobs at once");
    }
    assert_eq!(max.0.len(), 4, "three pods and the no-pod pool");
    assert!(max.1 <= 5, "total {} over the limit", max.1);
    assert!(max.1 >= 3, "pods ran in parallel (max total {})", max.1);
    let all = engine.list(&JobFilter::default(), 100, None).await.unwrap();
    assert!(all.iter().all(|j| j.status == JobStatus::Success));
    stop(cancel, task).await;
}

async fn slow_pod_does_not_starve_others(db: &TestDb) {
    let gauge = Arc::new(Gauge::default());
    let mut cfg = config("a");
    cfg.per_pod_concurrency = 2;
    cfg.concurrency = 4;
    let engine = Arc::new(JobEngine::new(db.store.clone(), cfg));
    engine.register(gauge.clone());
    // The slow pod's jobs are older, so they come first.
    let mut slow = Vec::new();
    for i in 0..8 {
        let mut j = new_job("gauge", &format!("slow{i}"), json!({}));
        j.pod_id = Some("slow".into());
        slow.push(engine.enqueue(j).await.unwrap().id);
    }
    let mut fast = Vec::new();
    for i in 0..8 {
        let mut j = new_job("gauge", &format!("fast{i}"), json!({}));
        j.pod_id = Some("fast".into());
        fast.push(engine.enqueue(j).await.unwrap().id);
    }
    let cancel = CancellationToken::new();
    let task = engine.clone().start(cancel.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut done = 0;
        for id in &fast {
            if engine.get(id).await.unwrap().status == JobStatus::Success {
                done += 1;
            }
        }
        if done == fast.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fast pod's jobs starved behind the slow pod"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still blocked: the slow pod holds at most its limit, the rest of its jobs are unclaimed.
    let running = engine
        .list(
            &JobFilter {
                status: Some("RUNNING".into()),
                ..Default::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(running.len(), 2, "only as many claimed as can start");
    assert!(running.iter().all(|j| j.pod_id.as_deref() == Some("slow")));
    gauge.released.store(true, Ordering::SeqCst);
    gauge.release.notify_waiters();
    assert!(engine.wait_idle(IDLE).await);
    for id in &slow {
        assert_eq!(engine.get(id).await.unwrap().status, JobStatus::Success);
    }
    assert_eq!(gauge.max.lock().unwrap().0[&Some("slow".to_string())], 2);
    stop(cancel, task).await;
}
