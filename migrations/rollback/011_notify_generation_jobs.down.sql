-- Rollback of 011.
DROP TRIGGER IF EXISTS trg_generation_jobs_notify ON generation_jobs;
DROP FUNCTION IF EXISTS notify_generation_job_created();
DROP TRIGGER IF EXISTS trg_generation_job_events_notify ON generation_job_events;
DROP FUNCTION IF EXISTS notify_generation_job_event();
