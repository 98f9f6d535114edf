-- 012: sessions that end when they should: a password change or reset ends other sessions at once
-- (access tokens included), a refresh race between two tabs gets one pair, failed logins per name
-- slow down.

-- Access and refresh tokens issued before this instant are refused, except those of the session
-- kept by the password change (checked in the same lookup as the account's status).
ALTER TABLE users ADD COLUMN IF NOT EXISTS sessions_valid_after TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN IF NOT EXISTS sessions_kept_family UUID;

-- The pair a refresh token was traded for, handed out again to a concurrent refresh within the grace.
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS replaced_by UUID;
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS replaced_by_access UUID;

-- Failed logins per login name (hex sha256 of the lower-cased name, whether or not an account has it).
CREATE TABLE IF NOT EXISTS login_failures (
  login_hash        TEXT PRIMARY KEY,
  failures          INTEGER NOT NULL,
  window_started_at TIMESTAMPTZ NOT NULL,
  locked_until      TIMESTAMPTZ,
  CONSTRAINT chk_login_failures_hash CHECK (login_hash ~ '^[0-9a-f]{64}$'),
  CONSTRAINT chk_login_failures_failures CHECK (failures > 0)
);

CREATE INDEX IF NOT EXISTS idx_login_failures_window_started_at ON login_failures (window_started_at);
