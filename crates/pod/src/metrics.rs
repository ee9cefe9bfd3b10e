//! Per-pod call metrics: counts by pod, service and outcome, and a latency histogram. Created
//! once by the binary and shared by every pod client (prometheus-client, explicit registry).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct CallLabels {
    pub(crate) pod: String,
    pub(crate) service: String,
    pub(crate) outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct LatencyLabels {
    pub(crate) pod: String,
    pub(crate) service: String,
}

/// The pod call metric families.
#[derive(Debug, Clone)]
pub struct PodMetrics {
    pub(crate) calls: Family<CallLabels, Counter>,
    pub(crate) latency: Family<LatencyLabels, Histogram>,
}

impl Default for PodMetrics {
    fn default() -> Self {
        PodMetrics {
            calls: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 16))
            }),
        }
    }
}

impl PodMetrics {
    /// Registers the families in `registry` under `cascade_pod_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cascade_pod_calls",
            "Calls made to pods, by outcome",
            self.calls.clone(),
        );
        registry.register(
            "cascade_pod_call_duration_seconds",
            "Latency of calls made to pods",
            self.latency.clone(),
        );
    }
}
