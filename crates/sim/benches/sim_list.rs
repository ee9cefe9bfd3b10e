//! Bench: one simulated region holding 10,000 servers (each with a Neutron port), measuring
//! a 1,000-item `GET /servers/detail?limit=1000` page and a `changes-since` delta over
//! loopback HTTP, plus the process RSS. Run with `cargo bench -p cascade-sim --bench sim_list`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use cascade_sim::testing::{FakeToken, fake_identity};
use cascade_sim::{RegionSpec, SimConfig};
use serde_json::{Value, json};

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("SIM_BENCH_SERVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (url, _idp) = fake_identity(vec![FakeToken::member("t", "p")]).await;
    let sim = cascade_sim::start(SimConfig::new(
        url,
        vec![RegionSpec::new("bench", "az").instant()],
    ))
    .await
    .expect("start");
    let b = sim.regions()[0].base_url.clone();
    let http = reqwest::Client::new();
    let rss0 = rss_mib();
    let net: Value = http
        .post(format!("{b}/network/v2.0/networks"))
        .header("X-Auth-Token", "t")
        .json(&json!({"network": {"name": "bench"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let nid = net["network"]["id"].as_str().unwrap().to_string();
    http.post(format!("{b}/network/v2.0/subnets"))
        .header("X-Auth-Token", "t")
        .json(&json!({"subnet": {"network_id": nid, "cidr": "10.128.0.0/16", "ip_version": 4}}))
        .send()
        .await
        .unwrap();
    let t0 = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let futs = chunk.iter().map(|i| {
            let body = json!({"server": {"name": format!("vm-{i}@top-{i}"), "flavorRef": "1", "imageRef": "", "networks": [{"uuid": nid}], "metadata": {"top": i.to_string()},
                "block_device_mapping_v2": []}});
            let http = http.clone();
            let b = b.clone();
            async move {
                let img: Value = http.get(format!("{b}/image/v2/images?limit=1")).header("X-Auth-Token", "t").send().await.unwrap().json().await.unwrap();
                let mut body = body;
                body["server"]["imageRef"] = img["images"][0]["id"].clone();
                let v: Value = http.post(format!("{b}/compute/v2.1/servers")).header("X-Auth-Token", "t").json(&body).send().await.unwrap().json().await.unwrap();
                v["server"]["id"].as_str().unwrap().to_string()
            }
        });
        ids.extend(futures_util::future::join_all(futs).await);
    }
    let create = t0.elapsed();
    let page = |q: String| {
        let http = http.clone();
        async move {
            let t = Instant::now();
            let r = http
                .get(q)
                .header("X-Auth-Token", "t")
                .header("OpenStack-API-Version", "compute 2.100")
                .send()
                .await
                .unwrap();
            let bytes = r.bytes().await.unwrap();
            (
                t.elapsed(),
                bytes.len(),
                serde_json::from_slice::<Value>(&bytes).unwrap(),
            )
        }
    };
    // Warm up, then 30 first pages and 30 pages deep in the list.
    let (_, _, first) = page(format!("{b}/compute/v2.1/servers/detail?limit=1000")).await;
    let mid = first["servers"][999]["id"].as_str().unwrap().to_string();
    let (mut lat, mut deep) = (vec![], vec![]);
    let mut size = 0;
    for _ in 0..30 {
        let (d, s, v) = page(format!("{b}/compute/v2.1/servers/detail?limit=1000")).await;
        assert_eq!(v["servers"].as_array().unwrap().len(), 1000);
        lat.push(d);
        size = s;
        let (d, _, _) = page(format!(
            "{b}/compute/v2.1/servers/detail?limit=1000&marker={mid}"
        ))
        .await;
        deep.push(d);
    }
    // changes-since: touch 100 servers after a cut-off.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for id in ids.iter().take(100) {
        http.put(format!("{b}/compute/v2.1/servers/{id}"))
            .header("X-Auth-Token", "t")
            .json(&json!({"server": {"name": format!("{id}-renamed")}}))
            .send()
            .await
            .unwrap();
    }
    let mut delta = vec![];
    for _ in 0..30 {
        let (d, _, v) = page(format!(
            "{b}/compute/v2.1/servers/detail?changes-since={since}"
        ))
        .await;
        assert_eq!(v["servers"].as_array().unwrap().len(), 100);
        delta.push(d);
    }
    println!(
        "servers: {n} (each with one port), created in {:.1} s over HTTP",
        create.as_secs_f64()
    );
    println!(
        "/servers/detail?limit=1000 (first page, {size} bytes): p50 {:.1} ms, p95 {:.1} ms",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.95)
    );
    println!(
        "/servers/detail?limit=1000&marker=<1000th>: p50 {:.1} ms, p95 {:.1} ms",
        pct(&mut deep, 0.5),
        pct(&mut deep, 0.95)
    );
    println!(
        "/servers/detail?changes-since (100 of {n} changed): p50 {:.2} ms, p95 {:.2} ms",
        pct(&mut delta, 0.5),
        pct(&mut delta, 0.95)
    );
    println!(
        "RSS: {:.0} MiB before, {:.0} MiB after (whole process incl. client)",
        rss0,
        rss_mib()
    );
    sim.shutdown().await;
}
