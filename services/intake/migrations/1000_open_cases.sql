-- Read model for duplicate detection: the open cases intake knows of, maintained from intake's own
-- `CaseReported` events (insert) and dispatch's `CaseClosed` / `CaseRejected` (delete), in the same
-- transaction as the consumer's inbox entry. `opened_at` is the report's upload time (unix micros).
CREATE TABLE IF NOT EXISTS intake_open_cases (
    case_id TEXT PRIMARY KEY,
    category_code TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    grid_code TEXT NOT NULL,
    opened_at BIGINT NOT NULL
);
-- The duplicate lookup: category equality, then a latitude range (the bounding box).
CREATE INDEX IF NOT EXISTS intake_open_cases_nearby ON intake_open_cases (category_code, lat, lon);
