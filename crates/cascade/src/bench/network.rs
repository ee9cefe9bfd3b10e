//! `cascade bench network`: the networking figures of BENCHMARKS.md, through Cascade's
//! Neutron API (`/network/v2.0`) and Nova (`/compute/v2.1`), with simulated pods asked
//! directly (their own Neutron) to see when the bottom state has converged. Three
//! measurements: (1) attaching a router interface to a network that spans every pod — the
//! API call, then the convergence until the `network.router_sync` jobs are `SUCCESS` and every
//! pod holds its bottom router, with the bottom Neutron calls counted from Cascade's
//! `cascade_pod_calls_total` (service `network`); (2) port creates per second at a fixed
//! concurrency on one network; (3) shadow-port convergence: from `POST /servers` on the
//! spanning network until every other pod holds the server's `compute:shadow` port. Every
//! wait and load loop is bounded in count and in time.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::harness::{FLAVOR, Harness};
use super::{Report, Summary, cpu_time, ms};

/// The router convergence job type (crates/core/src/network/jobs.rs).
const ROUTER_SYNC: &str = "network.router_sync";

#[derive(Debug, Args)]
pub(crate) struct NetworkArgs {
    /// Simulated pods (the spanning network gets one server per pod).
    #[arg(long, default_value_t = 10)]
    pub(crate) pods: usize,
    /// Ports to create for the ports-per-second measurement (0: skip).
    #[arg(long, default_value_t = 500)]
    pub(crate) ports: usize,
    /// Port creates in flight.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Servers booted one after the other for the shadow-port convergence (0: skip).
    #[arg(long, default_value_t = 5)]
    pub(crate) shadow_runs: usize,
    /// Upper bound of every wait (ACTIVE, jobs, convergence), in seconds.
    #[arg(long, default_value_t = 120)]
    pub(crate) timeout_secs: u64,
}

pub(crate) async fn run(args: NetworkArgs, log: &str) -> anyhow::Result<Report> {
    if args.pods < 2 {
        bail!("--pods must be at least 2");
    }
    let h = Arc::new(Harness::start(args.pods, log).await?);
    let result = measure(&h, &args).await;
    match Arc::try_unwrap(h) {
        Ok(h) => h.shutdown().await,
        Err(_) => bail!("harness still shared"),
    }
    result
}

/// Every pod's Neutron base (`…/network`), in pod order.
fn pod_network_urls(h: &Harness) -> Vec<String> {
    h.pods
        .iter()
        .map(|p| {
            p.compute_url
                .strip_suffix("/compute/v2.1")
                .map(|b| format!("{b}/network"))
                .unwrap_or_else(|| p.compute_url.clone())
        })
        .collect()
}

async fn neutron(
    h: &Harness,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    h.call(method, &format!("/network/v2.0{path}"), body).await
}

async fn create(h: &Harness, coll: &str, single: &str, body: Value) -> anyhow::Result<String> {
    let (s, v) = neutron(
        h,
        Method::POST,
        &format!("/{coll}"),
        Some(json!({ single: body })),
    )
    .await?;
    if s != 201 {
        bail!("create {single} answered {s}: {v}");
    }
    v[single]["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no id in the {single}: {v}"))
}

/// A network with one IPv4 subnet; returns (network id, subnet id).
async fn network_with_subnet(
    h: &Harness,
    name: &str,
    cidr: &str,
) -> anyhow::Result<(String, String)> {
    let net = create(h, "networks", "network", json!({"name": name})).await?;
    let sub = create(
        h,
        "subnets",
        "subnet",
        json!({"network_id": net, "cidr": cidr, "ip_version": 4}),
    )
    .await?;
    Ok((net, sub))
}

/// `GET` on a pod's own API with the admin token.
async fn pod_get(h: &Harness, url: &str) -> anyhow::Result<Value> {
    let r = h
        .http
        .get(url)
        .header("x-auth-token", &h.token)
        .send()
        .await?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if status != 200 {
        bail!("GET {url} answered {status}: {v}");
    }
    Ok(v)
}

/// Sum of Cascade's `cascade_pod_calls_total` over pods and outcomes for `service`.
async fn pod_calls(h: &Harness, service: &str) -> anyhow::Result<f64> {
    let text = h
        .http
        .get(format!("{}/metrics", h.url))
        .header("x-auth-token", &h.token)
        .send()
        .await?
        .text()
        .await?;
    let label = format!("service=\"{service}\"");
    Ok(text
        .lines()
        .filter(|l| l.starts_with("cascade_pod_calls_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// `POST /servers` on `net` in `az`; returns the server id.
async fn boot_on(
    h: &Harness,
    name: &str,
    image: &str,
    az: &str,
    net: &str,
) -> anyhow::Result<String> {
    let server = json!({"name": name, "flavorRef": FLAVOR, "imageRef": image,
        "networks": [{"uuid": net}], "availability_zone": az});
    let (s, v) = h
        .call(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({"server": server})),
        )
        .await?;
    if s != 202 {
        bail!("server create answered {s}: {v}");
    }
    v["server"]["id"]
        .as_str()
        .map(str::to_string)
        .context("no server id")
}

/// Jobs of a network type still to run (`NEW` or `RUNNING`).
async fn pending_network_jobs(h: &Harness) -> anyhow::Result<usize> {
    let mut n = 0;
    for status in ["NEW", "RUNNING"] {
        let (s, v) = h
            .call(Method::GET, &format!("/v1.0/jobs?status={status}"), None)
            .await?;
        if s != 200 {
            bail!("job list answered {s}: {v}");
        }
        n += v["jobs"].as_array().map_or(0, |j| {
            j.iter()
                .filter(|j| {
                    j["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("network."))
                })
                .count()
        });
    }
    Ok(n)
}

/// Waits (bounded) until no network job is `NEW` or `RUNNING`.
async fn wait_network_idle(h: &Harness, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let n = pending_network_jobs(h).await?;
        if n == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{n} network jobs still pending after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(id, status)` of every `network.router_sync` job.
async fn router_sync_jobs(h: &Harness) -> anyhow::Result<Vec<(String, String)>> {
    let (s, v) = h
        .call(Method::GET, &format!("/v1.0/jobs?type={ROUTER_SYNC}"), None)
        .await?;
    if s != 200 {
        bail!("job list answered {s}: {v}");
    }
    Ok(v["jobs"]
        .as_array()
        .map(|j| {
            j.iter()
                .map(|j| {
                    (
                        j["id"].as_str().unwrap_or_default().to_string(),
                        j["status"].as_str().unwrap_or_default().to_uppercase(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

async fn measure(h: &Arc<Harness>, args: &NetworkArgs) -> anyhow::Result<Report> {
    let mut report = Report::new("network");
    report.param("pods", args.pods);
    report.param("ports", args.ports);
    report.param("concurrency", args.concurrency);
    report.param("shadow_runs", args.shadow_runs);
    report.param("sim_build_time_s", 0);
    let timeout = Duration::from_secs(args.timeout_secs);
    let nets = pod_network_urls(h);
    let image = h.compute_fixtures().await?;
    // Unlimited ports: the ports measurement alone creates `--ports` of them.
    let (s, v) = neutron(
        h,
        Method::PUT,
        &format!("/quotas/{}", h.project_id),
        Some(json!({"quota": {"port": -1, "network": -1, "subnet": -1, "router": -1}})),
    )
    .await?;
    if s != 200 {
        report
            .notes
            .push(format!("network quota update answered {s}: {v}"));
    }

    // 1. A network spanning every pod: one server per pod, all ACTIVE, jobs settled.
    let (span_net, span_sub) = network_with_subnet(h, "span", "10.60.0.0/22").await?;
    let mut servers = Vec::new();
    for (i, p) in h.pods.iter().enumerate() {
        servers.push(boot_on(h, &format!("span-{i}"), &image, &p.az, &span_net).await?);
    }
    let (active, error) = h
        .wait_active(&servers, timeout, Duration::from_millis(100))
        .await?;
    if error > 0 {
        bail!("{error} of the spanning servers went to ERROR ({active} ACTIVE)");
    }
    wait_network_idle(h, timeout).await?;
    let (_other_net, other_sub) = network_with_subnet(h, "other", "10.61.0.0/24").await?;
    let router = create(h, "routers", "router", json!({"name": "bench-router"})).await?;
    // The first interface (a network with no ports yet) is not the measured one.
    let t = Instant::now();
    let (s, v) = neutron(
        h,
        Method::PUT,
        &format!("/routers/{router}/add_router_interface"),
        Some(json!({"subnet_id": other_sub})),
    )
    .await?;
    if s != 200 {
        bail!("add_router_interface (other) answered {s}: {v}");
    }
    let first_attach = t.elapsed();
    wait_network_idle(h, timeout).await?;
    report.memory("idle, after setup", h.pid);

    let jobs_before: HashSet<String> = router_sync_jobs(h)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let calls0 = pod_calls(h, "network").await?;
    let cpu0 = cpu_time(h.pid);
    let started = Instant::now();
    let (s, v) = neutron(
        h,
        Method::PUT,
        &format!("/routers/{router}/add_router_interface"),
        Some(json!({"subnet_id": span_sub})),
    )
    .await?;
    let api = started.elapsed();
    if s != 200 {
        bail!("add_router_interface (span) answered {s}: {v}");
    }
    let deadline = started + timeout;
    let (mut jobs_done, mut pods_done): (Option<Duration>, Option<Duration>) = (None, None);
    let mut new_jobs = 0usize;
    let mut pods_with_router = 0usize;
    let mut calls_at_converged = None;
    while jobs_done.is_none() || pods_done.is_none() {
        if Instant::now() > deadline {
            report.notes.push(format!(
                "router convergence timed out after {timeout:?}: {pods_with_router} of {} pods had a router, jobs done: {}",
                args.pods,
                jobs_done.is_some()
            ));
            break;
        }
        if jobs_done.is_none() {
            let jobs: Vec<(String, String)> = router_sync_jobs(h)
                .await?
                .into_iter()
                .filter(|(id, _)| !jobs_before.contains(id))
                .collect();
            new_jobs = jobs.len();
            if !jobs.is_empty() && jobs.iter().all(|(_, st)| st == "SUCCESS") {
                jobs_done = Some(started.elapsed());
            }
        }
        if pods_done.is_none() {
            let mut n = 0;
            for url in &nets {
                let v = pod_get(h, &format!("{url}/v2.0/routers")).await?;
                if v["routers"].as_array().is_some_and(|r| !r.is_empty()) {
                    n += 1;
                }
            }
            pods_with_router = n;
            if n == nets.len() {
                pods_done = Some(started.elapsed());
            }
        }
        if jobs_done.is_some() && pods_done.is_some() {
            calls_at_converged = Some(pod_calls(h, "network").await? - calls0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu1 = cpu_time(h.pid);
    let idle = wait_network_idle(h, timeout).await;
    let calls_idle = pod_calls(h, "network").await? - calls0;
    let cpu2 = cpu_time(h.pid);
    if let Err(e) = idle {
        report.notes.push(format!("after the attach: {e}"));
    }
    let mut bottom_routers = 0usize;
    for url in &nets {
        let v = pod_get(h, &format!("{url}/v2.0/routers")).await?;
        bottom_routers += v["routers"].as_array().map_or(0, Vec::len);
    }
    report.latency(
        "PUT add_router_interface (network spanning all pods)",
        Summary::of(vec![api], 0, api),
    );
    report.figure(
        "router attach: first interface (network without ports), API call",
        ms(first_attach),
        "ms",
    );
    report.figure("router attach: API call (spanning network)", ms(api), "ms");
    if let Some(d) = jobs_done {
        report.figure("router attach: PUT → router_sync jobs SUCCESS", ms(d), "ms");
    }
    if let Some(d) = pods_done {
        report.figure(
            "router attach: PUT → every pod has its bottom router",
            ms(d),
            "ms",
        );
    }
    report.figure("router attach: new router_sync jobs", new_jobs as f64, "");
    if let Some(c) = calls_at_converged {
        report.figure("router attach: bottom Neutron calls until converged", c, "");
    }
    report.figure(
        "router attach: bottom Neutron calls until every network job is done",
        calls_idle,
        "",
    );
    report.figure(
        "bottom routers across the pods afterwards",
        bottom_routers as f64,
        "",
    );
    report.figure(
        "router attach: Cascade CPU, PUT → converged",
        ms(cpu1.saturating_sub(cpu0)),
        "ms",
    );
    report.figure(
        "router attach: Cascade CPU, PUT → all network jobs done",
        ms(cpu2.saturating_sub(cpu0)),
        "ms",
    );

    // 2. Ports per second on one network.
    if args.ports > 0 {
        let (ports_net, _) = network_with_subnet(h, "ports", "10.64.0.0/20").await?;
        let cpu0 = cpu_time(h.pid);
        let started = Instant::now();
        let deadline = started + timeout;
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..args.concurrency.max(1) {
            let (h, next, net, n) = (h.clone(), next.clone(), ports_net.clone(), args.ports);
            workers.spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || Instant::now() > deadline {
                        return out;
                    }
                    let t = Instant::now();
                    let r = neutron(
                        &h,
                        Method::POST,
                        "/ports",
                        Some(
                            json!({"port": {"network_id": net, "name": format!("bench-port-{i}")}}),
                        ),
                    )
                    .await;
                    out.push((t.elapsed(), r));
                }
            });
        }
        let mut samples = Vec::new();
        let mut errors = 0;
        let mut first_error = None;
        while let Some(r) = workers.join_next().await {
            for (d, r) in r? {
                match r {
                    Ok((201, _)) => samples.push(d),
                    Ok((s, body)) => {
                        errors += 1;
                        first_error.get_or_insert(format!("{s}: {body}"));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
            }
        }
        let wall = started.elapsed();
        let cpu = cpu_time(h.pid).saturating_sub(cpu0);
        let accepted = samples.len();
        report.latency(
            "POST /network/v2.0/ports → 201",
            Summary::of(samples, errors, wall),
        );
        report.figure(
            "ports accepted per second",
            accepted as f64 / wall.as_secs_f64(),
            "/s",
        );
        report.figure(
            "Cascade CPU per port create",
            ms(cpu) / accepted.max(1) as f64,
            "ms",
        );
        if let Some(e) = first_error {
            report.notes.push(format!("first failed port create: {e}"));
        }
    }

    // 3. Shadow-port convergence after a boot on the spanning network.
    let mut shadow = Vec::new();
    let mut to_active = Vec::new();
    let mut shadow_errors = 0;
    let shadow_started = Instant::now();
    for run in 0..args.shadow_runs {
        let home = run % h.pods.len();
        let started = Instant::now();
        let id = boot_on(
            h,
            &format!("shadow-{run}"),
            &image,
            &h.pods[home].az,
            &span_net,
        )
        .await?;
        let deadline = started + timeout;
        let mut ip: Option<String> = None;
        let mut active: Option<Duration> = None;
        let mut converged = None;
        while Instant::now() <= deadline {
            if ip.is_none() {
                let (_, v) =
                    neutron(h, Method::GET, &format!("/ports?device_id={id}"), None).await?;
                ip = v["ports"][0]["fixed_ips"][0]["ip_address"]
                    .as_str()
                    .map(str::to_string);
            }
            if let Some(ip) = &ip {
                let mut missing = 0;
                for (i, url) in nets.iter().enumerate() {
                    if i == home {
                        continue;
                    }
                    let v = pod_get(h, &format!("{url}/v2.0/ports?device_id={id}")).await?;
                    let has = v["ports"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| {
                            p["device_owner"] == "compute:shadow"
                                && p["fixed_ips"].as_array().is_some_and(|f| {
                                    f.iter().any(|f| f["ip_address"] == ip.as_str())
                                })
                        })
                    });
                    if !has {
                        missing += 1;
                        break;
                    }
                }
                if missing == 0 {
                    converged = Some(started.elapsed());
                }
            }
            if active.is_none() {
                let (_, v) = h
                    .call(Method::GET, &format!("/compute/v2.1/servers/{id}"), None)
                    .await?;
                if v["server"]["status"] == "ACTIVE" {
                    active = Some(started.elapsed());
                }
            }
            if converged.is_some() && active.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match converged {
            Some(d) => shadow.push(d),
            None => shadow_errors += 1,
        }
        if let Some(a) = active {
            to_active.push(a);
        }
        // Let the follow-up jobs finish so each run starts from a settled state.
        let _ = wait_network_idle(h, timeout).await;
    }
    if args.shadow_runs > 0 {
        let wall = shadow_started.elapsed();
        report.latency(
            "POST /servers → ACTIVE (spanning network)",
            Summary::of(to_active, 0, wall),
        );
        report.latency(
            "POST /servers → shadow port in every other pod",
            Summary::of(shadow, shadow_errors, wall),
        );
    }
    report.memory("end", h.pid);
    report.notes.push(
        "Bottom calls: Cascade's /metrics cascade_pod_calls_total{service=\"network\"}, summed over pods and outcomes, after minus before the measured attach.".into(),
    );
    report.notes.push(
        "Convergence is polled every ~20 ms: router_sync jobs via /v1.0/jobs, bottom routers and shadow ports asked from each simulated pod's own Neutron.".into(),
    );
    report.notes.push(
        "The latency rows of single events (router attach) have n=1; 'per s' is meaningless there."
            .into(),
    );
    Ok(report)
}
