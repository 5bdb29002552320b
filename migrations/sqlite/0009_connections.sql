-- OAuth connections of installations to GitHub, Slack and Notion
-- (src/oauth/providers.rs). The access token itself is the installation's
-- `token` setting, sealed with its config; this row keeps what refreshes
-- it: the refresh token (sealed, NULL when the provider issues none or a
-- refresh failed) and when the access token expires.
CREATE TABLE installation_connections (
    installation_id BLOB PRIMARY KEY REFERENCES user_mcp_installations (id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    refresh_enc     BLOB,
    key_id          TEXT NOT NULL,
    expires_at      TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX installation_connections_expiry ON installation_connections (expires_at);
