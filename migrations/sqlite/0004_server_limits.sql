-- How many servers a user of each tier may publish: every deploy of a new
-- server past it is refused (redeploys of existing ones are not).
ALTER TABLE subscription_tiers ADD COLUMN max_servers BIGINT NOT NULL DEFAULT 3 CHECK (max_servers >= 0);
UPDATE subscription_tiers SET max_servers = 25 WHERE id = 'pro';
UPDATE subscription_tiers SET max_servers = 500 WHERE id = 'enterprise';
