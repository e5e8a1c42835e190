-- A read model as another crate would add it: version >= 1000.
CREATE TABLE case_summary (
    case_id TEXT    PRIMARY KEY,
    events  INTEGER NOT NULL
);
