-- Rollback of 008.
DROP TABLE IF EXISTS magic_prompts;
