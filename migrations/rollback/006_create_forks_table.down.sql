-- Rollback of 006.
DROP TABLE IF EXISTS forks;
