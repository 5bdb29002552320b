-- no-transaction
-- Builder servers (src/builder): tools defined as data and run by the
-- platform itself, a fourth hosting kind.
--
-- SQLite cannot alter a CHECK constraint, so mcp_servers is rebuilt the
-- way SQLite documents (ALTER TABLE, "making other kinds of table schema
-- changes"): foreign keys off outside the transaction, a new table, the
-- rows copied, the old table dropped, the new one renamed. The tables that
-- reference mcp_servers name it, so they reference the new table.
PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE mcp_servers_rebuilt (
    id                     BLOB PRIMARY KEY,
    slug                   TEXT NOT NULL UNIQUE,
    name                   TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    category               TEXT NOT NULL DEFAULT 'other',
    tags                   TEXT NOT NULL DEFAULT '[]',
    version                TEXT NOT NULL DEFAULT '0.1.0',
    owner_id               BLOB REFERENCES users (id) ON DELETE SET NULL,
    hosting_type           TEXT NOT NULL CHECK (hosting_type IN ('platform_hosted', 'developer_hosted', 'remote_mcp', 'builder')),
    launch_spec            TEXT,
    config_schema          TEXT,
    callback_url           TEXT,
    webhook_secret_enc     BLOB,
    remote_url             TEXT,
    remote_headers_enc     BLOB,
    status                 TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    health_status          TEXT NOT NULL DEFAULT 'unknown',
    last_health_check_at   TEXT,
    request_count          INTEGER NOT NULL DEFAULT 0,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    call_timeout_secs      BIGINT CHECK (call_timeout_secs IS NULL OR call_timeout_secs BETWEEN 1 AND 86400),
    remote_auth            TEXT,
    -- builder: the published definition (JSON) and the publisher's
    -- secrets, sealed to the server (never shown, never sent to users).
    builder_definition     TEXT,
    builder_secrets_enc    BLOB,
    UNIQUE (owner_id, name)
);

INSERT INTO mcp_servers_rebuilt (id, slug, name, description, category, tags, version, owner_id, hosting_type,
    launch_spec, config_schema, callback_url, webhook_secret_enc, remote_url, remote_headers_enc, status,
    health_status, last_health_check_at, request_count, created_at, updated_at, call_timeout_secs, remote_auth)
SELECT id, slug, name, description, category, tags, version, owner_id, hosting_type,
    launch_spec, config_schema, callback_url, webhook_secret_enc, remote_url, remote_headers_enc, status,
    health_status, last_health_check_at, request_count, created_at, updated_at, call_timeout_secs, remote_auth
FROM mcp_servers;

DROP TABLE mcp_servers;
ALTER TABLE mcp_servers_rebuilt RENAME TO mcp_servers;
CREATE INDEX mcp_servers_listing ON mcp_servers (status, category, request_count);

-- What the builder edits: the draft of each builder server. Its id is the
-- id of the mcp_servers row that publishing creates.
CREATE TABLE builder_servers (
    id           BLOB PRIMARY KEY,
    owner_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL DEFAULT 'other',
    tags         TEXT NOT NULL DEFAULT '[]',
    definition   TEXT NOT NULL,
    secrets_enc  BLOB,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (owner_id, name)
);

-- Every published version, as it was published.
CREATE TABLE builder_versions (
    server_id    BLOB NOT NULL REFERENCES builder_servers (id) ON DELETE CASCADE,
    version      TEXT NOT NULL,
    definition   TEXT NOT NULL,
    published_at TEXT NOT NULL,
    PRIMARY KEY (server_id, version)
);

COMMIT;

PRAGMA foreign_keys = ON;
