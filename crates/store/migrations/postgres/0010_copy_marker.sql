-- `mitai db copy` marks its target while it copies: the row is written before the first
-- table and removed once every table is copied and verified. A database that still holds
-- it is incomplete; `mitai serve` refuses to start on it. On PostgreSQL the copy drops the
-- foreign keys while it loads (as pg_restore creates them after the data) and keeps their
-- definitions here until they are back: a JSON array of [table, name, definition].
CREATE TABLE db_copy_marker (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    source      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    constraints TEXT NOT NULL DEFAULT '[]'
);
