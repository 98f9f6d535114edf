-- Rollback of 014.
DROP INDEX IF EXISTS idx_magic_prompts_tenant_slug;
DROP TABLE IF EXISTS project_views;
DROP TABLE IF EXISTS reports;
ALTER TABLE social_interactions DROP COLUMN IF EXISTS hidden_at;
ALTER TABLE projects DROP COLUMN IF EXISTS hidden_at;
