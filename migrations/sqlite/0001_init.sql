-- OmniMCP schema, SQLite dialect. Kept column-for-column equal to
-- migrations/postgres/0001_init.sql: the storage layer (src/db/) binds the
-- same Rust types to both. Conventions:
--   * ids are UUIDs (BLOB here, UUID in PostgreSQL), generated in Rust (v7,
--     so they sort by creation time);
--   * timestamps are written by Rust as RFC 3339 UTC text (TIMESTAMPTZ in
--     PostgreSQL); the database never calls now(), so both behave alike;
--   * JSON documents are TEXT here and JSONB in PostgreSQL.

-- Subscription tiers are data, not code: limits change without a deploy.
CREATE TABLE subscription_tiers (
    id                  TEXT PRIMARY KEY,          -- 'free', 'pro', 'enterprise'
    name                TEXT NOT NULL,
    requests_per_minute INTEGER NOT NULL CHECK (requests_per_minute > 0),
    requests_per_month  INTEGER NOT NULL CHECK (requests_per_month > 0),
    max_installations   INTEGER NOT NULL CHECK (max_installations >= 0),
    can_publish         INTEGER NOT NULL,          -- may deploy MCP servers
    sort_order          INTEGER NOT NULL
);

-- Defaults (documented in README.md): a free user can try every flow,
-- publishing included, within tighter limits.
INSERT INTO subscription_tiers VALUES
    ('free',       'Free',       60,    10000,     5,    1, 0),
    ('pro',        'Pro',        600,   500000,    50,   1, 1),
    ('enterprise', 'Enterprise', 6000,  10000000,  1000, 1, 2);

CREATE TABLE users (
    id                BLOB PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,        -- normalised: trimmed, lower-case
    password_hash     TEXT NOT NULL,               -- argon2id PHC string
    role              TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    subscription_tier TEXT NOT NULL DEFAULT 'free' REFERENCES subscription_tiers (id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

-- A browser or API login. The JWT carries the session id, so logging out
-- (deleting the row) revokes the token before it expires.
CREATE TABLE sessions (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- API keys: only a SHA-256 of the key is stored (keys carry 256 random bits,
-- so a slow hash adds nothing); `prefix` is what lists show.
CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

CREATE TABLE mcp_servers (
    id                     BLOB PRIMARY KEY,
    slug                   TEXT NOT NULL UNIQUE,
    name                   TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    category               TEXT NOT NULL DEFAULT 'other',
    tags                   TEXT NOT NULL DEFAULT '[]',      -- JSON array of strings
    version                TEXT NOT NULL DEFAULT '0.1.0',
    owner_id               BLOB REFERENCES users (id) ON DELETE SET NULL,
    hosting_type           TEXT NOT NULL CHECK (hosting_type IN ('platform_hosted', 'developer_hosted', 'remote_mcp')),
    launch_spec            TEXT,                            -- JSON: command, args, env mapping (platform_hosted)
    config_schema          TEXT,                            -- JSON Schema of an installation's config
    callback_url           TEXT,                            -- developer_hosted
    webhook_secret_enc     BLOB,                            -- encrypted under the master key
    remote_url             TEXT,                            -- remote_mcp
    remote_headers_enc     BLOB,                            -- encrypted static headers (remote_mcp)
    status                 TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    health_status          TEXT NOT NULL DEFAULT 'unknown',
    last_health_check_at   TEXT,
    request_count          INTEGER NOT NULL DEFAULT 0,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX mcp_servers_listing ON mcp_servers (status, category, request_count);

CREATE TABLE mcp_tools (
    id            BLOB PRIMARY KEY,
    server_id     BLOB NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    parameters    TEXT NOT NULL DEFAULT '{"type":"object"}', -- input JSON Schema
    output_schema TEXT,
    UNIQUE (server_id, name)
);

CREATE TABLE mcp_resources (
    id          BLOB PRIMARY KEY,
    server_id   BLOB NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    uri         TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    mime_type   TEXT,
    UNIQUE (server_id, uri)
);

CREATE TABLE mcp_prompts (
    id          BLOB PRIMARY KEY,
    server_id   BLOB NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    arguments   TEXT NOT NULL DEFAULT '[]',
    UNIQUE (server_id, name)
);

CREATE TABLE user_mcp_installations (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    server_id  BLOB NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    config_enc BLOB,                               -- encrypted JSON (user credentials, settings)
    key_id     TEXT,                               -- which master key encrypted config_enc
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (user_id, server_id)
);
CREATE INDEX installations_server ON user_mcp_installations (server_id);

-- Written by a batched background writer; never holds argument values.
CREATE TABLE request_logs (
    id               BLOB PRIMARY KEY,
    user_id          BLOB REFERENCES users (id) ON DELETE SET NULL,
    server_id        BLOB REFERENCES mcp_servers (id) ON DELETE SET NULL,
    tool_name        TEXT,
    request_type     TEXT NOT NULL,                -- 'tools/call', 'resources/read', ...
    status           TEXT NOT NULL,                -- 'ok' or 'error'
    error_class      TEXT,
    response_time_ms INTEGER NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX request_logs_user_time ON request_logs (user_id, created_at);
CREATE INDEX request_logs_server_time ON request_logs (server_id, created_at);
