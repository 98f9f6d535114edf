-- Rollback of 013.
DROP INDEX IF EXISTS idx_generated_code_latest;
DROP INDEX IF EXISTS idx_forks_source_created;
DROP INDEX IF EXISTS idx_projects_owner_created;
DROP INDEX IF EXISTS idx_projects_gallery_most_viewed_id;
DROP INDEX IF EXISTS idx_projects_gallery_most_forked_id;
DROP INDEX IF EXISTS idx_projects_gallery_popular_id;
DROP INDEX IF EXISTS idx_projects_gallery_latest_id;
ALTER TABLE projects DROP COLUMN IF EXISTS hidden_at;
