//! Logging set-up: `pretty` or `json` lines on stderr, filtered by `CASCADE_LOG` (or the given
//! default). Each request line carries the request id, user, project and pod from its span.

use tracing_subscriber::EnvFilter;

pub(crate) fn init(format: &str, default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("CASCADE_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
}
