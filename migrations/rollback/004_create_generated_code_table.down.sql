-- Rollback of 004.
DROP TABLE IF EXISTS generated_code;
