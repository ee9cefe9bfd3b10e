-- The global Glance: images (the top's registry; bytes live in pods), image members
-- (sharing), and the per-pod copies with their progress and copy lease. Each pod copy also has
-- a routing row (resource_type 'image') whose bottom_id is the image's id in that pod.
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    protected BIGINT NOT NULL DEFAULT 0,
    os_hidden BIGINT NOT NULL DEFAULT 0,
    disk_format TEXT,
    container_format TEXT,
    min_disk BIGINT NOT NULL DEFAULT 0,
    min_ram BIGINT NOT NULL DEFAULT 0,
    size BIGINT,
    virtual_size BIGINT,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    properties TEXT NOT NULL DEFAULT '{}',
    home_pod_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX images_owner ON images (owner);
CREATE INDEX images_visibility ON images (visibility);
CREATE INDEX images_created ON images (created_at, id);
CREATE INDEX images_name ON images (name);

CREATE TABLE image_members (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members (member_id);

CREATE TABLE image_copies (
    image_id TEXT NOT NULL,
    pod_id TEXT NOT NULL REFERENCES pods(pod_id),
    state TEXT NOT NULL,
    bottom_id TEXT,
    bytes_done BIGINT NOT NULL DEFAULT 0,
    bytes_total BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, pod_id)
);
CREATE INDEX image_copies_state ON image_copies (state);
