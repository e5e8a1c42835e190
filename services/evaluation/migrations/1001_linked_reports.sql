-- Reports linked to a case as duplicates (CaseReportLinked on the case stream).
ALTER TABLE evaluation_cases ADD COLUMN linked_reports BIGINT NOT NULL DEFAULT 0;
