-- The reporters' data keys (envelope encryption of personal data): each wrapped (AES-256-GCM,
-- base64 of nonce || ciphertext || tag) by the master key `master_key_id` names, found by the
-- reporter's blind index. Deleting a row erases that reporter's contact data from every event
-- (crypto-shredding). `created_at` is unix micros.
CREATE TABLE IF NOT EXISTS intake_personal_keys (
    key_ref TEXT PRIMARY KEY,
    blind_index TEXT NOT NULL UNIQUE,
    master_key_id TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
