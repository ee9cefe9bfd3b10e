//! `cascade bench creates`: how fast Cascade accepts server creates (`POST /servers` answered
//! 202, the top row and the durable build job written) and how fast the builds finish (every
//! server ACTIVE in the index), with simulated pods whose build time is zero, so the figure is
//! Cascade's own pipeline: scheduling, the job engine and the build saga's pod calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;

use super::harness::Harness;
use super::{Report, Summary, cpu_time, ms};

#[derive(Debug, Args)]
pub(crate) struct CreatesArgs {
    /// Simulated pods.
    #[arg(long, default_value_t = 3)]
    pub(crate) pods: usize,
    /// Servers to create.
    #[arg(long, default_value_t = 500)]
    pub(crate) servers: usize,
    /// Creates in flight.
    #[arg(long, default_value_t = 32)]
    pub(crate) concurrency: usize,
    /// Give up waiting for ACTIVE after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub(crate) timeout_secs: u64,
}

pub(crate) async fn run(args: CreatesArgs, log: &str) -> anyhow::Result<Report> {
    if args.pods == 0 || args.servers == 0 {
        bail!("--pods and --servers must be at least 1");
    }
    let h = Arc::new(Harness::start(args.pods, log).await?);
    let result = measure(&h, &args).await;
    match Arc::try_unwrap(h) {
        Ok(h) => h.shutdown().await,
        Err(_) => bail!("harness still shared"),
    }
    result
}

async fn measure(h: &Arc<Harness>, args: &CreatesArgs) -> anyhow::Result<Report> {
    let mut report = Report::new("creates");
    report.param("pods", args.pods);
    report.param("servers", args.servers);
    report.param("concurrency", args.concurrency);
    report.param("sim_build_time_s", 0);
    let image = h.compute_fixtures().await?;
    // One server per pod first, not measured: copies the image and the flavor to every pod.
    let mut warm = Vec::new();
    for (i, p) in h.pods.iter().enumerate() {
        let (s, id) = h.boot(&format!("warm-{i}"), &image, Some(&p.az)).await?;
        if s != 202 {
            bail!("warm-up create answered {s}: {id}");
        }
        warm.push(id);
    }
    h.wait_active(&warm, Duration::from_secs(120), Duration::from_millis(100))
        .await?;
    report.memory("idle, after setup", h.pid);

    let timeout = Duration::from_secs(args.timeout_secs);
    let cpu0 = cpu_time(h.pid);
    let started = Instant::now();
    let deadline = started + timeout;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (h, next, image, n) = (h.clone(), next.clone(), image.clone(), args.servers);
        workers.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() > deadline {
                    return out;
                }
                let t = Instant::now();
                let r = h.boot(&format!("bench-{i}"), &image, None).await;
                out.push((t.elapsed(), r));
            }
        });
    }
    let mut samples = Vec::new();
    let mut ids = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some(r) = workers.join_next().await {
        for (d, r) in r? {
            match r {
                Ok((202, id)) => {
                    samples.push(d);
                    ids.push(id);
                }
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
    let accepted_in = started.elapsed();
    let cpu1 = cpu_time(h.pid);
    report.memory("after the creates were accepted", h.pid);
    let (active, error) = h
        .wait_active(
            &ids,
            timeout.saturating_sub(accepted_in),
            Duration::from_millis(100),
        )
        .await?;
    let active_in = started.elapsed();
    let cpu2 = cpu_time(h.pid);
    report.memory("after every server was ACTIVE", h.pid);
    let accepted = ids.len();
    report.latency(
        "POST /compute/v2.1/servers → 202",
        Summary::of(samples, errors, accepted_in),
    );
    report.figure(
        "accepted creates per second",
        accepted as f64 / accepted_in.as_secs_f64(),
        "/s",
    );
    report.figure(
        "creates to ACTIVE per second (first POST → last ACTIVE)",
        active as f64 / active_in.as_secs_f64(),
        "/s",
    );
    report.figure("all accepted after", accepted_in.as_secs_f64(), "s");
    report.figure("all ACTIVE after", active_in.as_secs_f64(), "s");
    let per = |t: Duration, n: usize| ms(t) / n.max(1) as f64;
    report.figure(
        "Cascade CPU per accepted create (POST phase)",
        per(cpu1 - cpu0, accepted),
        "ms",
    );
    report.figure(
        "Cascade CPU per server, POST to ACTIVE",
        per(cpu2 - cpu0, accepted),
        "ms",
    );
    report.figure("servers ACTIVE", active as f64, "");
    report.figure("servers ERROR", error as f64, "");
    if let Some(e) = first_error {
        report.notes.push(format!("first failed create: {e}"));
    }
    report.notes.push(
        "ACTIVE is read from Cascade's index (GET /servers?status=ACTIVE, polled every 100 ms)."
            .into(),
    );
    Ok(report)
}
