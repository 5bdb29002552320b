-- OmniMCP as an OAuth 2.1 authorization server for `/mcp` (src/oauth/).
--
-- A client is who asks: registered dynamically (RFC 7591), pre-registered by
-- an administrator, or named by the URL of its Client ID Metadata Document
-- (cached here, refetched when stale). A grant is one user's consent to one
-- client: its OAuth scopes and its reach (the same shape as an API key's
-- scope; NULL reaches everything the user installed). Codes and tokens
-- belong to a grant and are stored as SHA-256 hashes only; revoking the
-- grant ends them all.
CREATE TABLE oauth_clients (
    client_id     TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('registered', 'preregistered', 'metadata_document')),
    name          TEXT NOT NULL,
    logo_uri      TEXT,
    client_uri    TEXT,
    redirect_uris JSONB NOT NULL,             -- JSON array of exact URIs
    secret_hash   BYTEA,                       -- confidential clients only
    created_at    TIMESTAMPTZ NOT NULL,
    fetched_at    TIMESTAMPTZ                        -- metadata documents: last fetch
);

CREATE TABLE oauth_grants (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scopes       TEXT NOT NULL,               -- space-separated OAuth scopes
    reach        JSONB,                        -- JSON KeyScope; NULL = everything installed
    resource     TEXT NOT NULL,               -- RFC 8707: the one resource its tokens serve
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX oauth_grants_user ON oauth_grants (user_id, created_at);

CREATE TABLE oauth_codes (
    code_hash      BYTEA PRIMARY KEY,
    grant_id       UUID NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ
);

CREATE TABLE oauth_tokens (
    token_hash BYTEA PRIMARY KEY,
    grant_id   UUID NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ                           -- refresh tokens: when rotated
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
