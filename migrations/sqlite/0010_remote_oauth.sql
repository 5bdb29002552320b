-- OmniMCP as an OAuth client of remote MCP servers that require OAuth
-- (src/oauth/upstream.rs).

-- 'oauth' when the server answered an unauthenticated request with a
-- Bearer challenge: each user connects their own account to it.
ALTER TABLE mcp_servers ADD COLUMN remote_auth TEXT;

-- The access token of an installation's connection to such a server,
-- sealed to the installation (never shown, never forwarded elsewhere).
ALTER TABLE user_mcp_installations ADD COLUMN access_token_enc BLOB;

-- What refreshes that token: the authorization server (issuer), its token
-- endpoint, the scope granted and the resource (RFC 8707) it is for. NULL for GitHub, Slack and Notion,
-- whose endpoints are the provider's.
ALTER TABLE installation_connections ADD COLUMN issuer TEXT;
ALTER TABLE installation_connections ADD COLUMN token_url TEXT;
ALTER TABLE installation_connections ADD COLUMN scope TEXT;
ALTER TABLE installation_connections ADD COLUMN resource TEXT;

-- How OmniMCP is known to each authorization server it registered with
-- dynamically (RFC 7591). One client per authorization server, shared by
-- every user: the authorization server tells users apart by their grants.
CREATE TABLE upstream_oauth_clients (
    issuer       TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    secret_enc   BLOB,
    key_id       TEXT NOT NULL,
    auth_method  TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
