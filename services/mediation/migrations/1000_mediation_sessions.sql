-- Read model: the sessions opened for each case (mediation owns it; versions >= 1000 share the
-- store's migration table with the event store's own migrations).
CREATE TABLE IF NOT EXISTS mediation_sessions (
    mediation_id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    opened_position BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS mediation_sessions_by_case ON mediation_sessions (case_id, opened_position);
