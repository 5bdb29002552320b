-- What an MCP server declared about each of its items beyond what the
-- registry stores in columns (title, annotations, icons, `_meta` such as
-- MCP Apps' `ui` resource, size), as the server sent it: listed to clients
-- unchanged (resource URIs in `_meta.ui` rewritten to public ones). NULL
-- for items a developer deployed by hand.
ALTER TABLE mcp_tools ADD COLUMN details JSONB;
ALTER TABLE mcp_resources ADD COLUMN details JSONB;
ALTER TABLE mcp_prompts ADD COLUMN details JSONB;
