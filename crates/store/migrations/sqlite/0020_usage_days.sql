-- Statistics without reading the log (issue 28): uses, units and refusals per UTC day and
-- feature, rolled up by the jobs from the log's entries logged up to a minute ago (an entry
-- whose transaction commits late is not passed by).
-- The admin overview reads these rows only: its cost does not grow with the log.
CREATE TABLE usage_days (
    day           TEXT NOT NULL,
    feature_id    TEXT NOT NULL,
    uses          INTEGER NOT NULL,
    amount        INTEGER NOT NULL,
    limit_reached INTEGER NOT NULL,
    PRIMARY KEY (day, feature_id)
);

-- How far a roll-up has read: the last entry it read (time-ordered ids) and the instant up to
-- which the log is counted.
CREATE TABLE rollup_marks (
    name       TEXT PRIMARY KEY,
    through_id TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
