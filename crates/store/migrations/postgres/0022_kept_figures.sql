-- The admin overview without a pass over every profile (issue 28).
--
-- How many profiles there are, and how many of them are disabled: one row, kept by triggers
-- in the transaction of every statement that inserts, deletes or changes profiles, whoever
-- runs it (once per statement, from its transition tables: a COPY of a year's profiles
-- updates the row once). A change that leaves the counts as they were writes nothing.
CREATE TABLE profile_totals (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    total    BIGINT NOT NULL,
    disabled BIGINT NOT NULL
);
INSERT INTO profile_totals (id, total, disabled)
    SELECT 1, COUNT(*), COUNT(*) FILTER (WHERE disabled) FROM profiles;

CREATE FUNCTION mitai_profiles_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE profile_totals SET total = total + c.n, disabled = disabled + c.d
    FROM (SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE disabled) AS d FROM added) c
    WHERE c.n <> 0;
    RETURN NULL;
END
$$;
CREATE FUNCTION mitai_profiles_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE profile_totals SET total = total - c.n, disabled = disabled - c.d
    FROM (SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE disabled) AS d FROM removed) c
    WHERE c.n <> 0;
    RETURN NULL;
END
$$;
CREATE FUNCTION mitai_profiles_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE profile_totals SET disabled = disabled + c.d
    FROM (SELECT (SELECT COUNT(*) FROM after_change WHERE disabled)
               - (SELECT COUNT(*) FROM before_change WHERE disabled) AS d) c
    WHERE c.d <> 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER profiles_counted_insert AFTER INSERT ON profiles
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION mitai_profiles_added();
CREATE TRIGGER profiles_counted_delete AFTER DELETE ON profiles
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION mitai_profiles_removed();
CREATE TRIGGER profiles_counted_update AFTER UPDATE ON profiles
    REFERENCING OLD TABLE AS before_change NEW TABLE AS after_change
    FOR EACH STATEMENT EXECUTE FUNCTION mitai_profiles_changed();

-- Profiles active in the last 1, 7 and 30 days as the jobs last counted them (a pass over
-- `user_stats`, once a round), and when.
CREATE TABLE active_counts (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    counted_at   TIMESTAMPTZ NOT NULL,
    last_1_day   BIGINT NOT NULL,
    last_7_days  BIGINT NOT NULL,
    last_30_days BIGINT NOT NULL
);
