-- Every write of the store's state (events, inbox, timers) bumps the epoch under the sequencer's
-- row lock. A group commit reads the state without the lock and writes only if the epoch is
-- still the one it read (a compare-and-set), so it needs no explicit transaction.
ALTER TABLE sequencer ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

-- An outbox row is written by the same statement as its event. The foreign key checked that
-- row by row, each check locking the event's row (a WAL record each): most of the outbox's cost.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_global_position_fkey;
