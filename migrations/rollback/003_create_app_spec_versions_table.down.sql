-- Rollback of 003.
DROP TABLE IF EXISTS app_spec_versions;
