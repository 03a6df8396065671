-- A spend moves its profile's `last_active_at` only by a minute at least (issue 28). On
-- SQLite the statement is the group commit's own (`crate::spend::TOUCH_SQL`); this migration
-- keeps the two backends' schema versions in step with PostgreSQL's, whose spends run in
-- functions of the database.
SELECT 1;
