//! The admin job API (`/v1.0/jobs`) through a real `cascade serve` process on SQLite and
//! PostgreSQL: job rows are written into the process's database through the store (as sagas
//! would), then listed with filters and paging, shown, redone and deleted with Tricircle's
//! status codes; 401 without a token, 403 for a non-admin.

mod support;

use cascade_store::Store;
use cascade_store::jobs::{Claim, NewJobRow, PodScope};
use reqwest::Method;
use serde_json::json;
use support::*;

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $case() { let db = super::Db::sqlite(); super::$case(&db).await; db.cleanup().await; } )* }
        mod postgres { $( #[tokio::test] async fn $case() { let db = super::Db::postgres(); super::$case(&db).await; db.cleanup().await; } )* }
    };
}

both_backends!(job_admin_api);

async fn open(db: &Db) -> Store {
    match db {
        Db::Sqlite(p) => Store::connect(&format!("sqlite://{}", p.display()), None)
            .await
            .unwrap(),
        Db::Postgres { url, schema } => Store::connect(url, Some(schema)).await.unwrap(),
    }
}

/// Job types no handler in the process claims, so rows stay where the test puts them.
const TYPE: &str = "test_noop";

fn row(resource: &str, project: &str, pod: Option<&str>) -> NewJobRow {
    NewJobRow {
        id: uuid::Uuid::new_v4().to_string(),
        job_type: TYPE.into(),
        resource_id: resource.into(),
        project_id: project.into(),
        pod_id: pod.map(str::to_string),
        payload: json!({"server_id": resource}).to_string(),
        max_attempts: 3,
        run_at: cascade_store::now_micros() + 3_600_000_000,
    }
}

async fn take(store: &Store, id: &str) {
    let now = cascade_store::now_micros();
    let types = vec![TYPE.to_string()];
    // Make it due, then claim everything due as "elsewhere" and keep only `id` running.
    store.redo_job(id).await.unwrap();
    let got = store
        .claim_jobs(&Claim {
            owner: "elsewhere",
            now: now + 1_000_000,
            lease_until: now + 3_600_000_000,
            limit: 100,
            pod: PodScope::Any,
            job_types: &types,
        })
        .await
        .unwrap();
    assert!(got.iter().any(|r| r.id == id));
    for r in got.iter().filter(|r| r.id != id) {
        store
            .retry_job(&r.id, "elsewhere", now + 3_600_000_000, "put back")
            .await
            .unwrap();
    }
}

async fn job_admin_api(db: &Db) {
    let c = Cascade::start(db, "").await;
    let admin = admin_token(&c.url).await;
    let jobs = format!("{}/v1.0/jobs", c.url);

    let store = open(db).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = row(
            &format!("srv-{i}"),
            if i < 3 { "p1" } else { "p2" },
            Some(if i % 2 == 0 { "pod-a" } else { "pod-b" }),
        );
        store.enqueue_job(&r).await.unwrap();
        ids.push(r.id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // One RUNNING (held by another process), one SUCCESS, one FAIL, two NEW.
    take(&store, &ids[1]).await;
    take(&store, &ids[2]).await;
    assert!(store.complete_job(&ids[2], "elsewhere").await.unwrap());
    take(&store, &ids[3]).await;
    assert!(store.fail_job(&ids[3], "elsewhere", "boom").await.unwrap());

    // Auth.
    assert_eq!(call(Method::GET, &jobs, None, None, &[]).await.status, 401);
    // A member of the admin project is not an admin.
    let v3 = format!("{}/identity/v3", c.url);
    let r = call(
        Method::POST,
        &format!("{v3}/users"),
        Some(&admin),
        Some(json!({"user": {"name": "bob", "password": "pw"}})),
        &[],
    )
    .await;
    let bob = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &format!("{v3}/projects?name=admin"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let project = r.body["projects"][0]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &format!("{v3}/roles?name=member"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    let member = r.body["roles"][0]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::PUT,
        &format!("{v3}/projects/{project}/users/{bob}/roles/{member}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert!(r.status < 300, "{}", r.text);
    let (user_token, r) = token(&c.url, "bob", "pw", Some("admin")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = call(Method::GET, &jobs, Some(&user_token), None, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        call(
            Method::DELETE,
            &format!("{jobs}/{}", ids[0]),
            Some(&user_token),
            None,
            &[]
        )
        .await
        .status,
        403
    );

    // List: newest first, paged with jobs_links.
    let mut seen = Vec::new();
    let mut next = Some(format!("{jobs}?limit=2"));
    while let Some(url) = next {
        let r = call(Method::GET, &url, Some(&admin), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_string()),
        );
        next = r.body["jobs_links"][0]["href"].as_str().map(str::to_string);
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    let count = |q: &str| {
        let url = format!("{jobs}/detail?{q}");
        let admin = admin.clone();
        let q = q.to_string();
        async move {
            let r = call(Method::GET, &url, Some(&admin), None, &[]).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            r.body["jobs"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("project_id=p2").await, 2);
    assert_eq!(count("status=new").await, 2);
    assert_eq!(count("status=Running").await, 1);
    assert_eq!(count("status=SUCCESS&type=test_noop").await, 1);
    assert_eq!(count("type=other").await, 0);
    assert_eq!(count("pod_id=pod-a").await, 3);
    assert_eq!(count("resource_id=srv-3").await, 1);
    for bad in [
        "status=done",
        "limit=0",
        "limit=x",
        "marker=nope",
        "colour=blue",
    ] {
        let r = call(
            Method::GET,
            &format!("{jobs}?{bad}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }

    // Show.
    let r = call(
        Method::GET,
        &format!("{jobs}/{}", ids[3]),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let job = &r.body["job"];
    assert_eq!(job["id"], ids[3].as_str());
    assert_eq!(job["type"], TYPE);
    assert_eq!(job["status"], "FAIL");
    assert_eq!(job["project_id"], "p2");
    assert_eq!(job["resource_id"], "srv-3");
    assert_eq!(job["resource"], json!({"server_id": "srv-3"}));
    assert_eq!(job["pod_id"], "pod-b");
    assert_eq!(job["last_error"], "boom");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["max_attempts"], 3);
    let ts = job["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.len() == 20, "{ts}");
    assert!(job["created_at"].as_str().unwrap().ends_with('Z'));
    let r = call(
        Method::GET,
        &format!("{jobs}/nope"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);

    // Redo: FAIL and NEW run now; RUNNING and SUCCESS are 400; unknown 404.
    let r = call(
        Method::PUT,
        &format!("{jobs}/{}", ids[3]),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["job"]["status"], "NEW");
    assert_eq!(r.body["job"]["attempts"], 0);
    let r = call(
        Method::PUT,
        &format!("{jobs}/{}", ids[0]),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for id in [&ids[1], &ids[2]] {
        let r = call(
            Method::PUT,
            &format!("{jobs}/{id}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["error"]["code"], 400, "{}", r.text);
    }
    let r = call(
        Method::PUT,
        &format!("{jobs}/nope"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    // No handler for this type in the process: the redone jobs stay NEW.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let r = call(
        Method::GET,
        &format!("{jobs}/{}", ids[3]),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body["job"]["status"], "NEW");

    // Delete: NEW and FAIL only.
    for id in [&ids[1], &ids[2]] {
        let r = call(
            Method::DELETE,
            &format!("{jobs}/{id}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
    for id in [&ids[0], &ids[3]] {
        let r = call(
            Method::DELETE,
            &format!("{jobs}/{id}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({}));
        let r = call(
            Method::GET,
            &format!("{jobs}/{id}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 404);
    }
    let r = call(
        Method::DELETE,
        &format!("{jobs}/{}", ids[0]),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 404);

    // The engine's metrics are exported.
    let r = call(
        Method::GET,
        &format!("{}/metrics", c.url),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert!(r.text.contains("cascade_jobs_running"), "{}", r.text);
    store.close().await;
}
