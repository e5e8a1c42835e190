-- KPI facts per case (三率, on time, rework, mediation): when the case was first dispatched and
-- first accepted (and whether within the response deadline), when it was last resolved, the
-- deadline in force, deadlines missed, mediation outcomes, and whether it closed on time.
-- Rows written before this migration get these columns from `gridloop replay`, which recomputes
-- the projection over the whole history.
ALTER TABLE evaluation_cases ADD COLUMN dispatched_at BIGINT;
ALTER TABLE evaluation_cases ADD COLUMN accepted_at BIGINT;
ALTER TABLE evaluation_cases ADD COLUMN responded_on_time BIGINT;
ALTER TABLE evaluation_cases ADD COLUMN resolved_at BIGINT;
ALTER TABLE evaluation_cases ADD COLUMN due_at BIGINT;
ALTER TABLE evaluation_cases ADD COLUMN deadline_misses BIGINT NOT NULL DEFAULT 0;
ALTER TABLE evaluation_cases ADD COLUMN mediations_requested BIGINT NOT NULL DEFAULT 0;
ALTER TABLE evaluation_cases ADD COLUMN mediations_agreed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE evaluation_cases ADD COLUMN mediations_failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE evaluation_cases ADD COLUMN closed_on_time BIGINT;
CREATE INDEX IF NOT EXISTS evaluation_cases_category ON evaluation_cases (category_code, opened_at);
