-- Rollback of 007.
DROP TABLE IF EXISTS social_interactions;
