-- Resource templates (RFC 6570 URI templates such as `notes://{id}`) live
-- beside plain resources: `uri` holds the template and `template` says so.
-- A read of any URI the template matches goes to the server.
ALTER TABLE mcp_resources ADD COLUMN template BOOLEAN NOT NULL DEFAULT FALSE;
