-- Identity (embedded Keystone), pod registry and routing table.
CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    password_hash TEXT,
    enabled BIGINT NOT NULL DEFAULT 1,
    default_project_id TEXT,
    description TEXT,
    email TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE role_assignments (
    target_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id),
    PRIMARY KEY (target_kind, actor_id, target_id, role_id)
);
CREATE INDEX role_assignments_target ON role_assignments (target_id);

CREATE TABLE tokens (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    project_id TEXT,
    domain_id TEXT,
    methods TEXT NOT NULL,
    audit_id TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

CREATE TABLE pods (
    pod_id TEXT PRIMARY KEY,
    region_name TEXT NOT NULL UNIQUE,
    az_name TEXT NOT NULL,
    pod_az_name TEXT NOT NULL DEFAULT '',
    dc_name TEXT NOT NULL DEFAULT '',
    auth_url TEXT,
    endpoints TEXT NOT NULL DEFAULT '{}',
    capabilities TEXT NOT NULL DEFAULT '{}',
    credentials TEXT,
    state TEXT NOT NULL,
    state_reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    checked_at BIGINT
);

CREATE TABLE routings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    top_id TEXT NOT NULL,
    bottom_id TEXT,
    pod_id TEXT NOT NULL REFERENCES pods(pod_id),
    project_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (top_id, pod_id, resource_type)
);
CREATE INDEX routings_bottom ON routings (bottom_id);
CREATE INDEX routings_project ON routings (project_id);
