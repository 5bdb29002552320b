-- The skills an MCP server serves (SEP-2640 `skills/list`), one row per
-- skill: its SKILL.md URI and the entry as the server listed it
-- (frontmatter, the files with their digests and sizes). `skills/list`
-- and `skills/get` are answered from here, like the other lists; the
-- files themselves are read from the server when a client asks.
CREATE TABLE mcp_skills (
    id          BLOB PRIMARY KEY,
    server_id   BLOB NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    uri         TEXT NOT NULL,
    entry       TEXT NOT NULL,
    UNIQUE (server_id, uri)
);
