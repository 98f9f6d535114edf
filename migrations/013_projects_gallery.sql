-- 013: projects in the gallery: moderation's hidden flag and sort indexes that end with the id.

-- NULL = visible. Set by moderation (the social crate's migration 014 adds the same column with
-- IF NOT EXISTS); a hidden project leaves the gallery and is readable only by its owner and admins.
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hidden_at TIMESTAMPTZ;

-- Gallery orders over exactly the rows the gallery shows (public + published + not hidden), each
-- ending with the id, the stable tie-break: ORDER BY … LIMIT/OFFSET walks one index and the
-- page's rows are joined afterwards, so deep pages stay cheap.
CREATE INDEX IF NOT EXISTS idx_projects_gallery_latest_id
  ON projects (tenant_id, published_at DESC, id DESC)
  WHERE status = 'published' AND visibility = 'public' AND hidden_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_projects_gallery_popular_id
  ON projects (tenant_id, like_count DESC, id DESC)
  WHERE status = 'published' AND visibility = 'public' AND hidden_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_projects_gallery_most_forked_id
  ON projects (tenant_id, fork_count DESC, id DESC)
  WHERE status = 'published' AND visibility = 'public' AND hidden_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_projects_gallery_most_viewed_id
  ON projects (tenant_id, view_count DESC, id DESC)
  WHERE status = 'published' AND visibility = 'public' AND hidden_at IS NULL;

-- "My projects", newest first with the id as tie-break.
CREATE INDEX IF NOT EXISTS idx_projects_owner_created
  ON projects (tenant_id, user_id, created_at DESC, id DESC);

-- Forks of a project, newest first.
CREATE INDEX IF NOT EXISTS idx_forks_source_created
  ON forks (source_project_id, created_at DESC, forked_project_id);

-- The latest render of a spec (a project card's preview link).
CREATE INDEX IF NOT EXISTS idx_generated_code_latest
  ON generated_code (app_spec_id, app_spec_version_number DESC, created_at DESC);
