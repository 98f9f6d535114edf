-- Rollback of 009.
DROP TABLE IF EXISTS password_reset_tokens;
DROP TABLE IF EXISTS revoked_access_tokens;
DROP TABLE IF EXISTS refresh_tokens;
