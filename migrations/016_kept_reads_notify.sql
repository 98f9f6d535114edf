-- 016: reads kept in process stay exact (see the postgres adapter's kept_reads module).
-- Every change that can alter a kept read notifies in the changing transaction:
--   'ingenio_auth'     on an update or delete of a users row (role, status, password cut-off,
--                      profile) and on a revoked access token; payload: the user id;
--   'ingenio_projects' on an update or delete of a projects row (counters, publication,
--                      moderation, latest render); payload: the project id;
-- and payload '*' on a TRUNCATE of any of these tables. Servers evict what they kept for that id;
-- a server whose listener is down reads from the database.

CREATE OR REPLACE FUNCTION notify_auth_user_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('ingenio_auth', '*');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('ingenio_auth', OLD.id::text);
  ELSE
    PERFORM pg_notify('ingenio_auth', NEW.id::text);
    IF NEW.id IS DISTINCT FROM OLD.id THEN
      PERFORM pg_notify('ingenio_auth', OLD.id::text);
    END IF;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER trg_users_notify_auth
  AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION notify_auth_user_changed();

CREATE OR REPLACE TRIGGER trg_users_truncate_notify_auth
  AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_user_changed();

CREATE OR REPLACE FUNCTION notify_auth_token_revoked() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('ingenio_auth', '*');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('ingenio_auth', OLD.user_id::text);
  ELSE
    PERFORM pg_notify('ingenio_auth', NEW.user_id::text);
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER trg_revoked_access_tokens_notify_auth
  AFTER INSERT OR UPDATE OR DELETE ON revoked_access_tokens
  FOR EACH ROW EXECUTE FUNCTION notify_auth_token_revoked();

CREATE OR REPLACE TRIGGER trg_revoked_access_tokens_truncate_notify_auth
  AFTER TRUNCATE ON revoked_access_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_token_revoked();

CREATE OR REPLACE FUNCTION notify_project_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('ingenio_projects', '*');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('ingenio_projects', OLD.id::text);
  ELSE
    PERFORM pg_notify('ingenio_projects', NEW.id::text);
    IF NEW.id IS DISTINCT FROM OLD.id THEN
      PERFORM pg_notify('ingenio_projects', OLD.id::text);
    END IF;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER trg_projects_notify_kept
  AFTER UPDATE OR DELETE ON projects
  FOR EACH ROW EXECUTE FUNCTION notify_project_changed();

CREATE OR REPLACE TRIGGER trg_projects_truncate_notify_kept
  AFTER TRUNCATE ON projects
  FOR EACH STATEMENT EXECUTE FUNCTION notify_project_changed();
