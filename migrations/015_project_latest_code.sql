-- 015: each project carries its spec's latest successful render (code id and preview URL), kept by
-- triggers, so reading a project, a page of "my projects" or a gallery page is one index lookup
-- per project instead of a lateral join into generated_code for each.

ALTER TABLE projects ADD COLUMN IF NOT EXISTS code_id UUID;
ALTER TABLE projects ADD COLUMN IF NOT EXISTS preview_url VARCHAR(500);

-- The latest successful render of a spec: the highest version, then the newest row.
CREATE OR REPLACE FUNCTION latest_code_of(spec UUID, OUT code_id UUID, OUT preview_url VARCHAR)
LANGUAGE sql STABLE AS $$
  SELECT g.id, g.preview_url FROM generated_code g
  WHERE g.app_spec_id = spec AND g.build_status = 'success'
  ORDER BY g.app_spec_version_number DESC, g.created_at DESC
  LIMIT 1
$$;

-- A render inserted, changed or deleted: the projects of its spec take the spec's latest render.
-- Their rows are locked first and the latest read afterwards, in a statement of its own: under
-- READ COMMITTED that read sees every render committed before the lock was granted, so two
-- renders committing at once cannot leave the older one on the project.
CREATE OR REPLACE FUNCTION projects_follow_latest_code() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  spec UUID;
BEGIN
  FOR spec IN
    SELECT DISTINCT s FROM unnest(ARRAY[
      CASE WHEN TG_OP <> 'DELETE' THEN NEW.app_spec_id END,
      CASE WHEN TG_OP <> 'INSERT' THEN OLD.app_spec_id END]) AS s
    WHERE s IS NOT NULL
  LOOP
    PERFORM 1 FROM projects WHERE app_spec_id = spec ORDER BY id FOR UPDATE;
    -- (no successful render: the function's row is all NULL)
    UPDATE projects p SET code_id = l.code_id, preview_url = l.preview_url
    FROM latest_code_of(spec) AS l
    WHERE p.app_spec_id = spec
      AND (p.code_id, p.preview_url) IS DISTINCT FROM (l.code_id, l.preview_url);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER trg_generated_code_latest
  AFTER INSERT OR DELETE OR UPDATE OF app_spec_id, app_spec_version_number, build_status, preview_url
  ON generated_code
  FOR EACH ROW EXECUTE FUNCTION projects_follow_latest_code();

-- A project created for (or moved to) a spec takes the spec's latest render at once.
CREATE OR REPLACE FUNCTION project_takes_latest_code() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.app_spec_id IS NULL THEN
    NEW.code_id := NULL;
    NEW.preview_url := NULL;
  ELSE
    SELECT l.code_id, l.preview_url INTO NEW.code_id, NEW.preview_url
    FROM latest_code_of(NEW.app_spec_id) l;
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER trg_projects_latest_code
  BEFORE INSERT OR UPDATE OF app_spec_id ON projects
  FOR EACH ROW EXECUTE FUNCTION project_takes_latest_code();

-- Existing projects.
UPDATE projects p SET (code_id, preview_url) =
  (SELECT l.code_id, l.preview_url FROM latest_code_of(p.app_spec_id) l)
WHERE p.app_spec_id IS NOT NULL;
