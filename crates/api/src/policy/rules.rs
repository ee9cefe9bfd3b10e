//! The default rule of every route of every service, in one table, in the style of OpenStack's
//! default policies: each route names the action the real service checks (`os_compute_api:…`,
//! `volume:…`, Neutron's `create_<resource>`, Glance's `get_images`, Keystone's `identity:…`)
//! and its default rule. An operator overrides a rule by action name (`[policy]` in the
//! configuration); the table never changes at run time.
//!
//! Neutron's collections share the routes `/v2.0/{coll}…`: their actions carry `{coll}`, which is
//! replaced by the collection's singular name (`create_network`). A more specific entry with the
//! collection spelled out (`/v2.0/quotas/{coll_id}`) wins over the generic one.

use http::Method;

use super::{Rule, Target};

/// One route's declared rule.
#[derive(Debug, Clone)]
pub struct RouteRule {
    pub method: Method,
    /// The route as registered, with the service's prefix (`/compute/v2.1/servers/{id}`).
    pub path: &'static str,
    /// The action name the real service checks; the key of operator overrides.
    pub action: &'static str,
    pub rule: Rule,
    /// Where the target project or user of the request is named in the path, if anywhere.
    pub target: Target,
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

use Rule::{AdminOnly, Authenticated, Monitor, Owner, ProjectMember, ProjectReader, Public};
use Target::{Nobody, Project, User};

const fn r(
    method: Method,
    path: &'static str,
    action: &'static str,
    rule: Rule,
    target: Target,
) -> RouteRule {
    RouteRule {
        method,
        path,
        action,
        rule,
        target,
    }
}

macro_rules! nova {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r($m, concat!("/compute/v2.1", $p), $a, $rule, Nobody)
    };
    ($m:expr, $p:literal, $a:literal, $rule:expr, $t:expr) => {
        r($m, concat!("/compute/v2.1", $p), $a, $rule, $t)
    };
}

macro_rules! cinder {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r(
            $m,
            concat!("/volume/v3/{project_id}", $p),
            $a,
            $rule,
            Project("project_id"),
        )
    };
}

macro_rules! glance {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r($m, concat!("/image", $p), $a, $rule, Nobody)
    };
}

macro_rules! keystone {
    ($m:expr, $p:literal, $a:literal, $rule:expr) => {
        r($m, concat!("/identity", $p), $a, $rule, Nobody)
    };
    ($m:expr, $p:literal, $a:literal, $rule:expr, $t:expr) => {
        r($m, concat!("/identity", $p), $a, $rule, $t)
    };
}

macro_rules! admin_api {
    ($m:expr, $p:literal, $a:literal) => {
        r($m, concat!("/v1.0", $p), $a, AdminOnly, Nobody)
    };
}

/// Every route's default rule.
pub static DEFAULT_RULES: &[RouteRule] = &[
    // ---- Keystone ------------------------------------------------------------------------------
    keystone!(GET, "", "identity:versions", Public),
    keystone!(GET, "/", "identity:versions", Public),
    keystone!(GET, "/v3", "identity:version", Public),
    keystone!(GET, "/v3/", "identity:version", Public),
    keystone!(POST, "/v3/auth/tokens", "identity:authenticate", Public),
    // The handler allows the token's own subject, or an admin (identity:validate_token).
    keystone!(
        GET,
        "/v3/auth/tokens",
        "identity:validate_token",
        Authenticated
    ),
    keystone!(
        DELETE,
        "/v3/auth/tokens",
        "identity:revoke_token",
        Authenticated
    ),
    keystone!(
        GET,
        "/v3/auth/projects",
        "identity:get_auth_projects",
        Authenticated
    ),
    keystone!(
        GET,
        "/v3/auth/domains",
        "identity:get_auth_domains",
        Authenticated
    ),
    keystone!(
        GET,
        "/v3/auth/catalog",
        "identity:get_auth_catalog",
        Authenticated
    ),
    keystone!(GET, "/v3/domains", "identity:list_domains", AdminOnly),
    keystone!(POST, "/v3/domains", "identity:create_domain", AdminOnly),
    keystone!(GET, "/v3/domains/{id}", "identity:get_domain", AdminOnly),
    keystone!(GET, "/v3/projects", "identity:list_projects", AdminOnly),
    keystone!(POST, "/v3/projects", "identity:create_project", AdminOnly),
    keystone!(
        GET,
        "/v3/projects/{id}",
        "identity:get_project",
        ProjectReader,
        Project("id")
    ),
    keystone!(
        PATCH,
        "/v3/projects/{id}",
        "identity:update_project",
        AdminOnly
    ),
    keystone!(
        DELETE,
        "/v3/projects/{id}",
        "identity:delete_project",
        AdminOnly
    ),
    keystone!(GET, "/v3/users", "identity:list_users", AdminOnly),
    keystone!(POST, "/v3/users", "identity:create_user", AdminOnly),
    keystone!(
        GET,
        "/v3/users/{id}",
        "identity:get_user",
        Owner,
        User("id")
    ),
    keystone!(PATCH, "/v3/users/{id}", "identity:update_user", AdminOnly),
    keystone!(DELETE, "/v3/users/{id}", "identity:delete_user", AdminOnly),
    keystone!(
        GET,
        "/v3/users/{id}/projects",
        "identity:list_user_projects",
        Owner,
        User("id")
    ),
    keystone!(GET, "/v3/roles", "identity:list_roles", AdminOnly),
    keystone!(POST, "/v3/roles", "identity:create_role", AdminOnly),
    keystone!(GET, "/v3/roles/{id}", "identity:get_role", AdminOnly),
    keystone!(DELETE, "/v3/roles/{id}", "identity:delete_role", AdminOnly),
    keystone!(
        GET,
        "/v3/projects/{target}/users/{user}/roles",
        "identity:list_grants",
        AdminOnly
    ),
    keystone!(
        PUT,
        "/v3/projects/{target}/users/{user}/roles/{role}",
        "identity:create_grant",
        AdminOnly
    ),
    keystone!(
        GET,
        "/v3/projects/{target}/users/{user}/roles/{role}",
        "identity:check_grant",
        AdminOnly
    ),
    keystone!(
        DELETE,
        "/v3/projects/{target}/users/{user}/roles/{role}",
        "identity:revoke_grant",
        AdminOnly
    ),
    keystone!(
        GET,
        "/v3/domains/{target}/users/{user}/roles",
        "identity:list_grants",
        AdminOnly
    ),
    keystone!(
        PUT,
        "/v3/domains/{target}/users/{user}/roles/{role}",
        "identity:create_grant",
        AdminOnly
    ),
    keystone!(
        GET,
        "/v3/domains/{target}/users/{user}/roles/{role}",
        "identity:check_grant",
        AdminOnly
    ),
    keystone!(
        DELETE,
        "/v3/domains/{target}/users/{user}/roles/{role}",
        "identity:revoke_grant",
        AdminOnly
    ),
    keystone!(
        GET,
        "/v3/role_assignments",
        "identity:list_role_assignments",
        AdminOnly
    ),
    // ---- Nova ----------------------------------------------------------------------------------
    r(GET, "/compute", "os_compute_api:versions", Public, Nobody),
    r(GET, "/compute/", "os_compute_api:versions", Public, Nobody),
    nova!(GET, "", "os_compute_api:versions", Public),
    nova!(
        GET,
        "/servers",
        "os_compute_api:servers:index",
        ProjectReader
    ),
    nova!(
        POST,
        "/servers",
        "os_compute_api:servers:create",
        ProjectMember
    ),
    nova!(
        GET,
        "/servers/detail",
        "os_compute_api:servers:detail",
        ProjectReader
    ),
    nova!(
        GET,
        "/servers/{id}",
        "os_compute_api:servers:show",
        ProjectReader
    ),
    nova!(
        PUT,
        "/servers/{id}",
        "os_compute_api:servers:update",
        ProjectMember
    ),
    nova!(
        DELETE,
        "/servers/{id}",
        "os_compute_api:servers:delete",
        ProjectMember
    ),
    // Admin-only actions (os-resetState, os-migrateLive, …) are refused again by the handler.
    nova!(
        POST,
        "/servers/{id}/action",
        "os_compute_api:servers:action",
        ProjectMember
    ),
    nova!(
        GET,
        "/servers/{id}/metadata",
        "os_compute_api:server-metadata:index",
        ProjectReader
    ),
    nova!(
        PUT,
        "/servers/{id}/metadata",
        "os_compute_api:server-metadata:update_all",
        ProjectMember
    ),
    nova!(
        POST,
        "/servers/{id}/metadata",
        "os_compute_api:server-metadata:create",
        ProjectMember
    ),
    nova!(
        GET,
        "/servers/{id}/metadata/{key}",
        "os_compute_api:server-metadata:show",
        ProjectReader
    ),
    nova!(
        PUT,
        "/servers/{id}/metadata/{key}",
        "os_compute_api:server-metadata:update",
        ProjectMember
    ),
    nova!(
        DELETE,
        "/servers/{id}/metadata/{key}",
        "os_compute_api:server-metadata:delete",
        ProjectMember
    ),
    nova!(
        GET,
        "/servers/{id}/tags",
        "os_compute_api:os-server-tags:index",
        ProjectReader
    ),
    nova!(
        PUT,
        "/servers/{id}/tags",
        "os_compute_api:os-server-tags:update_all",
        ProjectMember
    ),
    nova!(
        DELETE,
        "/servers/{id}/tags",
        "os_compute_api:os-server-tags:delete_all",
        ProjectMember
    ),
    nova!(
        GET,
        "/servers/{id}/tags/{tag}",
        "os_compute_api:os-server-tags:show",
        ProjectReader
    ),
    nova!(
        PUT,
        "/servers/{id}/tags/{tag}",
        "os_compute_api:os-server-tags:update",
        ProjectMember
    ),
    nova!(
        DELETE,
        "/servers/{id}/tags/{tag}",
        "os_compute_api:os-server-tags:delete",
        ProjectMember
    ),
    nova!(
        GET,
        "/servers/{id}/ips",
        "os_compute_api:ips:index",
        ProjectReader
    ),
    nova!(
        GET,
        "/servers/{id}/os-volume_attachments",
        "os_compute_api:os-volumes-attachments:index",
        ProjectReader
    ),
    nova!(
        POST,
        "/servers/{id}/os-volume_attachments",
        "os_compute_api:os-volumes-attachments:create",
        ProjectMember
    ),
    nova!(
        GET,
        "/servers/{id}/os-volume_attachments/{volume}",
        "os_compute_api:os-volumes-attachments:show",
        ProjectReader
    ),
    nova!(
        DELETE,
        "/servers/{id}/os-volume_attachments/{volume}",
        "os_compute_api:os-volumes-attachments:delete",
        ProjectMember
    ),
    nova!(
        GET,
        "/flavors",
        "os_compute_api:flavors:index",
        ProjectReader
    ),
    nova!(
        POST,
        "/flavors",
        "os_compute_api:os-flavor-manage:create",
        AdminOnly
    ),
    nova!(
        GET,
        "/flavors/detail",
        "os_compute_api:flavors:detail",
        ProjectReader
    ),
    nova!(
        GET,
        "/flavors/{id}",
        "os_compute_api:flavors:show",
        ProjectReader
    ),
    nova!(
        PUT,
        "/flavors/{id}",
        "os_compute_api:os-flavor-manage:update",
        AdminOnly
    ),
    nova!(
        DELETE,
        "/flavors/{id}",
        "os_compute_api:os-flavor-manage:delete",
        AdminOnly
    ),
    nova!(
        POST,
        "/flavors/{id}/action",
        "os_compute_api:os-flavor-access:add_tenant_access",
        AdminOnly
    ),
    nova!(
        GET,
        "/flavors/{id}/os-flavor-access",
        "os_compute_api:os-flavor-access",
        AdminOnly
    ),
    nova!(
        GET,
        "/flavors/{id}/os-extra_specs",
        "os_compute_api:os-flavor-extra-specs:index",
        ProjectReader
    ),
    nova!(
        POST,
        "/flavors/{id}/os-extra_specs",
        "os_compute_api:os-flavor-extra-specs:create",
        AdminOnly
    ),
    nova!(
        GET,
        "/flavors/{id}/os-extra_specs/{key}",
        "os_compute_api:os-flavor-extra-specs:show",
        ProjectReader
    ),
    nova!(
        PUT,
        "/flavors/{id}/os-extra_specs/{key}",
        "os_compute_api:os-flavor-extra-specs:update",
        AdminOnly
    ),
    nova!(
        DELETE,
        "/flavors/{id}/os-extra_specs/{key}",
        "os_compute_api:os-flavor-extra-specs:delete",
        AdminOnly
    ),
    // Keypairs belong to users; the handler lets an admin name another user (`user_id`).
    nova!(
        GET,
        "/os-keypairs",
        "os_compute_api:os-keypairs:index",
        ProjectReader
    ),
    nova!(
        POST,
        "/os-keypairs",
        "os_compute_api:os-keypairs:create",
        ProjectMember
    ),
    nova!(
        GET,
        "/os-keypairs/{name}",
        "os_compute_api:os-keypairs:show",
        ProjectReader
    ),
    nova!(
        DELETE,
        "/os-keypairs/{name}",
        "os_compute_api:os-keypairs:delete",
        ProjectMember
    ),
    nova!(
        GET,
        "/os-availability-zone",
        "os_compute_api:os-availability-zone:list",
        ProjectReader
    ),
    nova!(
        GET,
        "/os-availability-zone/detail",
        "os_compute_api:os-availability-zone:detail",
        AdminOnly
    ),
    nova!(GET, "/limits", "os_compute_api:limits", ProjectReader),
    nova!(
        GET,
        "/os-quota-sets/{project}",
        "os_compute_api:os-quota-sets:show",
        ProjectReader,
        Project("project")
    ),
    nova!(
        PUT,
        "/os-quota-sets/{project}",
        "os_compute_api:os-quota-sets:update",
        AdminOnly
    ),
    nova!(
        GET,
        "/os-quota-sets/{project}/detail",
        "os_compute_api:os-quota-sets:detail",
        ProjectReader,
        Project("project")
    ),
    nova!(
        GET,
        "/os-quota-sets/{project}/defaults",
        "os_compute_api:os-quota-sets:defaults",
        ProjectReader
    ),
    nova!(
        GET,
        "/os-server-groups",
        "os_compute_api:os-server-groups:index",
        ProjectReader
    ),
    nova!(
        POST,
        "/os-server-groups",
        "os_compute_api:os-server-groups:create",
        ProjectMember
    ),
    nova!(
        GET,
        "/os-server-groups/{id}",
        "os_compute_api:os-server-groups:show",
        ProjectReader
    ),
    nova!(
        DELETE,
        "/os-server-groups/{id}",
        "os_compute_api:os-server-groups:delete",
        ProjectMember
    ),
    nova!(
        GET,
        "/os-simple-tenant-usage",
        "os_compute_api:os-simple-tenant-usage:list",
        AdminOnly
    ),
    nova!(
        GET,
        "/os-simple-tenant-usage/{project}",
        "os_compute_api:os-simple-tenant-usage:show",
        ProjectReader,
        Project("project")
    ),
    // ---- Neutron -------------------------------------------------------------------------------
    r(GET, "/network", "network:versions", Public, Nobody),
    r(GET, "/network/", "network:versions", Public, Nobody),
    r(GET, "/network/v2.0", "network:version", Public, Nobody),
    r(GET, "/network/v2.0/", "network:version", Public, Nobody),
    // Visibility (own, shared, external, admin) is filtered by the central Neutron.
    r(
        GET,
        "/network/v2.0/{coll}",
        "get_{coll}",
        ProjectReader,
        Nobody,
    ),
    r(
        POST,
        "/network/v2.0/{coll}",
        "create_{coll}",
        ProjectMember,
        Nobody,
    ),
    r(
        GET,
        "/network/v2.0/{coll}/{id}",
        "get_{coll}",
        ProjectReader,
        Nobody,
    ),
    r(
        PUT,
        "/network/v2.0/{coll}/{id}",
        "update_{coll}",
        ProjectMember,
        Nobody,
    ),
    r(
        DELETE,
        "/network/v2.0/{coll}/{id}",
        "delete_{coll}",
        ProjectMember,
        Nobody,
    ),
    r(
        GET,
        "/network/v2.0/{coll}/{id}/{sub}",
        "get_{coll}",
        ProjectReader,
        Nobody,
    ),
    r(
        PUT,
        "/network/v2.0/{coll}/{id}/{sub}",
        "update_{coll}",
        ProjectMember,
        Nobody,
    ),
    r(
        DELETE,
        "/network/v2.0/{coll}/{id}/{sub}",
        "update_{coll}",
        ProjectMember,
        Nobody,
    ),
    r(
        GET,
        "/network/v2.0/{coll}/{id}/{sub}/{tag}",
        "get_{coll}_tags",
        ProjectReader,
        Nobody,
    ),
    r(
        PUT,
        "/network/v2.0/{coll}/{id}/{sub}/{tag}",
        "update_{coll}_tags",
        ProjectMember,
        Nobody,
    ),
    r(
        DELETE,
        "/network/v2.0/{coll}/{id}/{sub}/{tag}",
        "delete_{coll}_tags",
        ProjectMember,
        Nobody,
    ),
    // Quotas: `{id}` is the target project.
    r(GET, "/network/v2.0/quotas", "get_quota", AdminOnly, Nobody),
    r(
        GET,
        "/network/v2.0/quotas/{id}",
        "get_quota",
        ProjectReader,
        Project("id"),
    ),
    r(
        PUT,
        "/network/v2.0/quotas/{id}",
        "update_quota",
        AdminOnly,
        Nobody,
    ),
    r(
        DELETE,
        "/network/v2.0/quotas/{id}",
        "delete_quota",
        AdminOnly,
        Nobody,
    ),
    r(
        GET,
        "/network/v2.0/quotas/{id}/{sub}",
        "get_quota",
        ProjectReader,
        Project("id"),
    ),
    r(
        GET,
        "/network/v2.0/network-ip-availabilities",
        "get_network_ip_availability",
        AdminOnly,
        Nobody,
    ),
    r(
        GET,
        "/network/v2.0/network-ip-availabilities/{id}",
        "get_network_ip_availability",
        AdminOnly,
        Nobody,
    ),
    // ---- Glance --------------------------------------------------------------------------------
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
        AdminOnly
    ),
    glance!(
        POST,
        "/v2/images/{id}/actions/reactivate",
        "reactivate",
        AdminOnly
    ),
    glance!(GET, "/v2/schemas/image", "get_schema", ProjectReader),
    glance!(GET, "/v2/schemas/images", "get_schema", ProjectReader),
    glance!(GET, "/v2/schemas/member", "get_schema", ProjectReader),
    glance!(GET, "/v2/schemas/members", "get_schema", ProjectReader),
    glance!(GET, "/v2/info/import", "get_import_info", ProjectReader),
    // ---- Cinder --------------------------------------------------------------------------------
    r(GET, "/volume", "volume:versions", Public, Nobody),
    r(GET, "/volume/", "volume:versions", Public, Nobody),
    r(GET, "/volume/v3", "volume:version", Public, Nobody),
    r(GET, "/volume/v3/", "volume:version", Public, Nobody),
    cinder!(GET, "/volumes", "volume:get_all", ProjectReader),
    cinder!(POST, "/volumes", "volume:create", ProjectMember),
    cinder!(GET, "/volumes/detail", "volume:get_all", ProjectReader),
    cinder!(GET, "/volumes/{id}", "volume:get", ProjectReader),
    cinder!(PUT, "/volumes/{id}", "volume:update", ProjectMember),
    cinder!(DELETE, "/volumes/{id}", "volume:delete", ProjectMember),
    // Admin-only actions (os-reset_status, os-force_delete, …) are refused again by the handler.
    cinder!(POST, "/volumes/{id}/action", "volume:action", ProjectMember),
    cinder!(
        GET,
        "/volumes/{id}/metadata",
        "volume:get_volume_metadata",
        ProjectReader
    ),
    cinder!(
        PUT,
        "/volumes/{id}/metadata",
        "volume:update_volume_metadata",
        ProjectMember
    ),
    cinder!(
        POST,
        "/volumes/{id}/metadata",
        "volume:create_volume_metadata",
        ProjectMember
    ),
    cinder!(
        GET,
        "/volumes/{id}/metadata/{key}",
        "volume:get_volume_metadata",
        ProjectReader
    ),
    cinder!(
        PUT,
        "/volumes/{id}/metadata/{key}",
        "volume:update_volume_metadata",
        ProjectMember
    ),
    cinder!(
        DELETE,
        "/volumes/{id}/metadata/{key}",
        "volume:delete_volume_metadata",
        ProjectMember
    ),
    cinder!(GET, "/snapshots", "volume:get_all_snapshots", ProjectReader),
    cinder!(POST, "/snapshots", "volume:create_snapshot", ProjectMember),
    cinder!(
        GET,
        "/snapshots/detail",
        "volume:get_all_snapshots",
        ProjectReader
    ),
    cinder!(GET, "/snapshots/{id}", "volume:get_snapshot", ProjectReader),
    cinder!(
        PUT,
        "/snapshots/{id}",
        "volume:update_snapshot",
        ProjectMember
    ),
    cinder!(
        DELETE,
        "/snapshots/{id}",
        "volume:delete_snapshot",
        ProjectMember
    ),
    cinder!(
        GET,
        "/types",
        "volume_extension:type_get_all",
        ProjectReader
    ),
    cinder!(POST, "/types", "volume_extension:types_manage", AdminOnly),
    cinder!(
        GET,
        "/types/{id}",
        "volume_extension:type_get",
        ProjectReader
    ),
    cinder!(
        DELETE,
        "/types/{id}",
        "volume_extension:types_manage",
        AdminOnly
    ),
    cinder!(
        GET,
        "/attachments",
        "volume:attachment_get_all",
        ProjectReader
    ),
    cinder!(
        POST,
        "/attachments",
        "volume:attachment_create",
        ProjectMember
    ),
    cinder!(
        GET,
        "/attachments/detail",
        "volume:attachment_get_all",
        ProjectReader
    ),
    cinder!(
        GET,
        "/attachments/{id}",
        "volume:attachment_get",
        ProjectReader
    ),
    cinder!(
        DELETE,
        "/attachments/{id}",
        "volume:attachment_delete",
        ProjectMember
    ),
    // `{target}` is the project whose quotas are read; the URL's project is the caller's.
    r(
        GET,
        "/volume/v3/{project_id}/os-quota-sets/{target}",
        "volume_extension:quotas:show",
        ProjectReader,
        Project("target"),
    ),
    r(
        PUT,
        "/volume/v3/{project_id}/os-quota-sets/{target}",
        "volume_extension:quotas:update",
        AdminOnly,
        Nobody,
    ),
    cinder!(
        GET,
        "/os-quota-sets/{target}/defaults",
        "volume_extension:quotas:show",
        ProjectReader
    ),
    cinder!(
        GET,
        "/limits",
        "limits_extension:used_limits",
        ProjectReader
    ),
    cinder!(
        GET,
        "/os-availability-zone",
        "volume_extension:availability_zone_list",
        ProjectReader
    ),
    // ---- Cascade's admin API -------------------------------------------------------------------
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
    // ---- Health and metrics --------------------------------------------------------------------
    r(GET, "/healthcheck", "cascade:healthcheck", Public, Nobody),
    r(GET, "/healthz", "cascade:healthz", Monitor, Nobody),
    r(GET, "/metrics", "cascade:metrics", Monitor, Nobody),
];
