-- Priority ordering: the case's priority (CaseDispatched, CasePriorityChanged) and its reasons
-- (newline-separated), so the case list can be ordered as a unit works through its queue.
ALTER TABLE evaluation_cases ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
ALTER TABLE evaluation_cases ADD COLUMN priority_reasons TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS evaluation_cases_priority ON evaluation_cases (priority, opened_at);
