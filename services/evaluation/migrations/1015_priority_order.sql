-- The case list by priority (highest first, oldest first within a priority, then by id) reads
-- this index in its own order and stops after a page; the index on (priority, opened_at) it
-- replaces runs the wrong way within a priority, so a page sorted the whole table.
CREATE INDEX IF NOT EXISTS evaluation_cases_priority_order ON evaluation_cases (priority DESC, opened_at, case_id);
DROP INDEX IF EXISTS evaluation_cases_priority;
