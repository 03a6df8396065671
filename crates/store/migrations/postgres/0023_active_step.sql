-- A spend moves its profile's `last_active_at` only by a minute at least (issue 28): a
-- person spending many times a minute leaves their statistics row as it is, instead of
-- writing a new version of it with every batch (with a year of profiles each row sits on a
-- page of its own). As SQLite's group commit (`crate::spend::TOUCH_SQL`) and the single
-- consume (`SPEND_LOGGED_SQL`) do. The two bodies are those of 0011 (the loop, renamed in
-- 0012) and 0013 with only their statistics upsert changed.
CREATE OR REPLACE FUNCTION mitai_spend_batch_serial(
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
        last_active_at = excluded.last_active_at, updated_at = excluded.updated_at
        WHERE st.last_active_at IS NULL
           OR st.last_active_at <= excluded.last_active_at - interval '1 minute';
    RETURN QUERY SELECT j, results[j], spent[j] FROM generate_series(1, n) AS j;
END
$$;

CREATE OR REPLACE FUNCTION mitai_spend_batch(
    p_profiles UUID[], p_features TEXT[], p_starts TIMESTAMPTZ[], p_amounts BIGINT[],
    p_caps BIGINT[], p_nows TIMESTAMPTZ[], p_entries UUID[], p_ips TEXT[])
RETURNS TABLE (k INT, new_used BIGINT, was_spent BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    n INT := coalesce(array_length(p_profiles, 1), 0);
    spent INT;
BEGIN
    IF n > 1 AND (SELECT count(DISTINCT (p, f, s))
                  FROM unnest(p_profiles, p_features, p_starts) AS t(p, f, s)) < n THEN
        RETURN QUERY SELECT * FROM mitai_spend_batch_serial(p_profiles, p_features, p_starts,
            p_amounts, p_caps, p_nows, p_entries, p_ips);
        RETURN;
    END IF;
    -- Rows are locked in bucket order, as the loop and a single consume lock them.
    RETURN QUERY
    WITH input AS MATERIALIZED (
        SELECT * FROM unnest(p_profiles, p_features, p_starts, p_amounts, p_caps, p_nows,
                             p_entries, p_ips) WITH ORDINALITY AS t(p, f, s, a, cap, at, entry, ip, i)
    ), upserted AS (
        INSERT INTO user_feature_usage AS u (profile_id, feature_id, period_start, used, updated_at)
        SELECT p, f, s, a, at FROM input WHERE cap IS NULL OR a <= cap ORDER BY p, f, s
        ON CONFLICT (profile_id, feature_id, period_start) DO UPDATE
            SET used = u.used + excluded.used, updated_at = excluded.updated_at
            WHERE (SELECT i.cap IS NULL OR u.used + excluded.used <= i.cap FROM input i
                   WHERE i.p = u.profile_id AND i.f = u.feature_id AND i.s = u.period_start)
        RETURNING u.profile_id, u.feature_id, u.period_start, u.used
    ), decided AS MATERIALIZED (
        SELECT input.*, upserted.used FROM upserted JOIN input
            ON upserted.profile_id = input.p AND upserted.feature_id = input.f
           AND upserted.period_start = input.s
    ), logged AS (
        INSERT INTO user_activity_log (id, profile_id, actor_id, action, details, ip, created_at)
        SELECT entry, p, p, 'feature_used',
               jsonb_build_object('feature', f, 'amount', a, 'used', used), ip, at
        FROM decided WHERE entry IS NOT NULL
    ), active AS (
        INSERT INTO user_stats AS st (profile_id, logins, last_login_at, last_active_at,
                                      feature_totals, redemptions, updated_at)
        SELECT p, 0, NULL, max(at), '{}', 0, max(at)
        FROM decided WHERE entry IS NOT NULL
        GROUP BY p ORDER BY p
        ON CONFLICT (profile_id) DO UPDATE SET
            last_active_at = excluded.last_active_at, updated_at = excluded.updated_at
        WHERE st.last_active_at IS NULL
           OR st.last_active_at <= excluded.last_active_at - interval '1 minute'
    )
    SELECT i::INT, used, TRUE FROM decided;
    GET DIAGNOSTICS spent = ROW_COUNT;
    IF spent < n THEN
        RETURN QUERY SELECT t.i::INT, coalesce(x.used, 0), FALSE
        FROM unnest(p_profiles, p_features, p_starts) WITH ORDINALITY AS t(p, f, s, i)
        LEFT JOIN user_feature_usage x
            ON x.profile_id = t.p AND x.feature_id = t.f AND x.period_start = t.s;
    END IF;
END
$$;
