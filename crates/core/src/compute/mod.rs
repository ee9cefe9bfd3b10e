//! Compute across pods: the Nova gateway's logic. Each server lives in one pod; the top keeps
//! the server index (answers lists, survives pod outages), the flavors and keypairs (top is
//! authoritative, copied to a pod with the same id/name on first use), server groups and
//! quotas; a create is a saga run as a durable job ([`saga`]); a per-pod watcher keeps the
//! index fresh from `changes-since` deltas ([`watcher`]). `deps` holds the interfaces to
//! networking and images.

mod actions;
mod audit;
mod backup;
pub mod deps;
mod events;
mod flavors;
mod groups;
mod hosts;
pub mod instance_actions;
mod keygen;
mod keypairs;
mod list;
mod metadata;
mod name_filter;
mod password;
mod quotas;
mod saga;
mod scheduler;
mod servers;
mod volumes;
mod watcher;
mod x509;

use std::sync::Arc;
use std::time::Duration;

use cascade_store::Store;

pub use audit::{AuditHostLog, AuditLog};
pub use events::{EVENT_NAMES, ExternalEvent};
pub use flavors::{FlavorCreate, flavor_snapshot};
pub use hosts::{
    ComputeService, HostedServer, Hypervisor, HypervisorUsage, ServiceActionResult, ServiceChange,
    qualified_host,
};
pub use keypairs::{CreatedKeypair, KeypairCreate};
pub use list::{ListQuery, ServerList};
pub use quotas::{NETWORK_QUOTAS, QuotaSet, default_quotas};
pub use scheduler::{SchedulerHints, fits_capabilities};
pub use servers::{Action, ActionOutcome, ServerCreate, ServerUpdate, ServerView, TOP_ID_KEY};

use crate::identity::Delegation;
use crate::jobs::JobEngine;
use crate::pods::PodRegistry;
use deps::{ImageSource, NetworkBinding};

/// Settings of compute.
#[derive(Debug, Clone)]
pub struct ComputeConfig {
    /// How long a live `GET /servers/{id}` waits for its pod before answering from the index.
    pub live_timeout: Duration,
    /// How often each pod's servers are polled for changes.
    pub watch_interval: Duration,
    /// Largest page a list returns (Nova's `max_limit`).
    pub max_limit: usize,
    /// Most index rows one filtered list scans; a page that reaches it ends early, with a
    /// next marker where the scan stopped.
    pub max_scan_rows: usize,
}

impl Default for ComputeConfig {
    fn default() -> Self {
        ComputeConfig {
            live_timeout: Duration::from_secs(3),
            watch_interval: Duration::from_secs(2),
            max_limit: 1000,
            max_scan_rows: 10_000,
        }
    }
}

/// The compute service.
pub struct Compute {
    pub(crate) store: Store,
    pub(crate) pods: Arc<PodRegistry>,
    pub(crate) jobs: Arc<JobEngine>,
    pub(crate) delegation: Arc<Delegation>,
    pub(crate) network: Arc<dyn NetworkBinding>,
    pub(crate) images: Arc<dyn ImageSource>,
    pub(crate) config: ComputeConfig,
    /// Block storage, wired after construction (see `volumes.rs`).
    pub(crate) volumes: std::sync::OnceLock<Arc<dyn deps::VolumeBinding>>,
    /// Free capacity per pod, read from the pods and charged by placements (`scheduler.rs`).
    pub(crate) capacity: scheduler::CapacityCache,
}

impl std::fmt::Debug for Compute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compute")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl deps::AddressObserver for Compute {
    fn addresses_changed<'a>(&'a self, server_id: &'a str) -> deps::BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.refresh_addresses(server_id).await {
                tracing::warn!(server = %server_id, error = %e, "cannot refresh server addresses");
            }
        })
    }
}

impl Compute {
    /// Builds the service and registers its job handlers with `jobs`.
    pub fn new(
        store: Store,
        pods: Arc<PodRegistry>,
        jobs: Arc<JobEngine>,
        delegation: Arc<Delegation>,
        network: Arc<dyn NetworkBinding>,
        images: Arc<dyn ImageSource>,
        config: ComputeConfig,
    ) -> Arc<Compute> {
        let compute = Arc::new(Compute {
            store,
            pods,
            jobs,
            delegation,
            network,
            images,
            config,
            volumes: std::sync::OnceLock::new(),
            capacity: Default::default(),
        });
        saga::register(&compute);
        keypairs::register(&compute);
        compute
    }

    pub fn config(&self) -> &ComputeConfig {
        &self.config
    }
}
