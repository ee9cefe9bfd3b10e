//! Benchmark (ignored by default) for BENCHMARKS.md "Images": a large image uploaded through a
//! real `cascade serve` process to a simulated pod, then copied pod to pod (1) directly, by
//! this process streaming from one region's Glance to another's, and (2) through Cascade (an
//! `image_copy` job asked for with the admin API), while sampling Cascade's resident memory.
//!
//! Run: `IMAGE_BENCH_MB=1024 cargo test --release -p cascade --test image_bench -- --ignored --nocapture`.
//! The simulated regions live in this test process and keep every image in memory, so the
//! size is bounded by RAM (three copies are held at the end).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cascade_sim::{RegionSpec, SimConfig};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;
use support::*;

const CHUNK: usize = 256 * 1024;

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A generated body: `total` bytes in `CHUNK`s, never held whole.
fn body(total: u64) -> reqwest::Body {
    let chunks = total.div_ceil(CHUNK as u64);
    let s = futures_util::stream::iter(0..chunks).map(move |i| {
        let len = (total - i * CHUNK as u64).min(CHUNK as u64) as usize;
        let mut v = vec![0u8; len];
        for (j, b) in v.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(13).wrapping_add(j as u8);
        }
        Ok::<_, std::io::Error>(Bytes::from(v))
    });
    reqwest::Body::wrap_stream(s)
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored"]
async fn image_copy_throughput_and_memory() {
    let mb: u64 = std::env::var("IMAGE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let size = mb << 20;
    let db = Db::sqlite();
    let c = Cascade::start(
        &db,
        "[pods]\nhealth_interval_secs = 2\ncall_timeout_secs = 30\n",
    )
    .await;
    let regions = vec![
        RegionSpec::new("Pod1", "az1").instant(),
        RegionSpec::new("Pod2", "az2").instant(),
        RegionSpec::new("Pod3", "az3").instant(),
    ];
    let sim = cascade_sim::start(SimConfig::new(format!("{}/identity", c.url), regions))
        .await
        .unwrap();
    let admin = admin_token(&c.url).await;
    let mut pods = Vec::new();
    for r in sim.regions() {
        let resp = call(
            Method::POST,
            &format!("{}/v1.0/pods", c.url),
            Some(&admin),
            Some(json!({"pod": {"region_name": r.name, "az_name": r.az, "auth_url": r.identity_url,
                "credentials": {"username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"}}})),
            &[],
        )
        .await;
        pods.push(resp.body["pod"]["pod_id"].as_str().unwrap().to_string());
    }
    assert!(
        eventually(Duration::from_secs(30), || async {
            let r = call(
                Method::GET,
                &format!("{}/v1.0/pods", c.url),
                Some(&admin),
                None,
                &[],
            )
            .await;
            r.body["pods"]
                .as_array()
                .is_some_and(|a| a.iter().all(|p| p["state"] == "up"))
        })
        .await
    );
    let pid = c.pid();
    let http = reqwest::Client::new();
    // Warm the paths once with a small image so idle includes connection pools etc.
    let small = call(
        Method::POST,
        &format!("{}/image/v2/images", c.url),
        Some(&admin),
        Some(json!({"name": "warm", "disk_format": "raw", "container_format": "bare"})),
        &[],
    )
    .await;
    let small_id = small.body["id"].as_str().unwrap().to_string();
    http.put(format!("{}/image/v2/images/{small_id}/file", c.url))
        .header("x-auth-token", &admin)
        .header("content-type", "application/octet-stream")
        .body(body(1 << 20))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kib(pid, "VmRSS:");

    // Sample Cascade's RSS all along.
    let peak = Arc::new(AtomicU64::new(idle));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Upload through Cascade (client → Cascade → Pod1).
    let created = call(
        Method::POST,
        &format!("{}/image/v2/images", c.url),
        Some(&admin),
        Some(json!({"name": "big", "disk_format": "raw", "container_format": "bare"})),
        &[],
    )
    .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let r = http
        .put(format!("{}/image/v2/images/{id}/file", c.url))
        .header("x-auth-token", &admin)
        .header("content-type", "application/octet-stream")
        .body(body(size))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        204,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let upload = t.elapsed();
    let peak_upload = peak.swap(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);

    // Direct pod → pod copy (this process streams Pod1's Glance into Pod3's).
    let p1 = sim.region("Pod1").unwrap();
    let p3 = sim.region("Pod3").unwrap();
    let src: serde_json::Value = http
        .get(format!("{}/v2/images?cascade_top_id={id}", p1.image_url))
        .header("x-auth-token", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let src_id = src["images"][0]["id"].as_str().unwrap().to_string();
    let dst = call(
        Method::POST,
        &format!("{}/v2/images", p3.image_url),
        Some(&admin),
        Some(json!({"name": "direct", "disk_format": "raw", "container_format": "bare"})),
        &[],
    )
    .await;
    let dst_id = dst.body["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let stream = http
        .get(format!("{}/v2/images/{src_id}/file", p1.image_url))
        .header("x-auth-token", &admin)
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let r = http
        .put(format!("{}/v2/images/{dst_id}/file", p3.image_url))
        .header("x-auth-token", &admin)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let direct = t.elapsed();
    // The simulator frees nothing until the image is deleted; drop this one now.
    http.delete(format!("{}/v2/images/{dst_id}", p3.image_url))
        .header("x-auth-token", &admin)
        .send()
        .await
        .unwrap();

    // Through Cascade: an image_copy job to Pod2 (download, hash twice, upload, verify).
    let t = Instant::now();
    let r = call(
        Method::POST,
        &format!("{}/v1.0/images/{id}/copies", c.url),
        Some(&admin),
        Some(json!({"copy": {"pod_id": pods[1]}})),
        &[],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let done = eventually(Duration::from_secs(3600), || async {
        let r = call(
            Method::GET,
            &format!("{}/v1.0/images/{id}/copies", c.url),
            Some(&admin),
            None,
            &[],
        )
        .await;
        r.body["copies"]
            .as_array()
            .is_some_and(|a| a.iter().filter(|c| c["state"] == "active").count() == 2)
    })
    .await;
    assert!(done);
    let through = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let peak_copy = peak.load(Ordering::Relaxed);
    let hwm = rss_kib(pid, "VmHWM:");

    println!("IMAGE BENCH: size {mb} MiB");
    println!(
        "  upload client -> Cascade -> pod: {:.2} s, {:.0} MiB/s",
        upload.as_secs_f64(),
        mib_s(size, upload)
    );
    println!(
        "  direct pod -> pod copy:          {:.2} s, {:.0} MiB/s",
        direct.as_secs_f64(),
        mib_s(size, direct)
    );
    println!(
        "  pod -> pod through Cascade:      {:.2} s, {:.0} MiB/s (includes job pickup and verification)",
        through.as_secs_f64(),
        mib_s(size, through)
    );
    println!(
        "  Cascade RSS: idle {} MiB, peak during upload {} MiB, peak during copy {} MiB, VmHWM {} MiB",
        idle / 1024,
        peak_upload / 1024,
        peak_copy / 1024,
        hwm / 1024
    );
    sim.shutdown().await;
    db.cleanup().await;
}
