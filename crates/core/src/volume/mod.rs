//! Block storage across pods: the Cinder gateway's logic. Each volume lives in one pod; the top
//! keeps the volume index (answers lists, survives pod outages), snapshots, attachment records,
//! the volume types (top authoritative, copied by name to a pod on first use) and quotas.
//! Creates and deletes are durable jobs ([`jobs`]); placement picks a pod by AZ, source, the
//! server a volume is meant for and free capacity ([`scheduler`]); a per-pod watcher keeps the
//! index fresh from `changes-since` deltas and notices volumes deleted in pods ([`watcher`]).
//! Attaching needs the volume and the server in the same pod: across pods it is refused with a
//! 400 that says so (Cascade never moves volumes between pods) ([`attach`]). [`binding`] is
//! what compute sees (boot from volume).
//!
//! Bottom volumes are named `<name>@<top id>`, carry the top id in their metadata, and are
//! created as the tenant (a delegated token), so they belong to the tenant's project in the pod.

mod actions;
mod attach;
mod backends;
mod binding;
mod jobs;
mod misc;
mod scheduler;
mod snapshot_actions;
mod transfers;
mod types;
mod volumes;
mod watcher;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cascade_model::admin::PodState;
use cascade_store::Store;
use serde_json::Value;

use crate::compute::Compute;
use crate::compute::deps::ImageSource;
use crate::identity::Delegation;
use crate::jobs::JobEngine;
use crate::pods::PodRegistry;
use crate::{CoreError, ErrorKind};

pub use actions::{admin_metadata, is_readonly};
pub use attach::AttachRequest;
pub use misc::{QuotaSet, SnapshotCreate, SnapshotQuery, default_quotas};
pub use transfers::TransferCreate;
pub use types::{TypeCreate, TypeUpdate, extra_specs};
pub use volumes::{ListQuery, VolumeCreate, VolumeList, VolumeSummary, VolumeUpdate, VolumeView};

/// Metadata key carrying the top id on bottom volumes and snapshots (with the name suffix).
pub const TOP_ID_KEY: &str = "cascade_top_id";

/// The microversion of Cinder calls to pods (attachments need ≥ 3.27).
pub(crate) const POD_MV: (&str, &str) = ("OpenStack-API-Version", "volume 3.60");

/// Settings of block storage.
#[derive(Debug, Clone)]
pub struct VolumeConfig {
    /// How long a live `GET /volumes/{id}` waits for its pod before answering from the index.
    pub live_timeout: Duration,
    /// How often each pod's volumes are polled for changes.
    pub watch_interval: Duration,
    /// Largest page a list returns (Cinder's `osapi_max_limit`).
    pub max_limit: usize,
    /// How long a create waits for the bottom volume to leave `creating`.
    pub create_timeout: Duration,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        VolumeConfig {
            live_timeout: Duration::from_secs(3),
            watch_interval: Duration::from_secs(2),
            max_limit: 1000,
            create_timeout: Duration::from_secs(300),
        }
    }
}

/// The block-storage service.
pub struct VolumeService {
    pub(crate) store: Store,
    pub(crate) pods: Arc<PodRegistry>,
    pub(crate) jobs: Arc<JobEngine>,
    pub(crate) delegation: Arc<Delegation>,
    pub(crate) images: Arc<dyn ImageSource>,
    pub(crate) compute: Arc<Compute>,
    pub(crate) config: VolumeConfig,
    /// pod id → (when, largest free pool in GiB or `None` for unlimited/unknown).
    pub(crate) capacity: Mutex<HashMap<String, (tokio::time::Instant, Option<f64>)>>,
}

impl std::fmt::Debug for VolumeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl VolumeService {
    /// Builds the service, registers its job handlers with `jobs` and plugs it into compute
    /// (boot from volume, top ids in `volumes_attached`).
    pub fn new(
        store: Store,
        pods: Arc<PodRegistry>,
        jobs: Arc<JobEngine>,
        delegation: Arc<Delegation>,
        images: Arc<dyn ImageSource>,
        compute: Arc<Compute>,
        config: VolumeConfig,
    ) -> Arc<VolumeService> {
        let service = Arc::new(VolumeService {
            store,
            pods,
            jobs,
            delegation,
            images,
            compute: compute.clone(),
            config,
            capacity: Mutex::new(HashMap::new()),
        });
        jobs::register(&service);
        compute.set_volume_binding(Arc::new(binding::Binding(Arc::downgrade(&service))));
        service
    }

    pub fn config(&self) -> &VolumeConfig {
        &self.config
    }

    /// Whether a pod cannot be reached now (down, or its breaker open).
    pub(crate) async fn pod_unreachable(&self, pod_id: &str) -> bool {
        match self.pods.get(pod_id).await {
            Ok(p) if p.state == PodState::Down => true,
            Ok(_) => self
                .pods
                .client(pod_id)
                .await
                .map(|c| c.is_open())
                .unwrap_or(true),
            Err(_) => true,
        }
    }
}

/// A path under the tenant's project in a pod's Cinder. Catalog endpoints of Cinder end in
/// the service project's id (`…/v3/<project>`) or, project-less, in `…/v3`; a tenant's
/// resources live under its own project: `../<tenant>/…`, which the pod client joins in place
/// of the endpoint's project segment (`cascade_pod`'s `join_url`).
pub(crate) fn tenant_path(project_id: &str, rest: &str) -> String {
    format!("../{project_id}{rest}")
}

pub(crate) fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// The `message` of a Cinder/Nova error body.
pub(crate) fn pod_message(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v.as_object()
        .and_then(|m| m.values().next())
        .and_then(|inner| inner["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// A pod's 4xx as our error (bottom ids replaced by the top id); 5xx as unavailable.
pub(crate) fn pod_error(status: u16, body: &[u8], bottom: Option<&str>, top: &str) -> CoreError {
    if status >= 500 || !(400..500).contains(&status) {
        // The pod's own failure: its text is for operators only.
        let mut e = CoreError::new(ErrorKind::Unavailable, crate::error::POD_UNAVAILABLE);
        e.detail = Some(format!(
            "pod answered {status}: {}",
            String::from_utf8_lossy(body)
        ));
        return e;
    }
    let mut message = pod_message(body);
    if let Some(b) = bottom.filter(|b| !b.is_empty()) {
        message = message.replace(b, top);
    }
    CoreError::new(
        match status {
            400 => ErrorKind::BadRequest,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            _ => ErrorKind::Unavailable,
        },
        message,
    )
}

/// Cinder's naive microsecond timestamps (and RFC 3339) → µs.
pub(crate) fn parse_ts(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}
