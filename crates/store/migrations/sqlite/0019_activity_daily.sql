-- Retention (DESIGN §18): `feature_used` entries older than `activity_retention_days` are
-- folded into these daily counts (per UTC day, profile and feature) and removed; statistics
-- read both. A fold adds rows; readers sum them.
CREATE TABLE activity_daily (
    -- The fold's bound, the day, the profile and the feature.
    id         TEXT PRIMARY KEY,
    day        TEXT NOT NULL,
    profile_id TEXT REFERENCES profiles (id) ON DELETE SET NULL,
    feature_id TEXT NOT NULL,
    uses       INTEGER NOT NULL,
    amount     INTEGER NOT NULL
);
CREATE INDEX activity_daily_profile_idx ON activity_daily (profile_id);
CREATE INDEX activity_daily_day_idx ON activity_daily (day);

INSERT INTO app_settings (key, value) VALUES ('activity_retention_days', '90') ON CONFLICT DO NOTHING;
