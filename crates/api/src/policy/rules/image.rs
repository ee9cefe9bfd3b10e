//! The default rules of Glance v2 at `/image`.

use super::*;

pub(super) static IMAGE: &[RouteRule] = &[
    glance!(GET, "", "versions", Public),
    glance!(GET, "/", "versions", Public),
    glance!(GET, "/v2", "versions", Public),
    glance!(GET, "/v2/", "versions", Public),
    glance!(GET, "/v2/images", "get_images", ProjectReader),
    glance!(POST, "/v2/images", "add_image", ProjectMember),
    glance!(GET, "/v2/images/{id}", "get_image", ProjectReader),
    glance!(PATCH, "/v2/images/{id}", "modify_image", ProjectMember),
    glance!(DELETE, "/v2/images/{id}", "delete_image", ProjectMember),
    glance!(PUT, "/v2/images/{id}/file", "upload_image", ProjectMember),
    glance!(GET, "/v2/images/{id}/file", "download_image", ProjectReader),
    glance!(GET, "/v2/images/{id}/tasks", "get_image", ProjectReader),
    glance!(
        PUT,
        "/v2/images/{id}/tags/{tag}",
        "modify_image",
        ProjectMember
    ),
    glance!(
        DELETE,
        "/v2/images/{id}/tags/{tag}",
        "modify_image",
        ProjectMember
    ),
    glance!(GET, "/v2/images/{id}/members", "get_members", ProjectReader),
    glance!(POST, "/v2/images/{id}/members", "add_member", ProjectMember),
    glance!(
        GET,
        "/v2/images/{id}/members/{member}",
        "get_member",
        ProjectReader
    ),
    glance!(
        PUT,
        "/v2/images/{id}/members/{member}",
        "modify_member",
        ProjectMember
    ),
    glance!(
        DELETE,
        "/v2/images/{id}/members/{member}",
        "delete_member",
        ProjectMember
    ),
    glance!(
        POST,
        "/v2/images/{id}/actions/deactivate",
        "deactivate",
        ProjectMember
    ),
    glance!(
        POST,
        "/v2/images/{id}/actions/reactivate",
        "reactivate",
        ProjectMember
    ),
    glance!(GET, "/v2/schemas/image", "get_schema", ProjectReader),
    glance!(GET, "/v2/schemas/images", "get_schema", ProjectReader),
    glance!(GET, "/v2/schemas/member", "get_schema", ProjectReader),
    glance!(GET, "/v2/schemas/members", "get_schema", ProjectReader),
    glance!(GET, "/v2/info/import", "get_import_info", ProjectReader),
];
