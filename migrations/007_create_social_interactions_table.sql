-- 007: social_interactions: likes, favorites, comments and views of projects.

CREATE TABLE IF NOT EXISTS social_interactions (
  id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  project_id       UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  interaction_type VARCHAR(20) NOT NULL,
  comment_content  TEXT,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata         JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_social_interactions_type CHECK (interaction_type IN ('like', 'favorite', 'comment', 'view')),
  CONSTRAINT chk_social_interactions_comment CHECK (
    interaction_type <> 'comment'
    OR (comment_content IS NOT NULL AND char_length(btrim(comment_content)) > 0))
);

-- Likes and favorites are idempotent: at most one per user and project.
CREATE UNIQUE INDEX IF NOT EXISTS idx_social_interactions_unique_reaction
  ON social_interactions (user_id, project_id, interaction_type)
  WHERE interaction_type IN ('like', 'favorite');
CREATE INDEX IF NOT EXISTS idx_social_interactions_project ON social_interactions (project_id, interaction_type, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_social_interactions_user ON social_interactions (user_id, interaction_type, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_social_interactions_tenant_id ON social_interactions (tenant_id);

CREATE OR REPLACE TRIGGER trg_social_interactions_updated_at
  BEFORE UPDATE ON social_interactions
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
