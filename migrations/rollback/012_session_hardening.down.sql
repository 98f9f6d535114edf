-- Rollback of 012.
DROP TABLE IF EXISTS login_failures;
ALTER TABLE refresh_tokens DROP COLUMN IF EXISTS replaced_by_access;
ALTER TABLE refresh_tokens DROP COLUMN IF EXISTS replaced_by;
ALTER TABLE users DROP COLUMN IF EXISTS sessions_kept_family;
ALTER TABLE users DROP COLUMN IF EXISTS sessions_valid_after;
