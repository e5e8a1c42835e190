-- Read model: one row per case, maintained from dispatch's case events in the same transaction
-- as the consumer's inbox entry. `version` is the last case-stream version applied, so events of
-- one case are applied strictly in order and exactly once.
CREATE TABLE IF NOT EXISTS evaluation_cases (
    case_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    state TEXT NOT NULL,
    level TEXT,
    category_code TEXT NOT NULL,
    grid_code TEXT NOT NULL,
    description TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    settled_level TEXT,
    satisfaction TEXT,
    escalations BIGINT NOT NULL,
    reopen_count BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluation_cases_grid ON evaluation_cases (grid_code);
CREATE INDEX IF NOT EXISTS evaluation_cases_closed ON evaluation_cases (state, closed_at);
CREATE INDEX IF NOT EXISTS evaluation_cases_opened ON evaluation_cases (opened_at);
