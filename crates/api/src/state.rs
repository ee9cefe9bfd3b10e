//! [`AppState`]: what every handler can reach, built once by the binary.

use std::sync::Arc;

use cascade_core::identity::Identity;
use cascade_core::pods::PodRegistry;
use cascade_store::Store;
use prometheus_client::registry::Registry;

use crate::metrics::HttpMetrics;

/// Shared state of the HTTP layer.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub identity: Identity,
    pub pods: Arc<PodRegistry>,
    pub jobs: Arc<cascade_core::jobs::JobEngine>,
    pub images: Arc<cascade_core::image::ImageService>,
    pub compute: Arc<cascade_core::compute::Compute>,
    pub network: Arc<cascade_core::network::NetworkService>,
    pub volumes: Arc<cascade_core::volume::VolumeService>,
    /// Makes the actors of requests whose work continues in jobs.
    pub delegation: Arc<cascade_core::identity::Delegation>,
    /// The URL clients use to reach this listener (catalog and links point here).
    pub public_url: String,
    /// The region name Cascade publishes in its catalog.
    pub region_name: String,
    pub http_metrics: HttpMetrics,
    pub registry: Arc<Registry>,
    /// The effective rules of every route ([`crate::policy`]).
    pub policy: Arc<crate::policy::Policy>,
}
