-- The resident who reported a case (their subject): a resident lists and evaluates only the cases
-- they reported. Rows written before this migration get it from `gridloop replay`.
ALTER TABLE evaluation_cases ADD COLUMN reporter_id TEXT;
CREATE INDEX IF NOT EXISTS evaluation_cases_reporter ON evaluation_cases (reporter_id, opened_at);
