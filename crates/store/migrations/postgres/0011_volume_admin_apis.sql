-- Cinder's admin APIs kept at the top: which projects may use a private volume type
-- (`os-volume-type-access`), the quota class `default` (`os-quota-class-sets`, overriding the
-- built-in defaults for every project without its own limit) and volume transfers
-- (`os-volume-transfer`, `volume-transfers`: the auth key only as a salted SHA-256; the pod's
-- own transfer of the bottom volume as `bottom_id`).
CREATE TABLE volume_type_access (
    type_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    PRIMARY KEY (type_id, project_id)
);

CREATE TABLE volume_quota_classes (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);

CREATE TABLE volume_transfers (
    id TEXT PRIMARY KEY,
    volume_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    name TEXT,
    salt TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    no_snapshots BIGINT NOT NULL DEFAULT 0,
    pod_id TEXT,
    bottom_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX volume_transfers_volume ON volume_transfers (volume_id);

-- A snapshot's progress as `os-update_snapshot_status` set it (`NULL`: derived from its status).
ALTER TABLE volume_snapshots ADD COLUMN progress TEXT;
