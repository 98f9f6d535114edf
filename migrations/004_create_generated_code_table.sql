-- 004: generated_code, one row per rendered code artifact (zip in object storage, live preview).

CREATE TABLE IF NOT EXISTS generated_code (
  id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id               UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  app_spec_id             UUID NOT NULL REFERENCES app_specs (id) ON DELETE CASCADE,
  app_spec_version_number INTEGER NOT NULL,
  project_key             VARCHAR(128) NOT NULL,
  renderer_type           VARCHAR(50) NOT NULL,
  framework               VARCHAR(50),
  storage_key             VARCHAR(500) NOT NULL,
  file_count              INTEGER NOT NULL DEFAULT 0,
  total_size_bytes        BIGINT NOT NULL DEFAULT 0,
  content_hash            VARCHAR(128) NOT NULL,
  build_status            VARCHAR(20) NOT NULL DEFAULT 'pending',
  build_log               TEXT,
  preview_url             VARCHAR(500),
  created_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata                JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_generated_code_version CHECK (app_spec_version_number >= 1),
  CONSTRAINT chk_generated_code_file_count CHECK (file_count >= 0),
  CONSTRAINT chk_generated_code_total_size CHECK (total_size_bytes >= 0),
  CONSTRAINT chk_generated_code_build_status CHECK (build_status IN ('pending', 'building', 'success', 'failed'))
);

CREATE UNIQUE INDEX IF NOT EXISTS idx_generated_code_project_key ON generated_code (project_key);
CREATE INDEX IF NOT EXISTS idx_generated_code_app_spec ON generated_code (app_spec_id, app_spec_version_number);
CREATE INDEX IF NOT EXISTS idx_generated_code_tenant_id ON generated_code (tenant_id);
CREATE INDEX IF NOT EXISTS idx_generated_code_content_hash ON generated_code (content_hash);

CREATE OR REPLACE TRIGGER trg_generated_code_updated_at
  BEFORE UPDATE ON generated_code
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
