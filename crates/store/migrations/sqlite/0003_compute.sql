-- Compute: top-authoritative flavors and keypairs, the server index, server groups,
-- per-project quotas and tenant-to-pod bindings.
CREATE TABLE flavors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vcpus BIGINT NOT NULL,
    ram BIGINT NOT NULL,
    disk BIGINT NOT NULL,
    ephemeral BIGINT NOT NULL DEFAULT 0,
    swap BIGINT NOT NULL DEFAULT 0,
    rxtx_factor TEXT NOT NULL DEFAULT '1.0',
    is_public BIGINT NOT NULL DEFAULT 1,
    description TEXT,
    extra_specs TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE flavor_access (
    flavor_id TEXT NOT NULL REFERENCES flavors(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
);

CREATE TABLE keypairs (
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    key_type TEXT NOT NULL DEFAULT 'ssh',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE servers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    vm_state TEXT NOT NULL,
    task_state TEXT,
    power_state BIGINT NOT NULL DEFAULT 0,
    pod_id TEXT,
    az TEXT NOT NULL DEFAULT '',
    flavor TEXT NOT NULL,
    vcpus BIGINT NOT NULL DEFAULT 0,
    ram BIGINT NOT NULL DEFAULT 0,
    image_id TEXT NOT NULL DEFAULT '',
    key_name TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',
    host_id TEXT NOT NULL DEFAULT '',
    fault TEXT,
    locked BIGINT NOT NULL DEFAULT 0,
    locked_reason TEXT,
    description TEXT,
    access_ipv4 TEXT NOT NULL DEFAULT '',
    access_ipv6 TEXT NOT NULL DEFAULT '',
    config_drive TEXT NOT NULL DEFAULT '',
    security_groups TEXT NOT NULL DEFAULT '[]',
    server_group_id TEXT,
    request TEXT NOT NULL DEFAULT '{}',
    bottom_id TEXT,
    addresses TEXT NOT NULL DEFAULT '{}',
    volumes TEXT NOT NULL DEFAULT '[]',
    launched_at BIGINT,
    terminated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    deleted_at BIGINT
);
CREATE INDEX servers_project_created ON servers (project_id, created_at, id);
CREATE INDEX servers_created ON servers (created_at, id);
CREATE INDEX servers_updated ON servers (updated_at);
CREATE INDEX servers_pod_bottom ON servers (pod_id, bottom_id);

CREATE TABLE server_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    rules TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE server_group_members (
    group_id TEXT NOT NULL REFERENCES server_groups(id) ON DELETE CASCADE,
    server_id TEXT NOT NULL,
    PRIMARY KEY (group_id, server_id)
);

CREATE TABLE compute_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE pod_bindings (
    project_id TEXT NOT NULL,
    az_name TEXT NOT NULL,
    pod_id TEXT NOT NULL REFERENCES pods(pod_id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, az_name)
);

CREATE TABLE watermarks (
    pod_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    mark BIGINT NOT NULL,
    PRIMARY KEY (pod_id, resource)
);
