-- The hot path (issue 10). `feature_used` is the action of nearly every entry (one per
-- consume), and the index on (action, id) gained an insert with each: 1.2-1.4 us of the
-- single writer's ~8.5 a consume. Listing `feature_used` entries reads the log newest
-- first (by id, or by profile); the index now holds only the other actions, which it
-- serves well because they are rare. Queries by another action say `action <> 'feature_used'`
-- so that SQLite knows the index applies.
DROP INDEX user_activity_log_action_id_idx;
CREATE INDEX user_activity_log_action_id_idx ON user_activity_log (action, id)
    WHERE action <> 'feature_used';
