//! Conformance of the job table on both backends (SQLite and the real PostgreSQL, a private
//! schema per case): insert and dedupe, claims (only due jobs, batch limit, per pod, disjoint
//! between owners, expired leases reclaimable), transitions only under the lease, listing with
//! filters and paging, and Tricircle's redo/delete rules.

use std::collections::HashSet;

use cascade_store::jobs::{Claim, Delete, JobFilter, NewJobRow, PodScope, Redo};
use cascade_store::{Store, StoreError, now_micros};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = cascade_store::testing::TestDb::sqlite().await.expect("sqlite test db");
                    super::$case(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = cascade_store::testing::TestDb::postgres()
                        .await
                        .expect("PostgreSQL test db (set CASCADE_TEST_POSTGRES_URL; .ci/run starts the server)");
                    super::$case(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

conformance!(
    insert_and_dedupe,
    claim_due_with_limit_and_pod,
    claims_by_two_owners_are_disjoint,
    expired_lease_is_reclaimable,
    transitions_need_the_lease,
    list_filters_and_paging,
    redo_and_delete_rules,
);

const SEC: i64 = 1_000_000;

fn job(job_type: &str, resource: &str, pod: Option<&str>) -> NewJobRow {
    NewJobRow {
        id: uuid::Uuid::new_v4().to_string(),
        job_type: job_type.into(),
        resource_id: resource.into(),
        project_id: "p1".into(),
        pod_id: pod.map(str::to_string),
        payload: r#"{"k":"v"}"#.into(),
        max_attempts: 3,
        run_at: now_micros(),
    }
}

fn claim<'a>(owner: &'a str, limit: i64, pod: PodScope<'a>, types: &'a [String]) -> Claim<'a> {
    let now = now_micros();
    Claim {
        owner,
        now,
        lease_until: now + 60 * SEC,
        limit,
        pod,
        job_types: types,
    }
}

async fn insert_and_dedupe(store: Store) {
    let a = job("build", "srv-1", Some("pod1"));
    let (row, fresh) = store.enqueue_job(&a).await.unwrap();
    assert!(fresh);
    assert_eq!(row.id, a.id);
    assert_eq!(row.status, "NEW");
    assert_eq!(row.attempts, 0);
    assert_eq!(row.payload, r#"{"k":"v"}"#);
    assert_eq!(row.pod_id.as_deref(), Some("pod1"));
    assert_eq!(store.get_job(&a.id).await.unwrap(), row);

    // Same (type, resource) while NEW: the existing job comes back.
    let (dup, fresh) = store
        .enqueue_job(&job("build", "srv-1", None))
        .await
        .unwrap();
    assert!(!fresh);
    assert_eq!(dup.id, a.id);
    // Another type or resource is another job.
    assert!(
        store
            .enqueue_job(&job("delete", "srv-1", None))
            .await
            .unwrap()
            .1
    );
    assert!(
        store
            .enqueue_job(&job("build", "srv-2", None))
            .await
            .unwrap()
            .1
    );

    // While RUNNING: still deduped.
    let types = vec!["build".to_string()];
    let claimed = store
        .claim_jobs(&claim("w1", 1, PodScope::Pod("pod1"), &types))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, a.id);
    let (dup, fresh) = store
        .enqueue_job(&job("build", "srv-1", None))
        .await
        .unwrap();
    assert!(!fresh);
    assert_eq!(dup.id, a.id);
    assert_eq!(dup.status, "RUNNING");

    // Once finished, a new job for the resource can be queued.
    assert!(store.complete_job(&a.id, "w1").await.unwrap());
    let b = job("build", "srv-1", None);
    let (row, fresh) = store.enqueue_job(&b).await.unwrap();
    assert!(fresh);
    assert_eq!(row.id, b.id);

    assert!(matches!(
        store.get_job("no-such-job").await,
        Err(StoreError::NotFound)
    ));
}

async fn claim_due_with_limit_and_pod(store: Store) {
    let now = now_micros();
    for i in 0..5 {
        let mut j = job("t", &format!("r{i}"), Some("pod1"));
        j.run_at = now - (10 - i) * SEC;
        store.enqueue_job(&j).await.unwrap();
    }
    let mut later = job("t", "later", Some("pod1"));
    later.run_at = now + 3600 * SEC;
    store.enqueue_job(&later).await.unwrap();
    store
        .enqueue_job(&job("t", "other-pod", Some("pod2")))
        .await
        .unwrap();
    store.enqueue_job(&job("t", "no-pod", None)).await.unwrap();
    store
        .enqueue_job(&job("unhandled", "x", Some("pod1")))
        .await
        .unwrap();

    let mut groups = store.due_jobs(now_micros()).await.unwrap();
    groups.sort_by(|a, b| (&a.pod_id, &a.job_type).cmp(&(&b.pod_id, &b.job_type)));
    let summary: Vec<_> = groups
        .iter()
        .map(|g| (g.pod_id.as_deref(), g.job_type.as_str(), g.due))
        .collect();
    assert_eq!(
        summary,
        [
            (None, "t", 1),
            (Some("pod1"), "t", 5),
            (Some("pod1"), "unhandled", 1),
            (Some("pod2"), "t", 1)
        ],
        "future jobs are not due"
    );

    let types = vec!["t".to_string()];
    let first = store
        .claim_jobs(&claim("w1", 3, PodScope::Pod("pod1"), &types))
        .await
        .unwrap();
    let names: Vec<_> = first.iter().map(|r| r.resource_id.as_str()).collect();
    assert_eq!(
        names,
        ["r0", "r1", "r2"],
        "oldest run_at first, at most limit"
    );
    for r in &first {
        assert_eq!(r.status, "RUNNING");
        assert_eq!(r.attempts, 1);
        assert_eq!(r.lease_owner.as_deref(), Some("w1"));
        assert!(r.lease_until.unwrap() > now_micros());
    }
    let rest = store
        .claim_jobs(&claim("w1", 10, PodScope::Pod("pod1"), &types))
        .await
        .unwrap();
    let names: Vec<_> = rest.iter().map(|r| r.resource_id.as_str()).collect();
    assert_eq!(
        names,
        ["r3", "r4"],
        "not the future job, not other types, not other pods"
    );
    let none = store
        .claim_jobs(&claim("w1", 10, PodScope::NoPod, &types))
        .await
        .unwrap();
    assert_eq!(none.len(), 1);
    assert_eq!(none[0].resource_id, "no-pod");
    let any = store
        .claim_jobs(&claim("w1", 10, PodScope::Any, &[]))
        .await
        .unwrap();
    let mut names: Vec<_> = any.iter().map(|r| r.resource_id.as_str()).collect();
    names.sort();
    assert_eq!(names, ["other-pod", "x"], "empty type list means any type");
    assert!(
        store
            .claim_jobs(&claim("w1", 0, PodScope::Any, &[]))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn claims_by_two_owners_are_disjoint(store: Store) {
    for i in 0..60 {
        store
            .enqueue_job(&job("t", &format!("r{i}"), Some("pod1")))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for owner in ["a", "b", "c"] {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_jobs(&claim(owner, 7, PodScope::Any, &[]))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                for r in got {
                    assert_eq!(r.lease_owner.as_deref(), Some(owner));
                    mine.push(r.id);
                }
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "a job was claimed twice");
        }
    }
    assert_eq!(total, 60);
}

async fn expired_lease_is_reclaimable(store: Store) {
    let j = job("t", "r", None);
    store.enqueue_job(&j).await.unwrap();
    let now = now_micros();
    let short = Claim {
        owner: "dead",
        now,
        lease_until: now + SEC / 5,
        limit: 1,
        pod: PodScope::Any,
        job_types: &[],
    };
    assert_eq!(store.claim_jobs(&short).await.unwrap().len(), 1);
    // Held: nobody else gets it.
    assert!(
        store
            .claim_jobs(&claim("alive", 1, PodScope::Any, &[]))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.due_jobs(now_micros()).await.unwrap().len(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(store.due_jobs(now_micros()).await.unwrap()[0].due, 1);
    let again = store
        .claim_jobs(&claim("alive", 1, PodScope::Any, &[]))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].lease_owner.as_deref(), Some("alive"));
    assert_eq!(again[0].attempts, 2, "each claim counts as an attempt");
    // The dead owner's late results are ignored.
    assert!(!store.complete_job(&j.id, "dead").await.unwrap());
    assert!(
        !store
            .renew_job_lease(&j.id, "dead", now_micros() + SEC)
            .await
            .unwrap()
    );
    assert!(store.complete_job(&j.id, "alive").await.unwrap());
    assert_eq!(store.get_job(&j.id).await.unwrap().status, "SUCCESS");
}

async fn transitions_need_the_lease(store: Store) {
    let j = job("t", "r", Some("pod1"));
    store.enqueue_job(&j).await.unwrap();
    // Not running yet: nothing applies.
    assert!(!store.complete_job(&j.id, "w").await.unwrap());
    assert!(!store.set_job_progress(&j.id, "w", "{}").await.unwrap());
    store
        .claim_jobs(&claim("w", 1, PodScope::Any, &[]))
        .await
        .unwrap();
    assert!(!store.complete_job(&j.id, "other").await.unwrap());
    assert!(!store.fail_job(&j.id, "other", "x").await.unwrap());
    assert!(!store.retry_job(&j.id, "other", 0, "x").await.unwrap());
    let until = now_micros() + 120 * SEC;
    assert!(store.renew_job_lease(&j.id, "w", until).await.unwrap());
    assert_eq!(store.get_job(&j.id).await.unwrap().lease_until, Some(until));
    assert!(
        store
            .set_job_progress(&j.id, "w", r#"{"step":2}"#)
            .await
            .unwrap()
    );

    // Retry: back to NEW at run_at, error kept, lease gone.
    let run_at = now_micros() + 3600 * SEC;
    assert!(store.retry_job(&j.id, "w", run_at, "boom").await.unwrap());
    let row = store.get_job(&j.id).await.unwrap();
    assert_eq!(row.status, "NEW");
    assert_eq!(row.run_at, run_at);
    assert_eq!(row.last_error.as_deref(), Some("boom"));
    assert_eq!(row.progress.as_deref(), Some(r#"{"step":2}"#));
    assert_eq!(row.lease_owner, None);
    assert_eq!(row.attempts, 1);
    assert!(
        !store.complete_job(&j.id, "w").await.unwrap(),
        "not running"
    );

    // Fail.
    store.redo_job(&j.id).await.unwrap();
    let got = store
        .claim_jobs(&claim("w", 1, PodScope::Any, &[]))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert!(store.fail_job(&j.id, "w", "dead for good").await.unwrap());
    let row = store.get_job(&j.id).await.unwrap();
    assert_eq!(row.status, "FAIL");
    assert_eq!(row.last_error.as_deref(), Some("dead for good"));
    assert!(!store.fail_job(&j.id, "w", "again").await.unwrap());
}

async fn list_filters_and_paging(store: Store) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut j = job(
            if i % 2 == 0 { "even" } else { "odd" },
            &format!("r{i}"),
            Some(if i < 4 { "pod1" } else { "pod2" }),
        );
        j.project_id = if i < 5 { "p1".into() } else { "p2".into() };
        store.enqueue_job(&j).await.unwrap();
        ids.push(j.id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // Newest first, paged by marker.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = store
            .list_jobs(&JobFilter::default(), 3, marker.as_deref())
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        marker = page.last().map(|r| r.id.clone());
        seen.extend(page.into_iter().map(|r| r.id));
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let count = |f: JobFilter| {
        let store = store.clone();
        async move { store.list_jobs(&f, 100, None).await.unwrap().len() }
    };
    assert_eq!(
        count(JobFilter {
            job_type: Some("even".into()),
            ..Default::default()
        })
        .await,
        4
    );
    assert_eq!(
        count(JobFilter {
            project_id: Some("p2".into()),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(JobFilter {
            pod_id: Some("pod1".into()),
            job_type: Some("odd".into()),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(JobFilter {
            resource_id: Some("r3".into()),
            ..Default::default()
        })
        .await,
        1
    );
    store
        .claim_jobs(&claim("w", 2, PodScope::Any, &[]))
        .await
        .unwrap();
    assert_eq!(
        count(JobFilter {
            status: Some("RUNNING".into()),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(JobFilter {
            status: Some("NEW".into()),
            ..Default::default()
        })
        .await,
        5
    );
    assert!(matches!(
        store
            .list_jobs(&JobFilter::default(), 3, Some("missing"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.count_pending_jobs(now_micros(), &[]).await.unwrap(),
        7
    );
    assert_eq!(
        store
            .count_pending_jobs(now_micros(), &["odd".to_string()])
            .await
            .unwrap(),
        3
    );
}

async fn redo_and_delete_rules(store: Store) {
    // NEW: redo makes it due now; delete removes it.
    let mut later = job("t", "new", None);
    later.run_at = now_micros() + 3600 * SEC;
    store.enqueue_job(&later).await.unwrap();
    let Redo::Done(row) = store.redo_job(&later.id).await.unwrap() else {
        panic!("NEW can be redone")
    };
    assert!(row.run_at <= now_micros());
    assert_eq!(row.status, "NEW");
    assert_eq!(store.delete_job(&later.id).await.unwrap(), Delete::Done);
    assert!(matches!(
        store.delete_job(&later.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.redo_job(&later.id).await,
        Err(StoreError::NotFound)
    ));

    // RUNNING: neither.
    let j = job("t", "run", None);
    store.enqueue_job(&j).await.unwrap();
    store
        .claim_jobs(&claim("w", 1, PodScope::Any, &[]))
        .await
        .unwrap();
    assert!(matches!(
        store.redo_job(&j.id).await.unwrap(),
        Redo::NotAllowed(r) if r.status == "RUNNING"
    ));
    assert!(matches!(
        store.delete_job(&j.id).await.unwrap(),
        Delete::NotAllowed(s) if s == "RUNNING"
    ));
    // FAIL: redo resets attempts and makes it NEW; delete is allowed.
    assert!(store.fail_job(&j.id, "w", "boom").await.unwrap());
    let Redo::Done(row) = store.redo_job(&j.id).await.unwrap() else {
        panic!("FAIL can be redone")
    };
    assert_eq!((row.status.as_str(), row.attempts), ("NEW", 0));
    assert_eq!(row.last_error.as_deref(), Some("boom"));
    store
        .claim_jobs(&claim("w", 1, PodScope::Any, &[]))
        .await
        .unwrap();
    assert!(store.fail_job(&j.id, "w", "boom").await.unwrap());
    // A failed job whose resource got a new active job cannot be redone (dedupe).
    store.enqueue_job(&job("t", "run", None)).await.unwrap();
    assert!(matches!(
        store.redo_job(&j.id).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.delete_job(&j.id).await.unwrap(), Delete::Done);

    // SUCCESS: neither.
    let s = job("t", "ok", None);
    store.enqueue_job(&s).await.unwrap();
    let got = store
        .claim_jobs(&claim("w", 5, PodScope::Any, &[]))
        .await
        .unwrap();
    assert!(got.iter().any(|r| r.id == s.id));
    assert!(store.complete_job(&s.id, "w").await.unwrap());
    assert!(matches!(
        store.redo_job(&s.id).await.unwrap(),
        Redo::NotAllowed(r) if r.status == "SUCCESS"
    ));
    assert!(matches!(
        store.delete_job(&s.id).await.unwrap(),
        Delete::NotAllowed(s) if s == "SUCCESS"
    ));
}
