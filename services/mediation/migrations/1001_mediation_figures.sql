-- Read model for the figures per area and period (sessions held, mediated / succeeded / referred
-- to litigation, time to agreement), kept in the same transaction as the session's events.
-- Sessions opened before this migration keep the defaults: no area, never counted as held.
ALTER TABLE mediation_sessions ADD COLUMN area_code TEXT NOT NULL DEFAULT '';
ALTER TABLE mediation_sessions ADD COLUMN session_level TEXT NOT NULL DEFAULT '';
ALTER TABLE mediation_sessions ADD COLUMN opened_at BIGINT NOT NULL DEFAULT 0;
-- 1 once the council sat (协商) at least once.
ALTER TABLE mediation_sessions ADD COLUMN held BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mediation_sessions ADD COLUMN concluded_at BIGINT;
-- agreed | consultation | failed:back_to_unit | failed:escalate_one_level | failed:litigation
ALTER TABLE mediation_sessions ADD COLUMN outcome TEXT;
CREATE INDEX IF NOT EXISTS mediation_sessions_by_area ON mediation_sessions (area_code, opened_at);
