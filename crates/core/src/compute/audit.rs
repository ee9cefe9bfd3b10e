//! `os-instance_usage_audit_log` over every pod: each pod's report of its periodic instance
//! usage audit for the period before a time, merged into one (hosts named `<host>@<region>`,
//! counts summed, the overall status recomputed as Nova words it). A pod that does not answer
//! is left out.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use super::Compute;
use super::hosts::qualified_host;
use crate::Result;

/// One host's audit state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditHostLog {
    pub state: String,
    pub instances: i64,
    pub errors: i64,
    pub message: String,
}

/// An audit report (Nova's `instance_usage_audit_log`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditLog {
    pub hosts_not_run: Vec<String>,
    pub log: BTreeMap<String, AuditHostLog>,
    pub num_hosts: i64,
    pub num_hosts_done: i64,
    pub num_hosts_not_run: i64,
    pub num_hosts_running: i64,
    pub overall_status: String,
    pub period_beginning: String,
    pub period_ending: String,
    pub total_errors: i64,
    pub total_instances: i64,
}

#[derive(Deserialize)]
struct ListDoc {
    instance_usage_audit_logs: AuditLog,
}

#[derive(Deserialize)]
struct ShowDoc {
    instance_usage_audit_log: AuditLog,
}

/// Nova's words for the overall state.
fn overall(done: i64, total: i64, errors: i64) -> String {
    if done == total {
        format!("ALL hosts done. {errors} errors.")
    } else {
        format!("{done} of {total} hosts done. {errors} errors.")
    }
}

impl Compute {
    /// The audit report for the period before `before` (Nova's `%Y-%m-%d %H:%M:%S`, already
    /// validated by the caller), or the current one.
    pub async fn usage_audit_log(&self, before: Option<&str>) -> Result<AuditLog> {
        let pods = self.pod_clients().await?;
        let path = match before {
            Some(b) => format!(
                "/os-instance_usage_audit_log/{}",
                b.replace(' ', "%20").replace(':', "%3A")
            ),
            None => "/os-instance_usage_audit_log".to_string(),
        };
        let calls = pods.iter().map(|(_, c)| {
            let path = path.clone();
            async move {
                if before.is_some() {
                    self.pod_get::<ShowDoc>(c, &path)
                        .await
                        .map(|d| d.instance_usage_audit_log)
                } else {
                    self.pod_get::<ListDoc>(c, &path)
                        .await
                        .map(|d| d.instance_usage_audit_logs)
                }
            }
        });
        let mut out = AuditLog::default();
        for ((pod, _), r) in pods.iter().zip(join_all(calls).await) {
            let a = match r {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(pod = %pod.region_name, error = %e.full(), "audit log unavailable");
                    continue;
                }
            };
            if out.period_beginning.is_empty() {
                out.period_beginning = a.period_beginning;
                out.period_ending = a.period_ending;
            }
            let q = |h: &str| qualified_host(h, &pod.region_name);
            out.hosts_not_run
                .extend(a.hosts_not_run.iter().map(|h| q(h)));
            out.log.extend(a.log.into_iter().map(|(h, l)| (q(&h), l)));
            out.num_hosts += a.num_hosts;
            out.num_hosts_done += a.num_hosts_done;
            out.num_hosts_not_run += a.num_hosts_not_run;
            out.num_hosts_running += a.num_hosts_running;
            out.total_errors += a.total_errors;
            out.total_instances += a.total_instances;
        }
        out.overall_status = overall(out.num_hosts_done, out.num_hosts, out.total_errors);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_status_in_novas_words() {
        assert_eq!(overall(0, 2, 0), "0 of 2 hosts done. 0 errors.");
        assert_eq!(overall(2, 2, 1), "ALL hosts done. 1 errors.");
    }
}
