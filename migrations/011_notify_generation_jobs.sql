-- 011: wake-ups for generation jobs across instances (LISTEN/NOTIFY).
-- Channel 'ingenio_job_events' carries the job id of every new event, so SSE streams on any
-- instance wake at once; channel 'ingenio_jobs' carries the id of every new job, so idle workers on
-- any instance claim it at once. Notifications are delivered at commit and are hints only: readers
-- still page the tables, and a server that misses one falls back to polling.

CREATE OR REPLACE FUNCTION notify_generation_job_event() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('ingenio_job_events', NEW.job_id::text);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER trg_generation_job_events_notify
  AFTER INSERT ON generation_job_events
  FOR EACH ROW EXECUTE FUNCTION notify_generation_job_event();

CREATE OR REPLACE FUNCTION notify_generation_job_created() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('ingenio_jobs', NEW.id::text);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER trg_generation_jobs_notify
  AFTER INSERT ON generation_jobs
  FOR EACH ROW EXECUTE FUNCTION notify_generation_job_created();
