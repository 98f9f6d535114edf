-- Rollback of 015.
DROP TRIGGER IF EXISTS trg_projects_latest_code ON projects;
DROP FUNCTION IF EXISTS project_takes_latest_code();
DROP TRIGGER IF EXISTS trg_generated_code_latest ON generated_code;
DROP FUNCTION IF EXISTS projects_follow_latest_code();
DROP FUNCTION IF EXISTS latest_code_of(UUID);
ALTER TABLE projects DROP COLUMN IF EXISTS preview_url;
ALTER TABLE projects DROP COLUMN IF EXISTS code_id;
