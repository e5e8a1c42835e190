-- Retention of personal data: which data keys each open case's reports use, and when the last
-- case of a reporter closed (unix micros). A key whose reporter has no open case and whose last
-- case closed longer ago than the retention period is erased by the same deletion as on request.
CREATE TABLE IF NOT EXISTS intake_personal_case_keys (
    case_id TEXT NOT NULL,
    key_ref TEXT NOT NULL,
    PRIMARY KEY (case_id, key_ref)
);
CREATE INDEX IF NOT EXISTS intake_personal_case_keys_key ON intake_personal_case_keys (key_ref);
ALTER TABLE intake_personal_keys ADD COLUMN last_closed_at BIGINT;
