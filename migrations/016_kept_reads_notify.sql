-- 016: reads kept in process stay exact (see the postgres adapter's kept_reads module).
-- Every change that can alter a kept read notifies in the changing transaction:
--   'ingenio_auth'     on an update or delete of a users row (role, status, password cut-off,
--                      profile) and on a revoked access token; payload: the user id;
--   'ingenio_projects' on an update or delete of a projects row (counters, publication,
--                      moderation, latest render); payload: the project id;
-- and payload '*' on a TRUNCATE of any of these tables. Servers evict what they kept for that id;
-- a server whose listener is down reads from the database.

-- One trigger function for every table: TG_ARGV[0] is the channel, TG_ARGV[1] the column whose
-- value is the payload (the row's, both the old and the new one if it changed).
CREATE OR REPLACE FUNCTION notify_kept_read_changed() RETURNS trigger AS $$
DECLARE
  old_key text;
  new_key text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify(TG_ARGV[0], '*');
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    old_key := to_jsonb(OLD) ->> TG_ARGV[1];
  END IF;
  IF TG_OP <> 'DELETE' THEN
    new_key := to_jsonb(NEW) ->> TG_ARGV[1];
    PERFORM pg_notify(TG_ARGV[0], new_key);
  END IF;
  IF old_key IS DISTINCT FROM new_key THEN
    PERFORM pg_notify(TG_ARGV[0], old_key);
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER trg_users_notify_auth
  AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION notify_kept_read_changed('ingenio_auth', 'id');

CREATE OR REPLACE TRIGGER trg_users_truncate_notify_auth
  AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION notify_kept_read_changed('ingenio_auth');

CREATE OR REPLACE TRIGGER trg_revoked_access_tokens_notify_auth
  AFTER INSERT OR UPDATE OR DELETE ON revoked_access_tokens
  FOR EACH ROW EXECUTE FUNCTION notify_kept_read_changed('ingenio_auth', 'user_id');

CREATE OR REPLACE TRIGGER trg_revoked_access_tokens_truncate_notify_auth
  AFTER TRUNCATE ON revoked_access_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION notify_kept_read_changed('ingenio_auth');

CREATE OR REPLACE TRIGGER trg_projects_notify_kept
  AFTER UPDATE OR DELETE ON projects
  FOR EACH ROW EXECUTE FUNCTION notify_kept_read_changed('ingenio_projects', 'id');

CREATE OR REPLACE TRIGGER trg_projects_truncate_notify_kept
  AFTER TRUNCATE ON projects
  FOR EACH STATEMENT EXECUTE FUNCTION notify_kept_read_changed('ingenio_projects');
