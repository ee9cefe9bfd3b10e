//! Benchmark (ignored by default) for BENCHMARKS.md "Volumes": the latency of a volume list page
//! out of a large index. A real `cascade serve` process fronts 100 simulated pods (one
//! simulator process-in-test, 100 regions); the index is seeded straight through the store with
//! `VOLUME_BENCH_N` volumes (default 100,000) of one project spread round-robin over the pods,
//! then `GET /volume/v3/{project}/volumes/detail` is timed sequentially: the first page, pages at
//! random markers deep in the index, and a filtered page.
//!
//! Run: `cargo test --release -p cascade --test volume_bench -- --ignored --nocapture`
//! (add `VOLUME_BENCH_PG=1` to run it on PostgreSQL instead of SQLite).

mod support;

use std::time::{Duration, Instant};

use cascade_sim::{RegionSpec, SimConfig};
use cascade_store::volumes::VolumeRow;
use reqwest::Method;
use serde_json::json;
use support::*;

const PODS: usize = 100;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn timed(
    url: &str,
    token: &str,
    n: usize,
    mut path: impl FnMut(usize) -> String,
) -> (f64, f64, usize) {
    let client = reqwest::Client::new();
    let mut ms = Vec::with_capacity(n);
    let mut items = 0;
    for i in 0..n {
        let t = Instant::now();
        let r = client
            .get(format!("{url}{}", path(i)))
            .header("x-auth-token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        items = v["volumes"].as_array().map_or(0, Vec::len);
    }
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (pct(&ms, 0.5), pct(&ms, 0.99), items)
}

#[tokio::test]
#[ignore]
async fn volume_list_latency() {
    let n: usize = std::env::var("VOLUME_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let db = if std::env::var("VOLUME_BENCH_PG").is_ok() {
        Db::postgres()
    } else {
        Db::sqlite()
    };
    let c = Cascade::start(
        &db,
        "[pods]\nhealth_interval_secs = 30\nhealth_timeout_secs = 5\n",
    )
    .await;
    let regions = (1..=PODS)
        .map(|i| RegionSpec::new(format!("Pod{i}"), format!("az{i}")).instant())
        .collect();
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let (admin, r) = token(&c.url, "admin", ADMIN_PASSWORD, Some("admin")).await;
    let project = r.body["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut pods = Vec::new();
    for r in sim.regions() {
        let body = json!({"pod": {"region_name": r.name, "az_name": r.az, "auth_url": r.identity_url,
            "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"}}});
        let resp = call(
            Method::POST,
            &format!("{}/v1.0/pods", c.url),
            Some(&admin),
            Some(body),
            &[],
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        pods.push((
            resp.body["pod"]["pod_id"].as_str().unwrap().to_string(),
            r.az.clone(),
        ));
    }

    // Seed the index straight through the store (the sim holds none of these).
    let (url, schema) = match &db {
        Db::Sqlite(p) => (format!("sqlite://{}", p.display()), None),
        Db::Postgres { url, schema } => (url.clone(), Some(schema.clone())),
    };
    let store = cascade_store::Store::connect(&url, schema.as_deref())
        .await
        .unwrap();
    let seeded = Instant::now();
    let base = cascade_store::now_micros() - 10_000_000_000;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let (pod, az) = &pods[i % PODS];
        batch.push(VolumeRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.clone(),
            user_id: "bench".into(),
            name: Some(format!("vol-{i}")),
            description: None,
            size: 1 + (i % 10) as i64,
            status: if i.is_multiple_of(5) {
                "in-use"
            } else {
                "available"
            }
            .into(),
            az: az.clone(),
            pod_id: Some(pod.clone()),
            bottom_id: Some(uuid::Uuid::new_v4().to_string()),
            volume_type: "__DEFAULT__".into(),
            bootable: i.is_multiple_of(7),
            multiattach: false,
            attachments: "[]".into(),
            metadata: format!("{{\"n\":\"{i}\"}}"),
            image_metadata: "{}".into(),
            snapshot_id: None,
            source_volid: None,
            image_id: None,
            request: "{}".into(),
            created_at: base + i as i64 * 1000,
            updated_at: base + i as i64 * 1000,
            deleted: false,
            deleted_at: None,
            admin_metadata: "{}".into(),
        });
        if batch.len() == 1000 {
            store.insert_volumes(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.insert_volumes(&batch).await.unwrap();
    let seed_s = seeded.elapsed().as_secs_f64();
    let backend = if schema.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("seeded {n} volumes over {PODS} pods on {backend} in {seed_s:.1} s");

    // Markers spread over the whole index.
    let mut markers = Vec::new();
    let mut next = Some(format!("/volume/v3/{project}/volumes?limit=1000"));
    while let Some(p) = next.take() {
        let r = call(
            Method::GET,
            &format!("{}{p}", c.url),
            Some(&admin),
            None,
            &[],
        )
        .await;
        let list = r.body["volumes"].as_array().unwrap();
        markers.extend(
            list.iter()
                .step_by(97)
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        next = r.body["volumes_links"][0]["href"]
            .as_str()
            .map(|h| h.trim_start_matches(&c.url).to_string());
    }
    assert!(markers.len() >= n / 100, "walked the whole index");
    let base_url = c.url.clone();
    let rounds = 200;
    for limit in [100usize, 1000] {
        let (p50, p99, items) = timed(&base_url, &admin, rounds, |_| {
            format!("/volume/v3/{project}/volumes/detail?limit={limit}")
        })
        .await;
        println!(
            "first page, limit={limit}: p50 {p50:.1} ms, p99 {p99:.1} ms ({items} volumes/page, {rounds} requests)"
        );
        let (p50, p99, _) = timed(&base_url, &admin, rounds, |i| {
            let m = &markers[(i * 7919) % markers.len()];
            format!("/volume/v3/{project}/volumes/detail?limit={limit}&marker={m}")
        })
        .await;
        println!("page at a random marker, limit={limit}: p50 {p50:.1} ms, p99 {p99:.1} ms");
    }
    let (p50, p99, items) = timed(&base_url, &admin, rounds, |i| {
        format!(
            "/volume/v3/{project}/volumes/detail?limit=100&availability_zone=az{}&status=available",
            1 + i % PODS
        )
    })
    .await;
    println!(
        "filtered (one AZ of 100, status=available), limit=100: p50 {p50:.1} ms, p99 {p99:.1} ms ({items} volumes/page)"
    );
    sim.shutdown().await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    db.cleanup().await;
}
