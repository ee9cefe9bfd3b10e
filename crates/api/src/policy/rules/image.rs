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
    // Tasks: administrators only (`tasks_api_access`).
    glance!(GET, "/v2/tasks", "get_tasks", AdminOnly),
    glance!(POST, "/v2/tasks", "add_task", AdminOnly),
    glance!(GET, "/v2/tasks/{id}", "get_task", AdminOnly),
    glance!(GET, "/v2/schemas/task", "get_schema", ProjectReader),
    glance!(GET, "/v2/schemas/tasks", "get_schema", ProjectReader),
    // The metadata definitions catalog: writes are `metadef_admin`.
    glance!(
        GET,
        "/v2/metadefs/resource_types",
        "list_metadef_resource_types",
        ProjectReader
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces",
        "get_metadef_namespaces",
        ProjectReader
    ),
    glance!(
        POST,
        "/v2/metadefs/namespaces",
        "add_metadef_namespace",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}",
        "get_metadef_namespace",
        ProjectReader
    ),
    glance!(
        PUT,
        "/v2/metadefs/namespaces/{ns}",
        "modify_metadef_namespace",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}",
        "delete_metadef_namespace",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}/resource_types",
        "list_metadef_resource_types",
        ProjectReader
    ),
    glance!(
        POST,
        "/v2/metadefs/namespaces/{ns}/resource_types",
        "add_metadef_resource_type_association",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}/resource_types/{rt}",
        "remove_metadef_resource_type_association",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}/objects",
        "get_metadef_objects",
        ProjectReader
    ),
    glance!(
        POST,
        "/v2/metadefs/namespaces/{ns}/objects",
        "add_metadef_object",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}/objects",
        "delete_metadef_namespace",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}/objects/{name}",
        "get_metadef_object",
        ProjectReader
    ),
    glance!(
        PUT,
        "/v2/metadefs/namespaces/{ns}/objects/{name}",
        "modify_metadef_object",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}/objects/{name}",
        "delete_metadef_object",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}/properties",
        "get_metadef_properties",
        ProjectReader
    ),
    glance!(
        POST,
        "/v2/metadefs/namespaces/{ns}/properties",
        "add_metadef_property",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}/properties",
        "delete_metadef_namespace",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}/properties/{name}",
        "get_metadef_property",
        ProjectReader
    ),
    glance!(
        PUT,
        "/v2/metadefs/namespaces/{ns}/properties/{name}",
        "modify_metadef_property",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}/properties/{name}",
        "remove_metadef_property",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}/tags",
        "get_metadef_tags",
        ProjectReader
    ),
    glance!(
        POST,
        "/v2/metadefs/namespaces/{ns}/tags",
        "add_metadef_tags",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}/tags",
        "delete_metadef_tags",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/metadefs/namespaces/{ns}/tags/{name}",
        "get_metadef_tag",
        ProjectReader
    ),
    glance!(
        POST,
        "/v2/metadefs/namespaces/{ns}/tags/{name}",
        "add_metadef_tag",
        AdminOnly
    ),
    glance!(
        PUT,
        "/v2/metadefs/namespaces/{ns}/tags/{name}",
        "modify_metadef_tag",
        AdminOnly
    ),
    glance!(
        DELETE,
        "/v2/metadefs/namespaces/{ns}/tags/{name}",
        "delete_metadef_tag",
        AdminOnly
    ),
    glance!(
        GET,
        "/v2/schemas/metadefs/{name}",
        "get_schema",
        ProjectReader
    ),
];
