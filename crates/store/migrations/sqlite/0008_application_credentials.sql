-- Keystone application credentials of the embedded identity: a user's delegated login to one
-- project with some of its roles. The secret is kept only as an Argon2 hash.
CREATE TABLE application_credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    secret_hash TEXT NOT NULL,
    -- JSON array of role ids
    roles TEXT NOT NULL,
    unrestricted BIGINT NOT NULL DEFAULT 0,
    -- microseconds since the epoch
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, name)
);
-- The application credential a token was issued from: its roles bound the token's.
ALTER TABLE tokens ADD COLUMN app_cred_id TEXT;
