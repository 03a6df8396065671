-- Retention's daily counts, one row per profile, UTC day and feature (issue 28). The first
-- form (0019) added a row per fold batch under a long text key; with uses spread thin (a
-- profile using a feature about once a day, as most do) its rows were nearly as many and as
-- large as the entries they replaced. Now a fold adds to the day's row, keyed by what the
-- readers look up (a profile's totals read a prefix of the key). A deleted profile's counts
-- go with it; the statistics per day are in `usage_days`.
CREATE TABLE activity_days (
    profile_id UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    day        TEXT NOT NULL,
    feature_id TEXT NOT NULL,
    uses       BIGINT NOT NULL,
    amount     BIGINT NOT NULL,
    PRIMARY KEY (profile_id, day, feature_id)
);
INSERT INTO activity_days (profile_id, day, feature_id, uses, amount)
    SELECT profile_id, day, feature_id, SUM(uses), SUM(amount) FROM activity_daily
    WHERE profile_id IS NOT NULL GROUP BY profile_id, day, feature_id;
DROP TABLE activity_daily;
ALTER TABLE activity_days RENAME TO activity_daily;
ALTER TABLE activity_daily RENAME CONSTRAINT activity_days_pkey TO activity_daily_pkey;
ALTER TABLE activity_daily RENAME CONSTRAINT activity_days_profile_id_fkey
    TO activity_daily_profile_id_fkey;
