//! The default rules of Nova's proxy APIs and the small server APIs at `/compute/v2.1`
//! (`compute::proxy_routes`).

use super::*;

pub(super) static COMPUTE_PROXY: &[RouteRule] = &[
    nova!(GET, "/images", "os_compute_api:images:index", ProjectReader),
    nova!(GET, "/images/detail", "os_compute_api:images:detail", ProjectReader),
    nova!(GET, "/images/{id}", "os_compute_api:images:show", ProjectReader),
    nova!(DELETE, "/images/{id}", "os_compute_api:images:delete", ProjectMember),
    nova!(
        GET,
        "/images/{id}/metadata",
        "os_compute_api:image-metadata:index",
        ProjectReader
    ),
    nova!(
        PUT,
        "/images/{id}/metadata",
        "os_compute_api:image-metadata:update_all",
        ProjectMember
    ),
    nova!(
        POST,
        "/images/{id}/metadata",
        "os_compute_api:image-metadata:create",
        ProjectMember
    ),
    nova!(
        GET,
        "/images/{id}/metadata/{key}",
        "os_compute_api:image-metadata:show",
        ProjectReader
    ),
    nova!(
        PUT,
        "/images/{id}/metadata/{key}",
        "os_compute_api:image-metadata:update",
        ProjectMember
    ),
    nova!(
        DELETE,
        "/images/{id}/metadata/{key}",
        "os_compute_api:image-metadata:delete",
        ProjectMember
    ),

    nova!(GET, "/extensions", "os_compute_api:extensions", ProjectReader),
    nova!(GET, "/extensions/{alias}", "os_compute_api:extensions", ProjectReader),
    nova!(
        GET,
        "/servers/{id}/os-server-password",
        "os_compute_api:os-server-password:show",
        ProjectReader
    ),
    nova!(
        DELETE,
        "/servers/{id}/os-server-password",
        "os_compute_api:os-server-password:clear",
        ProjectMember
    ),
    nova!(
        GET,
        "/os-tenant-networks",
        "os_compute_api:os-tenant-networks:list",
        ProjectReader
    ),
    nova!(
        GET,
        "/os-tenant-networks/{id}",
        "os_compute_api:os-tenant-networks:show",
        ProjectReader
    ),
    r(GET, "/compute/v2", "os_compute_api:versions", Public, Nobody),
    r(GET, "/compute/v2/", "os_compute_api:versions", Public, Nobody),

    nova!(
        GET,
        "/servers/{id}/os-instance-actions",
        "os_compute_api:os-instance-actions:list",
        ProjectReader
    ),
    nova!(
        GET,
        "/servers/{id}/os-instance-actions/{request_id}",
        "os_compute_api:os-instance-actions:show",
        ProjectReader
    ),

    nova!(GET, "/os-volumes", "os_compute_api:os-volumes:list", ProjectReader),
    nova!(POST, "/os-volumes", "os_compute_api:os-volumes:create", ProjectMember),
    nova!(GET, "/os-volumes/detail", "os_compute_api:os-volumes:detail", ProjectReader),
    nova!(GET, "/os-volumes/{id}", "os_compute_api:os-volumes:show", ProjectReader),
    nova!(DELETE, "/os-volumes/{id}", "os_compute_api:os-volumes:delete", ProjectMember),
    nova!(GET, "/os-snapshots", "os_compute_api:os-volumes:snapshots:list", ProjectReader),
    nova!(POST, "/os-snapshots", "os_compute_api:os-volumes:snapshots:create", ProjectMember),
    nova!(GET, "/os-snapshots/detail", "os_compute_api:os-volumes:snapshots:detail", ProjectReader),
    nova!(GET, "/os-snapshots/{id}", "os_compute_api:os-volumes:snapshots:show", ProjectReader),
    nova!(DELETE, "/os-snapshots/{id}", "os_compute_api:os-volumes:snapshots:delete", ProjectMember),
];
