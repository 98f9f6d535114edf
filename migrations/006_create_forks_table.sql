-- 006: forks, the lineage between a source project and its deep copies.

CREATE TABLE IF NOT EXISTS forks (
  id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  source_project_id       UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  forked_project_id       UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  forked_by_tenant_id     UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  forked_by_user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  source_app_spec_version INTEGER,
  customizations          JSONB NOT NULL DEFAULT '{}',
  fork_description        TEXT,
  created_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata                JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_forks_not_self CHECK (source_project_id <> forked_project_id)
);

-- One fork per user per source; a project is the fork of at most one source.
CREATE UNIQUE INDEX IF NOT EXISTS idx_forks_source_user ON forks (source_project_id, forked_by_user_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_forks_forked_project_id ON forks (forked_project_id);
CREATE INDEX IF NOT EXISTS idx_forks_forked_by_user_id ON forks (forked_by_user_id);
CREATE INDEX IF NOT EXISTS idx_forks_forked_by_tenant_id ON forks (forked_by_tenant_id);

CREATE OR REPLACE TRIGGER trg_forks_updated_at
  BEFORE UPDATE ON forks
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
