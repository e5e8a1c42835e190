-- History imported from another platform (`gridloop import`, whose dispatch rule is
-- `import:<source>`): its response is not known unless it was accepted in gridloop since. Rows
-- written before this column are found by the priority reason the import gives them.
ALTER TABLE evaluation_cases ADD COLUMN imported BIGINT NOT NULL DEFAULT 0;
UPDATE evaluation_cases SET imported = 1 WHERE priority_reasons LIKE 'imported from %';
