//! `cascade bench proxy`: the latency Cascade adds to `GET /compute/v2.1/servers/{id}` (a live
//! read from the server's pod) compared with the same bottom server asked directly from the
//! pod (`GET {pod compute url}/servers/{bottom id}`), both at the same concurrency with one
//! shared HTTP client and the same token and microversion. The two are measured in
//! alternating rounds after a warm-up, so drift on the shared machine hits both alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;

use super::harness::{Harness, Samples, get_loop};
use super::{Report, cpu_time, ms};

#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Simulated pods.
    #[arg(long, default_value_t = 3)]
    pub(crate) pods: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// Measured requests per path (Cascade and direct each), after the warm-up.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) requests: usize,
    /// Servers booted (spread over the pods' AZs); the GETs go round robin over them.
    #[arg(long, default_value_t = 30)]
    pub(crate) servers: usize,
    /// Alternating rounds (direct, then Cascade) the requests are split into.
    #[arg(long, default_value_t = 4)]
    pub(crate) rounds: usize,
    /// Warm-up requests per path (not recorded).
    #[arg(long, default_value_t = 1000)]
    pub(crate) warmup: usize,
    /// Requests per path measured again with one in flight (0: skip).
    #[arg(long, default_value_t = 2000)]
    pub(crate) serial_requests: usize,
    /// Upper bound of each round, in seconds.
    #[arg(long, default_value_t = 60)]
    pub(crate) max_round_secs: u64,
}

pub(crate) async fn run(args: ProxyArgs, log: &str) -> anyhow::Result<Report> {
    if args.pods == 0 || args.servers == 0 || args.requests == 0 {
        bail!("--pods, --servers and --requests must be at least 1");
    }
    let h = Harness::start(args.pods, log).await?;
    let result = measure(&h, &args).await;
    h.shutdown().await;
    result
}

async fn measure(h: &Harness, args: &ProxyArgs) -> anyhow::Result<Report> {
    let mut report = Report::new("proxy");
    report.param("pods", args.pods);
    report.param("concurrency", args.concurrency);
    report.param("requests", args.requests);
    report.param("servers", args.servers);
    report.param("rounds", args.rounds);
    report.param("microversion", super::harness::MV);
    let image = h.compute_fixtures().await?;
    let mut ids = Vec::new();
    for i in 0..args.servers {
        let az = &h.pods[i % h.pods.len()].az;
        let (s, id) = h.boot(&format!("proxy-{i}"), &image, Some(az)).await?;
        if s != 202 {
            bail!("server create answered {s}: {id}");
        }
        ids.push(id);
    }
    let (active, error) = h
        .wait_active(&ids, Duration::from_secs(120), Duration::from_millis(100))
        .await?;
    if error > 0 || active != ids.len() {
        bail!("{error} of {} servers went to ERROR", ids.len());
    }
    let mut via_cascade = Vec::new();
    let mut direct = Vec::new();
    for id in &ids {
        let (s, v) = h
            .call(
                Method::GET,
                &format!("/v1.0/routings?top_id={id}&resource_type=server"),
                None,
            )
            .await?;
        let routing = &v["routings"][0];
        let (Some(pod_id), Some(bottom)) =
            (routing["pod_id"].as_str(), routing["bottom_id"].as_str())
        else {
            bail!("no routing for server {id} ({s}): {v}");
        };
        let pod = h
            .pods
            .iter()
            .find(|p| p.pod_id == pod_id)
            .with_context(|| format!("unknown pod {pod_id}"))?;
        via_cascade.push(format!("{}/compute/v2.1/servers/{id}", h.url));
        direct.push(format!("{}/servers/{bottom}", pod.compute_url));
    }
    let (via_cascade, direct) = (Arc::new(via_cascade), Arc::new(direct));
    report.memory("idle, after setup", h.pid);

    let max = Duration::from_secs(args.max_round_secs);
    let c = args.concurrency;
    get_loop(&h.http, &h.token, direct.clone(), c, args.warmup, max).await;
    get_loop(&h.http, &h.token, via_cascade.clone(), c, args.warmup, max).await;

    let rounds = args.rounds.clamp(1, args.requests);
    let (mut d, mut v) = (Samples::default(), Samples::default());
    let me = std::process::id();
    // CPU used by Cascade and by this process (client + pods) during each path's rounds.
    let (mut d_cpu, mut v_cpu) = (
        (Duration::ZERO, Duration::ZERO),
        (Duration::ZERO, Duration::ZERO),
    );
    let started = Instant::now();
    for r in 0..rounds {
        // The requests split exactly: the first `requests % rounds` rounds take one more.
        let per_round = args.requests / rounds + usize::from(r < args.requests % rounds);
        let (c0, b0) = (cpu_time(h.pid), cpu_time(me));
        d.add(get_loop(&h.http, &h.token, direct.clone(), c, per_round, max).await);
        let (c1, b1) = (cpu_time(h.pid), cpu_time(me));
        v.add(get_loop(&h.http, &h.token, via_cascade.clone(), c, per_round, max).await);
        let (c2, b2) = (cpu_time(h.pid), cpu_time(me));
        d_cpu = (d_cpu.0 + (c1 - c0), d_cpu.1 + (b1 - b0));
        v_cpu = (v_cpu.0 + (c2 - c1), v_cpu.1 + (b2 - b1));
    }
    let (d, v) = (d.summary(), v.summary());
    report.memory("after the measured GETs", h.pid);
    report.figure(
        "added latency p50 (Cascade - direct)",
        ms(v.p50) - ms(d.p50),
        "ms",
    );
    report.figure(
        "added latency p90 (Cascade - direct)",
        ms(v.p90) - ms(d.p90),
        "ms",
    );
    report.figure(
        "added latency p99 (Cascade - direct)",
        ms(v.p99) - ms(d.p99),
        "ms",
    );
    let per = |t: Duration, n: usize| ms(t) / n.max(1) as f64;
    report.figure("Cascade CPU per proxied GET", per(v_cpu.0, v.n), "ms");
    report.figure("client + pods CPU per proxied GET", per(v_cpu.1, v.n), "ms");
    report.figure("client + pods CPU per direct GET", per(d_cpu.1, d.n), "ms");
    report.figure(
        "Cascade CPU while the direct GETs ran (background)",
        ms(d_cpu.0),
        "ms",
    );
    report.figure("measurement time", started.elapsed().as_secs_f64(), "s");
    report.latency("GET pod /servers/{bottom id} (direct)", d);
    report.latency("GET Cascade /compute/v2.1/servers/{id}", v);

    // One request in flight: the service time of each path, without queueing.
    if args.serial_requests > 0 {
        let n = args.serial_requests;
        let d1 = get_loop(&h.http, &h.token, direct.clone(), 1, n, max)
            .await
            .summary();
        let v1 = get_loop(&h.http, &h.token, via_cascade.clone(), 1, n, max)
            .await
            .summary();
        report.figure(
            "added latency p50, 1 in flight",
            ms(v1.p50) - ms(d1.p50),
            "ms",
        );
        report.figure(
            "added latency p99, 1 in flight",
            ms(v1.p99) - ms(d1.p99),
            "ms",
        );
        report.latency("direct, 1 in flight", d1);
        report.latency("Cascade, 1 in flight", v1);
    }
    report.notes.push(
        "The Cascade path validates the token (embedded identity, SQLite), reads the server \
         index and the pod registry, asks the pod live and renders the answer."
            .into(),
    );
    Ok(report)
}
