-- Central networking (DESIGN.md protocol 5): Cascade's own Neutron. Every resource is one
-- row holding its Neutron JSON document, with the columns lookups need; what must never be
-- handed out twice (addresses, MACs, segment ids, bridge CIDRs) has its own table whose
-- primary key is the guard.
CREATE TABLE net_resources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    project_id TEXT NOT NULL,
    parent_id TEXT,
    device_id TEXT,
    pod_id TEXT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX net_resources_kind_project ON net_resources (kind, project_id);
CREATE INDEX net_resources_parent ON net_resources (parent_id);
CREATE INDEX net_resources_device ON net_resources (device_id);

CREATE TABLE net_ip_allocations (
    subnet_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    network_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (subnet_id, ip)
);
CREATE INDEX net_ip_allocations_owner ON net_ip_allocations (owner_id);

CREATE TABLE net_macs (
    mac TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX net_macs_owner ON net_macs (owner_id);

CREATE TABLE net_segments (
    network_type TEXT NOT NULL,
    physical_network TEXT NOT NULL,
    segmentation_id BIGINT NOT NULL,
    owner_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (network_type, physical_network, segmentation_id)
);
CREATE INDEX net_segments_owner ON net_segments (owner_id);

CREATE TABLE net_bridges (
    project_id TEXT PRIMARY KEY,
    cidr TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
