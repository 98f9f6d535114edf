-- 016: sessions kept in process stay exact (see the postgres adapter's session_cache module).
-- Every change that can alter an authentication answer notifies channel 'ingenio_auth' in the
-- changing transaction: an update or delete of a users row (role, status, password cut-off,
-- profile; payload: the user id), a revoked access token (payload: its user id), and a TRUNCATE
-- of either table (payload '*': everyone). Servers evict what they kept for that user; a server
-- whose listener is down reads sessions from the database.

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
