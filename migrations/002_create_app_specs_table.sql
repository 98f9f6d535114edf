-- 002: app_specs, the current state of each AppSpec (its history lives in app_spec_versions).

CREATE TABLE IF NOT EXISTS app_specs (
  id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id          UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  created_by_user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  spec_content       JSONB NOT NULL,
  version            INTEGER NOT NULL DEFAULT 1,
  parent_version_id  UUID REFERENCES app_specs (id) ON DELETE SET NULL,
  status             VARCHAR(20) NOT NULL DEFAULT 'draft',
  quality_score      INTEGER,
  created_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata           JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_app_specs_version CHECK (version >= 1),
  CONSTRAINT chk_app_specs_status CHECK (status IN ('draft', 'validated', 'generated', 'published')),
  CONSTRAINT chk_app_specs_quality_score CHECK (quality_score IS NULL OR quality_score BETWEEN 0 AND 100)
);

CREATE INDEX IF NOT EXISTS idx_app_specs_tenant_id ON app_specs (tenant_id);
CREATE INDEX IF NOT EXISTS idx_app_specs_created_by_user_id ON app_specs (created_by_user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_app_specs_parent_version_id ON app_specs (parent_version_id);
CREATE INDEX IF NOT EXISTS idx_app_specs_status ON app_specs (status);
CREATE INDEX IF NOT EXISTS idx_app_specs_spec_content ON app_specs USING GIN (spec_content);

CREATE OR REPLACE TRIGGER trg_app_specs_updated_at
  BEFORE UPDATE ON app_specs
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
