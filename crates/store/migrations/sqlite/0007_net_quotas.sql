-- Per-project Neutron quota overrides (defaults come from the configuration).
CREATE TABLE net_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
