-- The hot path (issue 10).
--
-- Every instance keeps sessions and each profile's access facts in memory. A change to any
-- of them, by whoever makes it (an instance, a `mitai user` command, psql), is announced on
-- the channel `mitai_access` when its transaction commits, and every listening instance
-- drops what it cached. One notification per statement; PostgreSQL folds repeats within a
-- transaction into one. A new session or profile changes nothing anyone cached.
CREATE FUNCTION mitai_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mitai_access', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER profiles_access_changed AFTER UPDATE OR DELETE ON profiles
    FOR EACH STATEMENT EXECUTE FUNCTION mitai_access_changed();
CREATE TRIGGER sessions_access_changed AFTER UPDATE OR DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION mitai_access_changed();
CREATE TRIGGER restrictions_access_changed AFTER INSERT OR UPDATE OR DELETE
    ON user_feature_restrictions FOR EACH STATEMENT EXECUTE FUNCTION mitai_access_changed();
CREATE TRIGGER grants_access_changed AFTER INSERT OR UPDATE OR DELETE ON access_grants
    FOR EACH STATEMENT EXECUTE FUNCTION mitai_access_changed();
CREATE TRIGGER pauses_access_changed AFTER INSERT OR UPDATE OR DELETE ON grant_pauses
    FOR EACH STATEMENT EXECUTE FUNCTION mitai_access_changed();

-- Every consume writes one activity entry: two indexes fewer to maintain. Lists order by
-- the time-ordered id ((profile_id, id), (action, id)); days of the log use (created_at).
DROP INDEX user_activity_log_profile_idx;
DROP INDEX user_activity_log_action_idx;
