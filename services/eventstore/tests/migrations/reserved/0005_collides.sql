-- Uses a version reserved for the event store; migrate_extra must refuse it.
CREATE TABLE never_created (id INTEGER PRIMARY KEY);
