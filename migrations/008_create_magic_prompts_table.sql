-- 008: magic_prompts, curated starter templates per age group with {var} placeholders.

CREATE TABLE IF NOT EXISTS magic_prompts (
  id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id          UUID NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
  title              VARCHAR(200) NOT NULL,
  description        TEXT,
  cover_image_url    VARCHAR(500),
  prompt_template    TEXT NOT NULL,
  default_variables  JSONB NOT NULL DEFAULT '{}',
  age_group          VARCHAR(20) NOT NULL,
  category           VARCHAR(20) NOT NULL,
  difficulty_level   VARCHAR(20) NOT NULL DEFAULT 'beginner',
  example_project_id UUID REFERENCES projects (id) ON DELETE SET NULL,
  usage_count        INTEGER NOT NULL DEFAULT 0,
  like_count         INTEGER NOT NULL DEFAULT 0,
  status             VARCHAR(20) NOT NULL DEFAULT 'active',
  tags               VARCHAR(50)[] NOT NULL DEFAULT '{}',
  created_by_user_id UUID REFERENCES users (id) ON DELETE SET NULL,
  created_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata           JSONB NOT NULL DEFAULT '{}',
  CONSTRAINT chk_magic_prompts_title CHECK (char_length(btrim(title)) > 0),
  CONSTRAINT chk_magic_prompts_template CHECK (char_length(btrim(prompt_template)) > 0),
  CONSTRAINT chk_magic_prompts_default_variables CHECK (jsonb_typeof(default_variables) = 'object'),
  CONSTRAINT chk_magic_prompts_age_group CHECK (
    age_group IN ('elementary', 'middle_school', 'high_school', 'university')),
  CONSTRAINT chk_magic_prompts_category CHECK (
    category IN ('education', 'game', 'productivity', 'creative', 'social')),
  CONSTRAINT chk_magic_prompts_difficulty CHECK (
    difficulty_level IN ('beginner', 'intermediate', 'advanced')),
  CONSTRAINT chk_magic_prompts_status CHECK (status IN ('active', 'draft', 'archived')),
  CONSTRAINT chk_magic_prompts_usage_count CHECK (usage_count >= 0),
  CONSTRAINT chk_magic_prompts_like_count CHECK (like_count >= 0),
  CONSTRAINT chk_magic_prompts_tags_not_null CHECK (array_position(tags, NULL) IS NULL)
);

-- The title identifies a prompt within a tenant (lets `cargo xtask seed` upsert).
CREATE UNIQUE INDEX IF NOT EXISTS idx_magic_prompts_tenant_title ON magic_prompts (tenant_id, title);
CREATE INDEX IF NOT EXISTS idx_magic_prompts_filter ON magic_prompts (tenant_id, status, age_group, category);
CREATE INDEX IF NOT EXISTS idx_magic_prompts_usage_count ON magic_prompts (usage_count DESC);
CREATE INDEX IF NOT EXISTS idx_magic_prompts_tags ON magic_prompts USING GIN (tags);
CREATE INDEX IF NOT EXISTS idx_magic_prompts_example_project_id ON magic_prompts (example_project_id);
CREATE INDEX IF NOT EXISTS idx_magic_prompts_created_by_user_id ON magic_prompts (created_by_user_id);

CREATE OR REPLACE TRIGGER trg_magic_prompts_updated_at
  BEFORE UPDATE ON magic_prompts
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
