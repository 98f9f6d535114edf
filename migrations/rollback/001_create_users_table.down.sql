-- Rollback of 001: drops users and the shared trigger function.
DROP TABLE IF EXISTS users;
DROP FUNCTION IF EXISTS set_updated_at();
