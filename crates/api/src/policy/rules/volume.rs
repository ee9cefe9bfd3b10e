//! The default rules of Cinder v3 at `/volume`; the URL names the caller's project.

use super::*;

pub(super) static VOLUME: &[RouteRule] = &[
    r(GET, "/volume", "volume:versions", Public, Nobody),
    r(GET, "/volume/", "volume:versions", Public, Nobody),
    r(GET, "/volume/v3", "volume:version", Public, Nobody),
    r(GET, "/volume/v3/", "volume:version", Public, Nobody),
    cinder!(GET, "/volumes", "volume:get_all", ProjectReader),
    cinder!(POST, "/volumes", "volume:create", ProjectMember),
    cinder!(GET, "/volumes/detail", "volume:get_all", ProjectReader),
    cinder!(GET, "/volumes/summary", "volume:get_all", ProjectReader),
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
    cinder!(PUT, "/types/{id}", "volume_extension:types_manage", AdminOnly),
    cinder!(
        GET,
        "/types/{id}/extra_specs",
        "volume_extension:types_extra_specs:index",
        ProjectReader
    ),
    cinder!(
        POST,
        "/types/{id}/extra_specs",
        "volume_extension:types_extra_specs:create",
        AdminOnly
    ),
    cinder!(
        GET,
        "/types/{id}/extra_specs/{key}",
        "volume_extension:types_extra_specs:show",
        ProjectReader
    ),
    cinder!(
        PUT,
        "/types/{id}/extra_specs/{key}",
        "volume_extension:types_extra_specs:update",
        AdminOnly
    ),
    cinder!(
        DELETE,
        "/types/{id}/extra_specs/{key}",
        "volume_extension:types_extra_specs:delete",
        AdminOnly
    ),
    cinder!(
        POST,
        "/types/{id}/action",
        "volume_extension:volume_type_access:addProjectAccess",
        AdminOnly
    ),
    cinder!(
        GET,
        "/types/{id}/os-volume-type-access",
        "volume_extension:volume_type_access",
        AdminOnly
    ),
    cinder!(
        GET,
        "/os-quota-class-sets/{class}",
        "volume_extension:quota_classes",
        AdminOnly
    ),
    cinder!(
        PUT,
        "/os-quota-class-sets/{class}",
        "volume_extension:quota_classes:update",
        AdminOnly
    ),
    r(
        DELETE,
        "/volume/v3/{project_id}/os-quota-sets/{target}",
        "volume_extension:quotas:delete",
        AdminOnly,
        Nobody,
    ),
    cinder!(
        GET,
        "/scheduler-stats/get_pools",
        "scheduler_extension:scheduler_stats:get_pools",
        AdminOnly
    ),
    cinder!(GET, "/os-hosts", "volume_extension:hosts", AdminOnly),
    cinder!(
        GET,
        "/capabilities/{host}",
        "volume_extension:capabilities",
        AdminOnly
    ),
    cinder!(GET, "/os-hosts/{host}", "volume_extension:hosts", AdminOnly),
    cinder!(
        POST,
        "/snapshots/{id}/action",
        "volume:snapshot_action",
        ProjectMember
    ),
    cinder!(GET, "/os-volume-transfer", "volume:get_all_transfers", ProjectReader),
    cinder!(POST, "/os-volume-transfer", "volume:create_transfer", ProjectMember),
    cinder!(
        GET,
        "/os-volume-transfer/detail",
        "volume:get_all_transfers",
        ProjectReader
    ),
    cinder!(GET, "/os-volume-transfer/{id}", "volume:get_transfer", ProjectReader),
    cinder!(
        DELETE,
        "/os-volume-transfer/{id}",
        "volume:delete_transfer",
        ProjectMember
    ),
    cinder!(
        POST,
        "/os-volume-transfer/{id}/accept",
        "volume:accept_transfer",
        ProjectMember
    ),
    cinder!(GET, "/volume-transfers", "volume:get_all_transfers", ProjectReader),
    cinder!(POST, "/volume-transfers", "volume:create_transfer", ProjectMember),
    cinder!(
        GET,
        "/volume-transfers/detail",
        "volume:get_all_transfers",
        ProjectReader
    ),
    cinder!(GET, "/volume-transfers/{id}", "volume:get_transfer", ProjectReader),
    cinder!(
        DELETE,
        "/volume-transfers/{id}",
        "volume:delete_transfer",
        ProjectMember
    ),
    cinder!(
        POST,
        "/volume-transfers/{id}/accept",
        "volume:accept_transfer",
        ProjectMember
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
    cinder!(
        GET,
        "/snapshots/{id}/metadata",
        "volume:get_snapshot_metadata",
        ProjectReader
    ),
    cinder!(
        PUT,
        "/snapshots/{id}/metadata",
        "volume:update_snapshot_metadata",
        ProjectMember
    ),
    cinder!(
        POST,
        "/snapshots/{id}/metadata",
        "volume:update_snapshot_metadata",
        ProjectMember
    ),
    cinder!(
        GET,
        "/snapshots/{id}/metadata/{key}",
        "volume:get_snapshot_metadata",
        ProjectReader
    ),
    cinder!(
        PUT,
        "/snapshots/{id}/metadata/{key}",
        "volume:update_snapshot_metadata",
        ProjectMember
    ),
    cinder!(
        DELETE,
        "/snapshots/{id}/metadata/{key}",
        "volume:delete_snapshot_metadata",
        ProjectMember
    ),
    // Cinder checks no policy here beyond the project in the URL.
    cinder!(GET, "/extensions", "volume:list_extensions", ProjectReader),
];
