-- Read model for the command centre's list of sessions waiting on a date: an agreement's notice
-- period (notice_period) or a matter's next follow-up (follow_up), until `waiting_until` (µs).
-- Kept in the transaction of the session's events. Sessions opened before this migration show no
-- topic, and wait on nothing until their next event.
ALTER TABLE mediation_sessions ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE mediation_sessions ADD COLUMN waiting_on TEXT;
ALTER TABLE mediation_sessions ADD COLUMN waiting_until BIGINT;
CREATE INDEX IF NOT EXISTS mediation_sessions_waiting ON mediation_sessions (waiting_until) WHERE waiting_on IS NOT NULL;
