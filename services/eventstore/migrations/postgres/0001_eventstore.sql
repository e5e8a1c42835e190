-- gridloop-eventstore schema (PostgreSQL). Versions below 1000 belong to the event store;
-- read models add theirs (>= 1000) to the same _sqlx_migrations table.

CREATE TABLE events (
    global_position    BIGINT  PRIMARY KEY,
    stream             TEXT    NOT NULL,
    stream_version     BIGINT  NOT NULL,
    event_id           TEXT    NOT NULL UNIQUE,
    event_type         TEXT    NOT NULL,
    occurred_at        BIGINT  NOT NULL,
    recorded_at        BIGINT  NOT NULL,
    correlation_id     TEXT    NOT NULL,
    causation_id       TEXT    NOT NULL,
    actor_role         TEXT    NOT NULL,
    actor_id           TEXT    NOT NULL,
    actor_jurisdiction TEXT    NOT NULL,
    traceparent        TEXT    NOT NULL,
    schema_version     BIGINT  NOT NULL,
    routing_key        TEXT    NOT NULL,
    payload            BYTEA   NOT NULL,
    UNIQUE (stream, stream_version)
);

CREATE TABLE outbox (
    global_position BIGINT  PRIMARY KEY REFERENCES events (global_position)
);

CREATE TABLE checkpoints (
    name     TEXT    PRIMARY KEY,
    position BIGINT  NOT NULL
);

CREATE TABLE inbox (
    consumer     TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    processed_at BIGINT  NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE timers (
    key        TEXT    PRIMARY KEY,
    generation BIGINT  NOT NULL,
    due_at     BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    payload    BYTEA   NOT NULL
);

CREATE INDEX timers_due_at ON timers (due_at);

-- The single writer sequencer: last assigned global position and timer generation.
CREATE TABLE sequencer (
    id               BIGINT  PRIMARY KEY CHECK (id = 1),
    position         BIGINT  NOT NULL,
    timer_generation BIGINT  NOT NULL
);

INSERT INTO sequencer (id, position, timer_generation) VALUES (1, 0, 0);
