-- Durable jobs (DESIGN.md protocol 2): one row per unit of background work, claimed with a
-- lease. At most one NEW or RUNNING job per (job_type, resource_id): the partial unique index
-- is the dedupe. SUCCESS and FAIL rows are kept as the log.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    pod_id TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    last_error TEXT,
    progress TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    run_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_active ON jobs (job_type, resource_id) WHERE status IN ('NEW', 'RUNNING');
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_created ON jobs (created_at, id);
CREATE INDEX jobs_project ON jobs (project_id);
CREATE INDEX jobs_resource ON jobs (resource_id);
