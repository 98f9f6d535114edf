-- 003: app_spec_versions, the time machine: one immutable snapshot per version of an AppSpec.

CREATE TABLE IF NOT EXISTS app_spec_versions (
  id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id           UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  app_spec_id         UUID NOT NULL REFERENCES app_specs (id) ON DELETE CASCADE,
  version_number      INTEGER NOT NULL,
  snapshot_content    JSONB NOT NULL,
  generation_metadata JSONB,
  change_description  TEXT,
  change_type         VARCHAR(20) NOT NULL,
  created_by_user_id  UUID REFERENCES users (id) ON DELETE SET NULL,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata            JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_app_spec_versions_version_number CHECK (version_number >= 1),
  CONSTRAINT chk_app_spec_versions_change_type CHECK (change_type IN ('user_edit', 'ai_generation', 'rollback', 'fork'))
);

CREATE UNIQUE INDEX IF NOT EXISTS idx_app_spec_versions_app_version ON app_spec_versions (app_spec_id, version_number);
CREATE INDEX IF NOT EXISTS idx_app_spec_versions_tenant_id ON app_spec_versions (tenant_id);
CREATE INDEX IF NOT EXISTS idx_app_spec_versions_created_by_user_id ON app_spec_versions (created_by_user_id);

CREATE OR REPLACE TRIGGER trg_app_spec_versions_updated_at
  BEFORE UPDATE ON app_spec_versions
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
