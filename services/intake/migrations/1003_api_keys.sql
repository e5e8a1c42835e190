-- Integrators' API keys: the SHA-256 (hex) of each key, never the key, and the principal it
-- stands for (role, area: a jurisdiction code or '' city-wide, department: '' for none). Times
-- are unix micros; `revoked_at` set means refused.
CREATE TABLE IF NOT EXISTS intake_api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    area TEXT NOT NULL,
    department TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
