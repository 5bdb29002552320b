-- Builder servers (src/builder): tools defined as data and run by the
-- platform itself, a fourth hosting kind.
ALTER TABLE mcp_servers DROP CONSTRAINT mcp_servers_hosting_type_check;
ALTER TABLE mcp_servers ADD CONSTRAINT mcp_servers_hosting_type_check
    CHECK (hosting_type IN ('platform_hosted', 'developer_hosted', 'remote_mcp', 'builder'));

-- builder: the published definition and the publisher's secrets, sealed
-- to the server (never shown, never sent to users).
ALTER TABLE mcp_servers ADD COLUMN builder_definition JSONB;
ALTER TABLE mcp_servers ADD COLUMN builder_secrets_enc BYTEA;

-- What the builder edits: the draft of each builder server. Its id is the
-- id of the mcp_servers row that publishing creates.
CREATE TABLE builder_servers (
    id           UUID PRIMARY KEY,
    owner_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL DEFAULT 'other',
    tags         JSONB NOT NULL DEFAULT '[]',
    definition   JSONB NOT NULL,
    secrets_enc  BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (owner_id, name)
);

-- Every published version, as it was published.
CREATE TABLE builder_versions (
    server_id    UUID NOT NULL REFERENCES builder_servers (id) ON DELETE CASCADE,
    version      TEXT NOT NULL,
    definition   JSONB NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (server_id, version)
);
