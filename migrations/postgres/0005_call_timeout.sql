-- How long a call to this MCP server may go without its answer or a
-- progress notification, in seconds; NULL: the platform's default
-- (--mcp-call-timeout-secs). Set at deploy (`callTimeoutSecs`) or with
-- `omnimcp admin add-server --call-timeout-secs`.
ALTER TABLE mcp_servers ADD COLUMN call_timeout_secs BIGINT CHECK (call_timeout_secs IS NULL OR call_timeout_secs BETWEEN 1 AND 86400);
