-- Per-key scoping ("virtual servers"): a key may be limited to some of its
-- owner's installations and/or some tools (public names, `slug.tool`).
-- NULL means the key reaches everything its owner installed.
ALTER TABLE api_keys ADD COLUMN scope JSONB;
