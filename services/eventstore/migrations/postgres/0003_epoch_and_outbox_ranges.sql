-- Every write of the store's state (events, inbox, timers) bumps the epoch under the sequencer's
-- row lock. A group commit reads the state without the lock and writes only if the epoch is
-- still the one it read (a compare-and-set), so it needs no explicit transaction.
ALTER TABLE sequencer ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

-- The outbox keeps ranges of positions, one row per write instead of one per event (a write's
-- positions are contiguous): a row and an index entry per event were an eighth of an append's
-- WAL. Existing rows are merged into their runs.
CREATE TABLE outbox_ranges (
    first_position BIGINT PRIMARY KEY,
    last_position  BIGINT NOT NULL
);
INSERT INTO outbox_ranges (first_position, last_position)
SELECT MIN(global_position), MAX(global_position)
FROM (SELECT global_position, global_position - ROW_NUMBER() OVER (ORDER BY global_position) AS run
      FROM outbox) AS pending
GROUP BY run;
DROP TABLE outbox;
ALTER TABLE outbox_ranges RENAME TO outbox;
