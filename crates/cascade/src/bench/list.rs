//! `cascade bench list`: `GET /compute/v2.1/servers/detail?limit=1000` (and the brief list)
//! out of a large server index spread over many pods: the first page, pages walked with
//! markers, and the last page. Booting 100,000 servers through the API would take far too
//! long, so one real server is booted and its index row is cloned straight into Cascade's
//! database (`Store::insert_server`) with fresh ids, names, creation times and bottom ids,
//! spread round robin over the registered pods. Lists are answered from that index, which is
//! exactly what this measures; the pods (in this process) are not asked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cascade_store::Store;
use clap::Args;

use super::harness::{Harness, Samples, get_loop, uuid4};
use super::{Report, ms};

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Simulated pods (all in this process).
    #[arg(long, default_value_t = 100)]
    pub(crate) pods: usize,
    /// Servers in the index.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) servers: usize,
    /// Page size (`limit`).
    #[arg(long, default_value_t = 1000)]
    pub(crate) page: usize,
    /// Requests per measurement (sequential, one in flight).
    #[arg(long, default_value_t = 100)]
    pub(crate) samples: usize,
    /// Pages walked with markers per walk.
    #[arg(long, default_value_t = 10)]
    pub(crate) walk: usize,
    /// Upper bound of each measurement, in seconds.
    #[arg(long, default_value_t = 120)]
    pub(crate) max_secs: u64,
}

pub(crate) async fn run(args: ListArgs, log: &str) -> anyhow::Result<Report> {
    if args.pods == 0 || args.servers < 2 || args.page == 0 {
        bail!("--pods and --page must be at least 1, --servers at least 2");
    }
    let h = Harness::start(args.pods, log).await?;
    let result = measure(&h, &args).await;
    h.shutdown().await;
    result
}

/// Clones the template row `n - 1` times, older than it, round robin over the pods.
/// Returns the ids from oldest to newest (the template last).
async fn seed(h: &Harness, template_id: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let store = Store::connect(&h.database_url, None)
        .await
        .context("cannot open Cascade's database")?;
    let template = store.get_server(template_id).await?;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n - 1 {
        let pod = &h.pods[i % h.pods.len()];
        let mut row = template.clone();
        row.id = uuid4();
        row.name = format!("list-{i:06}");
        row.pod_id = Some(pod.pod_id.clone());
        row.az = pod.az.clone();
        row.bottom_id = Some(uuid4());
        // One millisecond apart, all older than the template.
        row.created_at = template.created_at - (n - i) as i64 * 1000;
        row.updated_at = row.created_at;
        row.launched_at = Some(row.created_at);
        store.insert_server(&row).await?;
        ids.push(row.id);
    }
    store.close().await;
    ids.push(template_id.to_string());
    Ok(ids)
}

/// `samples` sequential GETs of one URL.
async fn repeat(h: &Harness, url: String, samples: usize, max: Duration) -> Samples {
    get_loop(&h.http, &h.token, Arc::new(vec![url]), 1, samples, max).await
}

async fn measure(h: &Harness, args: &ListArgs) -> anyhow::Result<Report> {
    let mut report = Report::new("list");
    report.param("pods", args.pods);
    report.param("servers", args.servers);
    report.param("page", args.page);
    report.param("samples", args.samples);
    report.param("concurrency", 1);
    let image = h.compute_fixtures().await?;
    let (s, template) = h.boot("list-template", &image, Some(&h.pods[0].az)).await?;
    if s != 202 {
        bail!("server create answered {s}: {template}");
    }
    h.wait_active(
        std::slice::from_ref(&template),
        Duration::from_secs(60),
        Duration::from_millis(100),
    )
    .await?;
    report.memory("idle, before seeding", h.pid);
    let t = Instant::now();
    let ids = seed(h, &template, args.servers).await?;
    report.figure(
        "seeding the index (Store::insert_server)",
        t.elapsed().as_secs_f64(),
        "s",
    );
    report.memory("after seeding", h.pid);

    let max = Duration::from_secs(args.max_secs);
    let page = args.page;
    let base = format!("{}/compute/v2.1/servers", h.url);
    let first = format!("{base}/detail?limit={page}");
    // Warm-up (not recorded).
    repeat(h, first.clone(), 5, max).await;

    let size = h
        .http
        .get(&first)
        .header("x-auth-token", &h.token)
        .header("openstack-api-version", super::harness::MV)
        .send()
        .await?
        .bytes()
        .await?
        .len();
    report.figure("detail page body", size as f64 / 1024.0, "KiB");

    report.latency(
        &format!("GET /servers/detail?limit={page} (first page)"),
        repeat(h, first, args.samples, max).await.summary(),
    );
    report.latency(
        &format!("GET /servers?limit={page} (first page, brief)"),
        repeat(h, format!("{base}?limit={page}"), args.samples, max)
            .await
            .summary(),
    );

    // Walk pages with markers (newest first): page k + 1 starts after ids[n - k * page].
    let n = ids.len();
    let walk = args.walk.min(n / page).max(1);
    let mut urls = vec![format!("{base}/detail?limit={page}")];
    for k in 1..walk {
        let marker = &ids[n - k * page];
        urls.push(format!("{base}/detail?limit={page}&marker={marker}"));
    }
    let mut walked = Samples::default();
    let started = Instant::now();
    for _ in 0..args.samples.div_ceil(walk) {
        if started.elapsed() > max {
            break;
        }
        for u in &urls {
            walked.add(repeat(h, u.clone(), 1, max).await);
        }
    }
    report.latency(
        &format!("GET /servers/detail?limit={page}&marker=… ({walk} pages walked)"),
        walked.summary(),
    );

    // The last page: the `page` oldest servers, after the marker just newer than them.
    if n > page {
        let marker = &ids[page];
        report.latency(
            &format!("GET /servers/detail?limit={page}&marker=… (last page)"),
            repeat(
                h,
                format!("{base}/detail?limit={page}&marker={marker}"),
                args.samples,
                max,
            )
            .await
            .summary(),
        );
    }
    report.memory("after the lists", h.pid);
    report.figure(
        "p99 first detail page",
        report
            .latency
            .first()
            .map(|r| ms(r.summary.p99))
            .unwrap_or(0.0),
        "ms",
    );
    report.notes.push(format!(
        "{} servers seeded straight into the index over {} pods; lists are answered from the \
         index (the pods are not asked), one request in flight.",
        n, args.pods
    ));
    Ok(report)
}
