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

-- Group commit on PostgreSQL: the spends of one batch (`PgStore`'s batchers), decided in one
-- statement, one transaction, one WAL flush. Each spend is decided exactly as alone, in the
-- order given for spends of one bucket: the conditional upsert, or the refusal's usage. Rows
-- are locked in one order (usage buckets sorted, then each profile's statistics), the same
-- order as a single consume takes them, so batches and single consumes cannot deadlock.
-- Returns one row per spend: its position (1-based), the usage after it (or the unchanged
-- usage of a refusal), and whether it was spent. Any failure fails the whole batch; the
-- caller then decides each spend on its own.
CREATE FUNCTION mitai_spend_batch(
    p_profiles UUID[], p_features TEXT[], p_starts TIMESTAMPTZ[], p_amounts BIGINT[],
    p_caps BIGINT[], p_nows TIMESTAMPTZ[], p_entries UUID[], p_ips TEXT[])
RETURNS TABLE (k INT, new_used BIGINT, was_spent BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    i INT;
    v BIGINT;
    n INT := coalesce(array_length(p_profiles, 1), 0);
    results BIGINT[] := array_fill(NULL::BIGINT, ARRAY[n]);
    spent BOOLEAN[] := array_fill(FALSE, ARRAY[n]);
BEGIN
    FOR i IN
        SELECT o.i FROM unnest(p_profiles, p_features, p_starts) WITH ORDINALITY AS o(p, f, s, i)
        ORDER BY o.p, o.f, o.s, o.i
    LOOP
        v := NULL;
        INSERT INTO user_feature_usage AS u (profile_id, feature_id, period_start, used, updated_at)
        SELECT p_profiles[i], p_features[i], p_starts[i], p_amounts[i], p_nows[i]
        WHERE p_caps[i] IS NULL OR p_amounts[i] <= p_caps[i]
        ON CONFLICT (profile_id, feature_id, period_start) DO UPDATE
            SET used = u.used + excluded.used, updated_at = excluded.updated_at
            WHERE p_caps[i] IS NULL OR u.used + excluded.used <= p_caps[i]
        RETURNING u.used INTO v;
        IF v IS NOT NULL THEN
            spent[i] := TRUE;
        ELSE
            SELECT x.used INTO v FROM user_feature_usage x
            WHERE x.profile_id = p_profiles[i] AND x.feature_id = p_features[i]
              AND x.period_start = p_starts[i];
        END IF;
        results[i] := coalesce(v, 0);
    END LOOP;
    INSERT INTO user_activity_log (id, profile_id, actor_id, action, details, ip, created_at)
    SELECT p_entries[j], p_profiles[j], p_profiles[j], 'feature_used',
           jsonb_build_object('feature', p_features[j], 'amount', p_amounts[j], 'used', results[j]),
           p_ips[j], p_nows[j]
    FROM generate_series(1, n) AS j
    WHERE spent[j] AND p_entries[j] IS NOT NULL;
    INSERT INTO user_stats AS st (profile_id, logins, last_login_at, last_active_at, feature_totals,
                                  redemptions, updated_at)
    SELECT p_profiles[j], 0, NULL, max(p_nows[j]), '{}', 0, max(p_nows[j])
    FROM generate_series(1, n) AS j
    WHERE spent[j] AND p_entries[j] IS NOT NULL
    GROUP BY p_profiles[j]
    ORDER BY p_profiles[j]
    ON CONFLICT (profile_id) DO UPDATE SET
        last_active_at = GREATEST(st.last_active_at, excluded.last_active_at),
        updated_at = excluded.updated_at;
    RETURN QUERY SELECT j, results[j], spent[j] FROM generate_series(1, n) AS j;
END
$$;
