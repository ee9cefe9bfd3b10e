//! HTTP metrics: requests by service, route template, method and status, and a latency
//! histogram by service and route. Exposed with everything else at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) service: String,
    pub(crate) route: String,
    pub(crate) method: String,
    pub(crate) status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub(crate) service: String,
    pub(crate) route: String,
}

/// The HTTP metric families.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) latency: Family<RouteLabels, Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 16))
            }),
        }
    }
}

impl HttpMetrics {
    /// Registers the families under `cascade_http_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cascade_http_requests",
            "HTTP requests served",
            self.requests.clone(),
        );
        registry.register(
            "cascade_http_request_duration_seconds",
            "Latency of HTTP requests served",
            self.latency.clone(),
        );
    }
}
