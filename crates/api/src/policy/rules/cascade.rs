//! The default rules of Cascade's own routes: the admin API `/v1.0`, health and metrics.

use super::*;

pub(super) static CASCADE: &[RouteRule] = &[
    admin_api!(GET, "/pods", "cascade:pods:list"),
    admin_api!(POST, "/pods", "cascade:pods:create"),
    admin_api!(GET, "/pods/{id}", "cascade:pods:show"),
    admin_api!(PUT, "/pods/{id}", "cascade:pods:update"),
    admin_api!(DELETE, "/pods/{id}", "cascade:pods:delete"),
    admin_api!(GET, "/routings", "cascade:routings:list"),
    admin_api!(GET, "/routings/{id}", "cascade:routings:show"),
    admin_api!(GET, "/jobs", "cascade:jobs:list"),
    admin_api!(GET, "/jobs/detail", "cascade:jobs:list"),
    admin_api!(GET, "/jobs/{id}", "cascade:jobs:show"),
    admin_api!(PUT, "/jobs/{id}", "cascade:jobs:redo"),
    admin_api!(DELETE, "/jobs/{id}", "cascade:jobs:delete"),
    admin_api!(GET, "/image-copies", "cascade:image_copies:list"),
    admin_api!(POST, "/images/register", "cascade:images:register"),
    admin_api!(GET, "/images/{id}/copies", "cascade:image_copies:list"),
    admin_api!(POST, "/images/{id}/copies", "cascade:image_copies:create"),
    admin_api!(POST, "/images/{id}/register", "cascade:images:register"),
    // Health and metrics.
    r(GET, "/healthcheck", "cascade:healthcheck", Public, Nobody),
    r(GET, "/healthz", "cascade:healthz", Monitor, Nobody),
    r(GET, "/metrics", "cascade:metrics", Monitor, Nobody),
];
