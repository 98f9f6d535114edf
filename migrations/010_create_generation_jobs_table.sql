-- 010: generation_jobs, durable AI generation jobs (lease, checkpoints, idempotency), and
-- generation_job_events, their append-only event log served over SSE.

CREATE TABLE IF NOT EXISTS generation_jobs (
  id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  user_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status            VARCHAR(20) NOT NULL DEFAULT 'pending',
  progress          SMALLINT NOT NULL DEFAULT 0,
  request           JSONB NOT NULL,
  idempotency_key   VARCHAR(200),
  state             JSONB NOT NULL DEFAULT '{}',
  result            JSONB,
  app_spec_id       UUID REFERENCES app_specs (id) ON DELETE SET NULL,
  version_number    INTEGER,
  token_usage       JSONB NOT NULL DEFAULT '{}',
  error_code        VARCHAR(10),
  error_message     TEXT,
  attempts          INTEGER NOT NULL DEFAULT 0,
  quota_reservation TEXT,
  lease_owner       VARCHAR(200),
  lease_expires_at  TIMESTAMPTZ,
  started_at        TIMESTAMPTZ,
  finished_at       TIMESTAMPTZ,
  created_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata          JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_generation_jobs_status CHECK (status IN ('pending', 'planning', 'executing', 'validating', 'generating', 'completed', 'failed', 'cancelled')),
  CONSTRAINT chk_generation_jobs_progress CHECK (progress BETWEEN 0 AND 100),
  CONSTRAINT chk_generation_jobs_attempts CHECK (attempts >= 0),
  CONSTRAINT chk_generation_jobs_version_number CHECK (version_number IS NULL OR version_number >= 1)
);

-- One job per user and idempotency key (the key is optional).
CREATE UNIQUE INDEX IF NOT EXISTS idx_generation_jobs_user_idempotency_key ON generation_jobs (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Claiming: the oldest non-final job first; final jobs are not in the index.
CREATE INDEX IF NOT EXISTS idx_generation_jobs_runnable ON generation_jobs (created_at) WHERE status NOT IN ('completed', 'failed', 'cancelled');
CREATE INDEX IF NOT EXISTS idx_generation_jobs_user_id ON generation_jobs (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_generation_jobs_tenant_id ON generation_jobs (tenant_id);
CREATE INDEX IF NOT EXISTS idx_generation_jobs_app_spec_id ON generation_jobs (app_spec_id);

CREATE OR REPLACE TRIGGER trg_generation_jobs_updated_at
  BEFORE UPDATE ON generation_jobs
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE IF NOT EXISTS generation_job_events (
  id         BIGSERIAL PRIMARY KEY,
  job_id     UUID NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
  kind       VARCHAR(20) NOT NULL,
  data       JSONB NOT NULL DEFAULT '{}',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT chk_generation_job_events_kind CHECK (kind IN ('progress', 'agent', 'file', 'complete', 'error'))
);

CREATE INDEX IF NOT EXISTS idx_generation_job_events_job_id ON generation_job_events (job_id, id);
