//! `cascade bench`: reproduces the compute figures of BENCHMARKS.md with one command each
//! (`proxy`, `creates`, `list`). Cascade runs as a child process (`cascade serve` on a fresh
//! SQLite file with the embedded identity), so the memory read from `/proc/<pid>/status` is
//! Cascade's alone; the simulated pods and the load generator live in this process and talk
//! to Cascade over loopback. Every load loop is bounded in count and in time. Percentiles are
//! computed by sorting all samples (nearest rank).

mod creates;
mod harness;
mod list;
mod network;
mod proxy;

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    pub(crate) command: BenchCommand,
    /// Print the results as JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Log filter of the Cascade child process (`CASCADE_LOG`); `info` logs every request.
    #[arg(long, global = true, default_value = "warn")]
    pub(crate) log: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Added latency of a proxied `GET /servers/{id}` vs the same GET asked from the pod.
    Proxy(proxy::ProxyArgs),
    /// Accepted creates per second (POST → 202) and creates to ACTIVE per second.
    Creates(creates::CreatesArgs),
    /// A 1,000-server page out of a large server index spread over many pods.
    List(list::ListArgs),
    /// Router attach across pods, ports per second and shadow-port convergence.
    Network(network::NetworkArgs),
}

/// `cascade bench …`.
pub(crate) async fn run(args: BenchArgs, json_format: bool) -> anyhow::Result<()> {
    crate::telemetry::init("pretty", "warn");
    let json = args.json || json_format;
    let report = match args.command {
        BenchCommand::Proxy(a) => proxy::run(a, &args.log).await?,
        BenchCommand::Creates(a) => creates::run(a, &args.log).await?,
        BenchCommand::List(a) => list::run(a, &args.log).await?,
        BenchCommand::Network(a) => network::run(a, &args.log).await?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        report.print();
    }
    Ok(())
}

/// Latency summary of one measurement.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub(crate) n: usize,
    pub(crate) errors: usize,
    pub(crate) wall: Duration,
    pub(crate) p50: Duration,
    pub(crate) p90: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
    pub(crate) mean: Duration,
}

impl Summary {
    pub(crate) fn of(mut samples: Vec<Duration>, errors: usize, wall: Duration) -> Summary {
        samples.sort_unstable();
        let pick = |p: f64| -> Duration {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1]
        };
        let total: Duration = samples.iter().sum();
        Summary {
            n: samples.len(),
            errors,
            wall,
            p50: pick(50.0),
            p90: pick(90.0),
            p99: pick(99.0),
            max: samples.last().copied().unwrap_or_default(),
            mean: if samples.is_empty() {
                Duration::ZERO
            } else {
                total / samples.len() as u32
            },
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            self.n as f64 / self.wall.as_secs_f64()
        }
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One row of a latency table.
#[derive(Debug, Clone)]
pub(crate) struct LatencyRow {
    pub(crate) label: String,
    pub(crate) summary: Summary,
}

/// What a benchmark prints.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) title: String,
    pub(crate) params: Vec<(String, Value)>,
    pub(crate) latency: Vec<LatencyRow>,
    /// Named figures: (label, value, unit).
    pub(crate) figures: Vec<(String, f64, String)>,
    /// Cascade's memory: (moment, VmRSS KiB, VmHWM KiB).
    pub(crate) memory: Vec<(String, u64, u64)>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn new(title: &str) -> Report {
        Report {
            title: title.into(),
            ..Report::default()
        }
    }

    pub(crate) fn param(&mut self, k: &str, v: impl Into<Value>) {
        self.params.push((k.into(), v.into()));
    }

    pub(crate) fn latency(&mut self, label: &str, summary: Summary) {
        self.latency.push(LatencyRow {
            label: label.into(),
            summary,
        });
    }

    pub(crate) fn figure(&mut self, label: &str, value: f64, unit: &str) {
        self.figures.push((label.into(), value, unit.into()));
    }

    pub(crate) fn memory(&mut self, moment: &str, pid: u32) {
        let (rss, hwm) = memory_kib(pid);
        self.memory.push((moment.into(), rss, hwm));
    }

    fn to_json(&self) -> Value {
        json!({
            "bench": self.title,
            "params": self.params.iter().cloned().collect::<serde_json::Map<_, _>>(),
            "latency": self.latency.iter().map(|r| json!({
                "label": r.label, "n": r.summary.n, "errors": r.summary.errors,
                "per_second": r.summary.rate(),
                "p50_ms": ms(r.summary.p50), "p90_ms": ms(r.summary.p90),
                "p99_ms": ms(r.summary.p99), "max_ms": ms(r.summary.max),
                "mean_ms": ms(r.summary.mean),
            })).collect::<Vec<_>>(),
            "figures": self.figures.iter().map(|(l, v, u)| json!({"label": l, "value": v, "unit": u})).collect::<Vec<_>>(),
            "cascade_memory": self.memory.iter().map(|(m, rss, hwm)| json!({"moment": m, "vm_rss_kib": rss, "vm_hwm_kib": hwm})).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }

    fn print(&self) {
        use comfy_table::{Table, presets::ASCII_MARKDOWN};
        println!("\n## cascade bench {}\n", self.title);
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        println!("{}\n", params.join(" "));
        if !self.latency.is_empty() {
            let mut t = Table::new();
            t.load_preset(ASCII_MARKDOWN);
            t.set_header([
                "measurement",
                "n",
                "errors",
                "per s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
            ]);
            for r in &self.latency {
                let s = &r.summary;
                t.add_row([
                    r.label.clone(),
                    s.n.to_string(),
                    s.errors.to_string(),
                    format!("{:.0}", s.rate()),
                    format!("{:.3}", ms(s.p50)),
                    format!("{:.3}", ms(s.p90)),
                    format!("{:.3}", ms(s.p99)),
                    format!("{:.3}", ms(s.max)),
                ]);
            }
            println!("{t}\n");
        }
        if !self.figures.is_empty() {
            let mut t = Table::new();
            t.load_preset(ASCII_MARKDOWN);
            t.set_header(["figure", "value"]);
            for (l, v, u) in &self.figures {
                t.add_row([l.clone(), format!("{v:.3} {u}")]);
            }
            println!("{t}\n");
        }
        if !self.memory.is_empty() {
            let mut t = Table::new();
            t.load_preset(ASCII_MARKDOWN);
            t.set_header(["Cascade process memory", "VmRSS MiB", "VmHWM MiB"]);
            for (m, rss, hwm) in &self.memory {
                t.add_row([
                    m.clone(),
                    format!("{:.1}", *rss as f64 / 1024.0),
                    format!("{:.1}", *hwm as f64 / 1024.0),
                ]);
            }
            println!("{t}\n");
        }
        for n in &self.notes {
            println!("- {n}");
        }
    }
}

/// `VmRSS` and `VmHWM` of a process, in KiB (0 when unreadable).
pub(crate) fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat` (clock ticks
/// of 10 ms, the Linux default).
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Summary::of(samples, 0, Duration::from_secs(1));
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p90, Duration::from_millis(90));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(s.n, 100);
        assert!((s.rate() - 100.0).abs() < 1e-9);
        let empty = Summary::of(Vec::new(), 3, Duration::ZERO);
        assert_eq!(empty.p99, Duration::ZERO);
        assert_eq!(empty.errors, 3);
    }

    #[test]
    fn cpu_time_of_this_process_grows() {
        let me = std::process::id();
        let before = cpu_time(me);
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_time(me) >= before);
        assert!(memory_kib(me).0 > 0);
    }
}
