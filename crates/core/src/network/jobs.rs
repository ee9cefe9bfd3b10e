//! The central Neutron's background work, as durable jobs (DESIGN.md protocol 2). Job types:
//! `network.port_sync` (a port's twin in its pod: create/update, or delete when unbound or
//! gone), `network.l2_sync` (a network's shadow ports in every pod it spans),
//! `network.router_sync` (bottom routers, interfaces, the project's bridge network and extra
//! routes), `network.sg_sync` (a security group's rules in every pod holding a copy, with
//! `remote_group_id` expanded where members are remote) and `network.cleanup` (a deleted
//! resource's copies in every pod). Every run recomputes the desired state from the top and
//! converges the pods, so repeats and crashed runs are harmless; the job engine dedupes by
//! `(type, resource_id)`. [`JobSink`] is how the service enqueues; without one (tests,
//! tools) jobs run in spawned tasks with a few retries.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{NetError, NetResult, NetworkService};
use crate::compute::deps::BoxFuture;

pub const PORT_SYNC: &str = "network.port_sync";
pub const L2_SYNC: &str = "network.l2_sync";
pub const ROUTER_SYNC: &str = "network.router_sync";
pub const SG_SYNC: &str = "network.sg_sync";
pub const CLEANUP: &str = "network.cleanup";

/// Suffix of a follow-up run's resource id (see [`EngineSink`]).
const RERUN: &str = "#rerun";

/// Every job type this service handles.
pub const JOB_TYPES: &[&str] = &[PORT_SYNC, L2_SYNC, ROUTER_SYNC, SG_SYNC, CLEANUP];

/// A unit of background work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetJob {
    PortSync(String),
    L2Sync(String),
    RouterSync(String),
    SgSync(String),
    /// Delete every bottom copy of a deleted top resource (`kind` = routing resource type).
    Cleanup {
        kind: String,
        id: String,
    },
}

impl NetJob {
    pub fn job_type(&self) -> &'static str {
        match self {
            NetJob::PortSync(_) => PORT_SYNC,
            NetJob::L2Sync(_) => L2_SYNC,
            NetJob::RouterSync(_) => ROUTER_SYNC,
            NetJob::SgSync(_) => SG_SYNC,
            NetJob::Cleanup { .. } => CLEANUP,
        }
    }

    pub fn resource_id(&self) -> &str {
        match self {
            NetJob::PortSync(id)
            | NetJob::L2Sync(id)
            | NetJob::RouterSync(id)
            | NetJob::SgSync(id)
            | NetJob::Cleanup { id, .. } => id,
        }
    }

    pub fn payload(&self) -> Value {
        match self {
            NetJob::Cleanup { kind, .. } => json!({"kind": kind}),
            _ => json!({}),
        }
    }

    /// Rebuilds a job from its stored form.
    pub fn parse(job_type: &str, resource_id: &str, payload: &Value) -> Option<NetJob> {
        let id = resource_id.trim_end_matches(RERUN).to_string();
        Some(match job_type {
            PORT_SYNC => NetJob::PortSync(id),
            L2_SYNC => NetJob::L2Sync(id),
            ROUTER_SYNC => NetJob::RouterSync(id),
            SG_SYNC => NetJob::SgSync(id),
            CLEANUP => NetJob::Cleanup {
                kind: payload["kind"].as_str()?.to_string(),
                id,
            },
            _ => return None,
        })
    }
}

/// Where the service puts its jobs (the job engine, wired by the binary).
pub trait JobSink: Send + Sync + 'static {
    fn enqueue<'a>(
        &'a self,
        job_type: &'a str,
        resource_id: &'a str,
        project_id: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, crate::Result<()>>;
}

impl NetworkService {
    /// Enqueues `job` for `project_id`. Without a sink, runs it in a task (a few retries).
    pub(crate) async fn kick(self: &Arc<Self>, project_id: &str, job: NetJob) -> NetResult<()> {
        if let Some(sink) = self.sink.get() {
            return sink
                .enqueue(job.job_type(), job.resource_id(), project_id, job.payload())
                .await
                .map_err(NetError::from);
        }
        let me = self.clone();
        tokio::spawn(async move {
            for attempt in 0..6u32 {
                match me.run_job(&job).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(job = job.job_type(), id = job.resource_id(), error = %e, attempt, "network job failed");
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                }
            }
        });
        Ok(())
    }

    /// Runs one job to completion (idempotent).
    pub async fn run_job(self: &Arc<Self>, job: &NetJob) -> NetResult<()> {
        match job {
            NetJob::PortSync(id) => self.sync_port(id).await,
            NetJob::L2Sync(id) => self.sync_l2(id).await,
            NetJob::RouterSync(id) => self.sync_router(id).await,
            NetJob::SgSync(id) => self.sync_security_group(id).await,
            NetJob::Cleanup { kind, id } => self.cleanup_bottoms(kind, id).await,
        }
    }
}

/// Runs this service's jobs in the job engine: register one per type in [`JOB_TYPES`].
#[derive(Debug, Clone)]
pub struct NetJobHandler {
    pub service: Arc<NetworkService>,
    pub job_type: &'static str,
}

impl NetJobHandler {
    /// One handler per job type.
    pub fn all(service: &Arc<NetworkService>) -> Vec<Arc<dyn crate::jobs::JobHandler>> {
        JOB_TYPES
            .iter()
            .map(|t| {
                Arc::new(NetJobHandler {
                    service: service.clone(),
                    job_type: t,
                }) as Arc<dyn crate::jobs::JobHandler>
            })
            .collect()
    }
}

impl crate::jobs::JobHandler for NetJobHandler {
    fn job_type(&self) -> &'static str {
        self.job_type
    }

    fn run<'a>(
        &'a self,
        job: &'a crate::jobs::Job,
        _ctx: &'a crate::jobs::JobContext,
    ) -> crate::jobs::BoxFuture<'a, Result<(), crate::jobs::JobError>> {
        Box::pin(async move {
            let Some(j) = NetJob::parse(&job.job_type, &job.resource_id, &job.payload) else {
                return Err(crate::jobs::JobError::Fail(format!(
                    "malformed {} job",
                    job.job_type
                )));
            };
            self.service.run_job(&j).await.map_err(|e| {
                if e.retryable || e.status >= 500 {
                    crate::jobs::JobError::Retry(e.message)
                } else {
                    crate::jobs::JobError::Fail(e.message)
                }
            })
        })
    }
}

/// A [`JobSink`] over the job engine.
#[derive(Debug, Clone)]
pub struct EngineSink(pub Arc<crate::jobs::JobEngine>);

impl JobSink for EngineSink {
    fn enqueue<'a>(
        &'a self,
        job_type: &'a str,
        resource_id: &'a str,
        project_id: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, crate::Result<()>> {
        Box::pin(async move {
            let job = |rid: String, delay| crate::jobs::NewJob {
                job_type: job_type.to_string(),
                resource_id: rid,
                project_id: project_id.to_string(),
                pod_id: None,
                payload: payload.clone(),
                max_attempts: Some(30),
                delay,
            };
            let got = self.0.enqueue(job(resource_id.to_string(), None)).await?;
            // The engine dedupes against RUNNING jobs too: a change made while a run is in
            // progress may not be seen by it, so queue one follow-up run.
            if got.status == crate::jobs::JobStatus::Running {
                self.0
                    .enqueue(job(
                        format!("{resource_id}{RERUN}"),
                        Some(Duration::from_millis(100)),
                    ))
                    .await?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip() {
        for j in [
            NetJob::PortSync("p".into()),
            NetJob::L2Sync("n".into()),
            NetJob::RouterSync("r".into()),
            NetJob::SgSync("g".into()),
            NetJob::Cleanup {
                kind: "network".into(),
                id: "n".into(),
            },
        ] {
            assert_eq!(
                NetJob::parse(j.job_type(), j.resource_id(), &j.payload()),
                Some(j.clone())
            );
        }
    }
}
