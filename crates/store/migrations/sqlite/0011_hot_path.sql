-- The hot path (issue 10). Every consume writes one activity entry: two indexes fewer to
-- maintain. Lists order by the time-ordered id ((profile_id, id), (action, id)); days of
-- the log use (created_at). (PostgreSQL also gains the triggers that announce changes to
-- cached access facts; one SQLite file serves one instance, which sees its own changes.)
DROP INDEX user_activity_log_profile_idx;
DROP INDEX user_activity_log_action_idx;
