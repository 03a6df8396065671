-- `mitai db copy` marks its target while it copies: the row is written before the first
-- table and removed once every table is copied and verified. A database that still holds
-- it is incomplete; `mitai serve` refuses to start on it.
CREATE TABLE db_copy_marker (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    source     TEXT NOT NULL,
    started_at TEXT NOT NULL
);
