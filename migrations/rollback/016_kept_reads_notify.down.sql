-- Rollback of 016.
DROP TRIGGER IF EXISTS trg_projects_truncate_notify_kept ON projects;
DROP TRIGGER IF EXISTS trg_projects_notify_kept ON projects;
DROP TRIGGER IF EXISTS trg_revoked_access_tokens_truncate_notify_auth ON revoked_access_tokens;
DROP TRIGGER IF EXISTS trg_revoked_access_tokens_notify_auth ON revoked_access_tokens;
DROP TRIGGER IF EXISTS trg_users_truncate_notify_auth ON users;
DROP TRIGGER IF EXISTS trg_users_notify_auth ON users;
DROP FUNCTION IF EXISTS notify_kept_read_changed();
