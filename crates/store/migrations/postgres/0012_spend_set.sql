-- The hot path, set-based (issue 10).
--
-- `mitai_spend_batch` decided its spends one statement each, in a PL/pgSQL loop: per spend,
-- a plan looked up and revalidated, an executor started, the upsert run. A batch whose
-- buckets are all different (the common case: many profiles spending at once) is now
-- decided by one statement: the conditional upsert of every spend, its `feature_used`
-- entry and each profile's `last_active_at`, as data-modifying CTEs. Spends of distinct
-- buckets do not depend on each other, so deciding them together is deciding each alone.
-- A batch with a bucket twice keeps the loop (`mitai_spend_batch_serial`, the former
-- body): one statement cannot update a row twice.
ALTER FUNCTION mitai_spend_batch(UUID[], TEXT[], TIMESTAMPTZ[], BIGINT[], BIGINT[],
    TIMESTAMPTZ[], UUID[], TEXT[]) RENAME TO mitai_spend_batch_serial;

CREATE FUNCTION mitai_spend_batch(
    p_profiles UUID[], p_features TEXT[], p_starts TIMESTAMPTZ[], p_amounts BIGINT[],
    p_caps BIGINT[], p_nows TIMESTAMPTZ[], p_entries UUID[], p_ips TEXT[])
RETURNS TABLE (k INT, new_used BIGINT, was_spent BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    n INT := coalesce(array_length(p_profiles, 1), 0);
    results BIGINT[];
    spent BOOLEAN[];
BEGIN
    IF n > 1 AND (SELECT count(DISTINCT (p, f, s))
                  FROM unnest(p_profiles, p_features, p_starts) AS t(p, f, s)) < n THEN
        RETURN QUERY SELECT * FROM mitai_spend_batch_serial(p_profiles, p_features, p_starts,
            p_amounts, p_caps, p_nows, p_entries, p_ips);
        RETURN;
    END IF;
    -- Rows are locked in bucket order, as the loop and a single consume lock them.
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
        SELECT input.*, upserted.used FROM input LEFT JOIN upserted
            ON upserted.profile_id = input.p AND upserted.feature_id = input.f
           AND upserted.period_start = input.s
    ), logged AS (
        INSERT INTO user_activity_log (id, profile_id, actor_id, action, details, ip, created_at)
        SELECT entry, p, p, 'feature_used',
               jsonb_build_object('feature', f, 'amount', a, 'used', used), ip, at
        FROM decided WHERE used IS NOT NULL AND entry IS NOT NULL
    ), active AS (
        INSERT INTO user_stats AS st (profile_id, logins, last_login_at, last_active_at,
                                      feature_totals, redemptions, updated_at)
        SELECT p, 0, NULL, max(at), '{}', 0, max(at)
        FROM decided WHERE used IS NOT NULL AND entry IS NOT NULL
        GROUP BY p ORDER BY p
        ON CONFLICT (profile_id) DO UPDATE SET
            last_active_at = GREATEST(st.last_active_at, excluded.last_active_at),
            updated_at = excluded.updated_at
    )
    SELECT array_agg(used ORDER BY i), array_agg(used IS NOT NULL ORDER BY i)
    INTO results, spent FROM decided;
    -- A refusal answers the usage it was refused at. The upsert locked that row; this
    -- statement's snapshot sees the version it was decided on.
    IF NOT (TRUE = ALL (spent)) THEN
        SELECT array_agg(CASE WHEN t.spent THEN t.used ELSE coalesce(x.used, 0) END ORDER BY t.i)
        INTO results
        FROM unnest(p_profiles, p_features, p_starts, results, spent) WITH ORDINALITY
                 AS t(p, f, s, used, spent, i)
        LEFT JOIN user_feature_usage x
            ON NOT t.spent AND x.profile_id = t.p AND x.feature_id = t.f AND x.period_start = t.s;
    END IF;
    RETURN QUERY SELECT j::INT, results[j], spent[j] FROM generate_series(1, n) AS j;
END
$$;

-- `last_active_at` changes with every spend; indexed, every change was a new row version in
-- both indexes (no HOT update). Counting active profiles reads the table instead.
DROP INDEX user_stats_last_active_idx;
