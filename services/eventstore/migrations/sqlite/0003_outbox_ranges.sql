-- The outbox keeps ranges of positions, one row per write instead of one per event (a write's
-- positions are contiguous). Existing rows are merged into their runs.
CREATE TABLE outbox_ranges (
    first_position INTEGER PRIMARY KEY,
    last_position  INTEGER NOT NULL
);
INSERT INTO outbox_ranges (first_position, last_position)
SELECT MIN(global_position), MAX(global_position)
FROM (SELECT global_position, global_position - ROW_NUMBER() OVER (ORDER BY global_position) AS run
      FROM outbox) AS pending
GROUP BY run;
DROP TABLE outbox;
ALTER TABLE outbox_ranges RENAME TO outbox;
