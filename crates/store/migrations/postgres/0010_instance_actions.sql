-- Nova's instance actions (`os-instance-actions`): one row per server create, delete or action
-- Cascade performed, keyed by the request that asked for it; `events` is a JSON array of
-- {event, start_time, finish_time, result} (microseconds), kept after the server is deleted.
CREATE TABLE instance_actions (
    server_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    message TEXT,
    events TEXT NOT NULL DEFAULT '[]',
    start_time BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (server_id, request_id)
);
CREATE INDEX instance_actions_by_server ON instance_actions (server_id, start_time);
