-- Rollback of 010.
DROP TABLE IF EXISTS generation_job_events;
DROP TABLE IF EXISTS generation_jobs;
