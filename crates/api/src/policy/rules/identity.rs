//! The default rules of Keystone v3 at `/identity` (served only with the embedded identity).

use super::*;

pub(super) static IDENTITY: &[RouteRule] = &[
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
    // Keystone lets a user read the domain of its own project or user; the handler checks that.
    keystone!(
        GET,
        "/v3/domains/{id}",
        "identity:get_domain",
        Authenticated
    ),
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
    keystone!(
        GET,
        "/v3/projects/{id}/tags",
        "identity:list_project_tags",
        ProjectReader,
        Project("id")
    ),
    keystone!(
        GET,
        "/v3/projects/{id}/tags/{tag}",
        "identity:get_project_tag",
        ProjectReader,
        Project("id")
    ),
    keystone!(
        PUT,
        "/v3/projects/{id}/tags",
        "identity:update_project_tags",
        AdminOnly
    ),
    keystone!(
        PUT,
        "/v3/projects/{id}/tags/{tag}",
        "identity:create_project_tag",
        AdminOnly
    ),
    keystone!(
        DELETE,
        "/v3/projects/{id}/tags",
        "identity:delete_project_tags",
        AdminOnly
    ),
    keystone!(
        DELETE,
        "/v3/projects/{id}/tags/{tag}",
        "identity:delete_project_tag",
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
    keystone!(
        GET,
        "/v3/users/{user}/application_credentials",
        "identity:list_application_credentials",
        Owner,
        User("user")
    ),
    keystone!(
        POST,
        "/v3/users/{user}/application_credentials",
        "identity:create_application_credential",
        Owner,
        User("user")
    ),
    keystone!(
        GET,
        "/v3/users/{user}/application_credentials/{id}",
        "identity:get_application_credential",
        Owner,
        User("user")
    ),
    keystone!(
        DELETE,
        "/v3/users/{user}/application_credentials/{id}",
        "identity:delete_application_credential",
        Owner,
        User("user")
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
];
