-- 005: projects (the community gallery's items), with trigram search on name and description.

-- pg_trgm finds Chinese text by substring (to_tsvector('simple') does not segment Chinese).
-- Created only when missing; the comment marks that this migration installed it, so that the
-- rollback drops it only in that case.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    COMMENT ON EXTENSION pg_trgm IS
      'text similarity measurement and index searching based on trigrams (installed by ingenio migration 005)';
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS projects (
  id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name            VARCHAR(200) NOT NULL,
  description     TEXT,
  cover_image_url VARCHAR(500),
  app_spec_id     UUID REFERENCES app_specs (id) ON DELETE SET NULL,
  status          VARCHAR(20) NOT NULL DEFAULT 'draft',
  visibility      VARCHAR(20) NOT NULL DEFAULT 'private',
  view_count      INTEGER NOT NULL DEFAULT 0,
  like_count      INTEGER NOT NULL DEFAULT 0,
  fork_count      INTEGER NOT NULL DEFAULT 0,
  comment_count   INTEGER NOT NULL DEFAULT 0,
  tags            VARCHAR(50)[] NOT NULL DEFAULT '{}',
  age_group       VARCHAR(20),
  published_at    TIMESTAMPTZ,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata        JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_projects_name CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
  CONSTRAINT chk_projects_status CHECK (status IN ('draft', 'published', 'archived')),
  CONSTRAINT chk_projects_visibility CHECK (visibility IN ('private', 'public', 'unlisted')),
  CONSTRAINT chk_projects_view_count CHECK (view_count >= 0),
  CONSTRAINT chk_projects_like_count CHECK (like_count >= 0),
  CONSTRAINT chk_projects_fork_count CHECK (fork_count >= 0),
  CONSTRAINT chk_projects_comment_count CHECK (comment_count >= 0),
  CONSTRAINT chk_projects_tags_not_null CHECK (array_position(tags, NULL) IS NULL),
  CONSTRAINT chk_projects_age_group CHECK (
    age_group IS NULL OR age_group IN ('elementary', 'middle_school', 'high_school', 'university'))
);

CREATE INDEX IF NOT EXISTS idx_projects_user_id ON projects (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_projects_tenant_id ON projects (tenant_id);
CREATE INDEX IF NOT EXISTS idx_projects_app_spec_id ON projects (app_spec_id);
CREATE INDEX IF NOT EXISTS idx_projects_status ON projects (status);
CREATE INDEX IF NOT EXISTS idx_projects_tags ON projects USING GIN (tags);
CREATE INDEX IF NOT EXISTS idx_projects_name_trgm ON projects USING GIN (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS idx_projects_description_trgm ON projects USING GIN (description gin_trgm_ops);

-- Gallery sort orders (public + published only): latest, popular, mostForked, mostViewed.
CREATE INDEX IF NOT EXISTS idx_projects_gallery_latest ON projects (tenant_id, published_at DESC)
  WHERE status = 'published' AND visibility = 'public';
CREATE INDEX IF NOT EXISTS idx_projects_gallery_popular ON projects (tenant_id, like_count DESC)
  WHERE status = 'published' AND visibility = 'public';
CREATE INDEX IF NOT EXISTS idx_projects_gallery_most_forked ON projects (tenant_id, fork_count DESC)
  WHERE status = 'published' AND visibility = 'public';
CREATE INDEX IF NOT EXISTS idx_projects_gallery_most_viewed ON projects (tenant_id, view_count DESC)
  WHERE status = 'published' AND visibility = 'public';

CREATE OR REPLACE TRIGGER trg_projects_updated_at
  BEFORE UPDATE ON projects
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
