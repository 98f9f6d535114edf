-- Rollback of 005: drops projects, then pg_trgm only if 005 installed it (see the up file) and
-- nothing else still uses it.
DROP TABLE IF EXISTS projects;

DO $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM pg_extension e
    WHERE e.extname = 'pg_trgm'
      AND obj_description(e.oid, 'pg_extension') LIKE '%(installed by ingenio migration 005)'
  ) THEN
    BEGIN
      DROP EXTENSION pg_trgm;
    EXCEPTION WHEN dependent_objects_still_exist THEN
      RAISE NOTICE 'pg_trgm is still used by other objects, keeping it';
    END;
  END IF;
END
$$;
