-- 014: moderation and views: items hidden by reports, the reports themselves with the admin's
-- decision, views deduplicated per viewer, and the stable key of seeded magic prompts.

-- A project hidden by moderation (NULL = visible). Migration 013 adds the same column; both
-- use IF NOT EXISTS so either may come first.
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hidden_at TIMESTAMPTZ;

-- A comment hidden by moderation (NULL = visible); hidden comments are left out of
-- projects.comment_count and of everyone's comment list but their author's and admins'.
ALTER TABLE social_interactions ADD COLUMN IF NOT EXISTS hidden_at TIMESTAMPTZ;

-- Reports of projects and comments, one per reporter and item, with the decision that closed them.
CREATE TABLE IF NOT EXISTS reports (
  id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id           UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  reporter_user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  target_kind         VARCHAR(20) NOT NULL,
  -- a project id or a social_interactions id (a comment); no foreign key, so the record of a
  -- decision outlives a deleted item
  target_id           UUID NOT NULL,
  -- the reported project, or the project of the reported comment
  project_id          UUID REFERENCES projects (id) ON DELETE SET NULL,
  reason              TEXT NOT NULL,
  status              VARCHAR(20) NOT NULL DEFAULT 'open',
  action              VARCHAR(20),
  note                TEXT,
  resolved_by_user_id UUID REFERENCES users (id) ON DELETE SET NULL,
  resolved_at         TIMESTAMPTZ,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata            JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_reports_target_kind CHECK (target_kind IN ('project', 'comment')),
  CONSTRAINT chk_reports_reason CHECK (char_length(btrim(reason)) BETWEEN 1 AND 500),
  CONSTRAINT chk_reports_status CHECK (status IN ('open', 'resolved')),
  CONSTRAINT chk_reports_action CHECK (action IS NULL OR action IN ('hide', 'restore', 'delete')),
  CONSTRAINT chk_reports_resolution CHECK (
    (status = 'open' AND action IS NULL AND resolved_at IS NULL)
    OR (status = 'resolved' AND action IS NOT NULL AND resolved_at IS NOT NULL))
);

-- One report per user per item.
CREATE UNIQUE INDEX IF NOT EXISTS idx_reports_reporter_target
  ON reports (reporter_user_id, target_kind, target_id);
-- Counting the open reports of an item (the hide threshold).
CREATE INDEX IF NOT EXISTS idx_reports_open_target
  ON reports (target_kind, target_id) WHERE status = 'open';
-- The admin queue: open first, oldest first.
CREATE INDEX IF NOT EXISTS idx_reports_queue ON reports (tenant_id, status, created_at);
CREATE INDEX IF NOT EXISTS idx_reports_project_id ON reports (project_id);
CREATE INDEX IF NOT EXISTS idx_reports_resolved_by_user_id ON reports (resolved_by_user_id);

CREATE OR REPLACE TRIGGER trg_reports_updated_at
  BEFORE UPDATE ON reports
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The last counted view of a project per viewer ('u:<user id>' or 'ip:<client address>' for
-- anonymous viewers, who have no user id). A view counts when the row is new or its last count
-- is older than the window; the row is then moved to now(), in the same statement that bumps
-- projects.view_count. Rows older than the window carry no meaning and may be purged.
CREATE TABLE IF NOT EXISTS project_views (
  project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  viewer_key VARCHAR(80) NOT NULL,
  counted_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (project_id, viewer_key),
  CONSTRAINT chk_project_views_viewer_key CHECK (viewer_key ~ '^(u|ip):.+$')
);

CREATE INDEX IF NOT EXISTS idx_project_views_counted_at ON project_views (counted_at);

-- Seeded magic prompts are keyed by metadata.slug (lets `db seed` upsert idempotently).
CREATE UNIQUE INDEX IF NOT EXISTS idx_magic_prompts_tenant_slug
  ON magic_prompts (tenant_id, (metadata ->> 'slug')) WHERE metadata ? 'slug';
