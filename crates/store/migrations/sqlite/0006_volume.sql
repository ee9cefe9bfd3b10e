-- Block storage: the volume index (the top's record of every volume: answers lists, survives
-- pod outages), snapshots, attachments (Cinder's attachment records, also made by Nova's
-- os-volume_attachments), top-authoritative volume types (copied by name to pods on first
-- use; routing rows with resource_type 'volume_type') and per-project volume quotas.
CREATE TABLE volumes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size BIGINT NOT NULL,
    status TEXT NOT NULL,
    az TEXT NOT NULL DEFAULT '',
    pod_id TEXT,
    bottom_id TEXT,
    volume_type TEXT NOT NULL,
    bootable BIGINT NOT NULL DEFAULT 0,
    multiattach BIGINT NOT NULL DEFAULT 0,
    attachments TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    image_metadata TEXT NOT NULL DEFAULT '{}',
    snapshot_id TEXT,
    source_volid TEXT,
    image_id TEXT,
    request TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    deleted_at BIGINT
);
CREATE INDEX volumes_project_created ON volumes (project_id, created_at, id);
CREATE INDEX volumes_created ON volumes (created_at, id);
CREATE INDEX volumes_pod_bottom ON volumes (pod_id, bottom_id);

CREATE TABLE volume_snapshots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size BIGINT NOT NULL,
    status TEXT NOT NULL,
    pod_id TEXT,
    bottom_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX volume_snapshots_project ON volume_snapshots (project_id, created_at, id);
CREATE INDEX volume_snapshots_volume ON volume_snapshots (volume_id);

CREATE TABLE volume_attachments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    server_id TEXT,
    status TEXT NOT NULL,
    attach_mode TEXT NOT NULL DEFAULT 'rw',
    device TEXT,
    bottom_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX volume_attachments_volume ON volume_attachments (volume_id);

CREATE TABLE volume_types (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_public BIGINT NOT NULL DEFAULT 1,
    extra_specs TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
INSERT INTO volume_types (id, name, description, is_public, extra_specs, created_at)
VALUES ('5f2bd3a4-9c1e-4c1b-8f57-000000000001', '__DEFAULT__', 'Default Volume Type', 1, '{}', 0);

CREATE TABLE volume_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
