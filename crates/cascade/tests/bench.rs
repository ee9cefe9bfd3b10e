//! `cascade bench` runs end to end: its arguments parse (and bad ones are refused by clap), and
//! one tiny `proxy` run (a `cascade serve` child, one simulated pod, a few GETs) completes and
//! prints its figures as JSON. This checks the command works, not how fast anything is.

use std::process::{Command, Stdio};

fn cascade() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cascade"));
    c.env_remove("OS_AUTH_URL").env_remove("CASCADE_URL");
    c
}

#[test]
fn bench_arguments_parse() {
    for sub in ["proxy", "creates", "list"] {
        let out = cascade().args(["bench", sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "bench {sub} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("--pods"));
    }
    let out = cascade()
        .args(["bench", "proxy", "--pods", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses a bad number");
    let out = cascade().args(["bench", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tiny_proxy_run_completes() {
    let out = cascade()
        .args([
            "bench",
            "proxy",
            "--pods",
            "1",
            "--servers",
            "2",
            "--requests",
            "50",
            "--concurrency",
            "4",
            "--warmup",
            "10",
            "--serial-requests",
            "10",
            "--max-round-secs",
            "10",
            "--json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "bench proxy failed: {}", out.status);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["bench"], "proxy");
    let latency = report["latency"].as_array().unwrap();
    assert_eq!(latency.len(), 4);
    for row in &latency[..2] {
        assert_eq!(row["n"], 50, "{row}");
        assert_eq!(row["errors"], 0, "{row}");
        assert!(row["p99_ms"].as_f64().unwrap() > 0.0);
    }
    assert!(report["cascade_memory"][0]["vm_rss_kib"].as_u64().unwrap() > 0);
}
