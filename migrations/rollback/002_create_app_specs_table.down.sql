-- Rollback of 002.
DROP TABLE IF EXISTS app_specs;
