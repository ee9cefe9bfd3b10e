-- Glance's metadata definitions catalog and tasks, kept by the global Glance at the top (no pod
-- holds them). A namespace has a surrogate id so renaming it keeps its contents; objects,
-- properties and tags are `metadef_items` rows of one kind each, with their JSON document.
-- Resource types are shared by all namespaces; the ones Glance ships are seeded (protected).
CREATE TABLE metadef_namespaces (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL UNIQUE,
    display_name TEXT,
    description TEXT,
    visibility TEXT NOT NULL,
    protected BIGINT NOT NULL DEFAULT 0,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX metadef_namespaces_owner ON metadef_namespaces (owner);

CREATE TABLE metadef_resource_types (
    name TEXT PRIMARY KEY,
    protected BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE metadef_ns_resource_types (
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL REFERENCES metadef_resource_types(name),
    prefix TEXT,
    properties_target TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type)
);
CREATE INDEX metadef_ns_resource_types_rt ON metadef_ns_resource_types (resource_type);

CREATE TABLE metadef_items (
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, kind, name)
);

INSERT INTO metadef_resource_types (name, protected, created_at, updated_at)
SELECT v.name, 1, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) * 1000000, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) * 1000000
FROM (SELECT 'OS::Glance::Image' AS name UNION ALL SELECT 'OS::Cinder::Volume'
      UNION ALL SELECT 'OS::Nova::Flavor' UNION ALL SELECT 'OS::Nova::Aggregate'
      UNION ALL SELECT 'OS::Nova::Server' UNION ALL SELECT 'OS::Trove::Instance') AS v;

-- Glance's (legacy) tasks: `import` from a URL into a new image.
CREATE TABLE image_tasks (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    input TEXT NOT NULL,
    result TEXT,
    message TEXT NOT NULL DEFAULT '',
    image_id TEXT,
    request_id TEXT,
    user_id TEXT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX image_tasks_owner ON image_tasks (owner, created_at);
