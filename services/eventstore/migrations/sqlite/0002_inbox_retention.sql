-- Inbox entries are kept for idempotency while a redelivery is still possible; older ones are
-- pruned by `EventStore::prune_inbox`, which finds them by this index.
CREATE INDEX IF NOT EXISTS inbox_processed_at ON inbox (processed_at);
