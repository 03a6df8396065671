-- Mitai core schema (PostgreSQL): registry, accounts, usage, coupons, grants, activity.

CREATE TABLE tiers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    rank        INTEGER NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE features (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL DEFAULT 'data',
    kind          TEXT NOT NULL CHECK (kind IN ('count', 'boolean')),
    unit          TEXT,
    reset_period  TEXT NOT NULL CHECK (reset_period IN ('never', 'daily', 'weekly', 'monthly', 'yearly')),
    default_limit BIGINT CHECK (default_limit >= 0),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order    INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per (tier, feature); usage_limit NULL = unlimited, 0 = disabled.
CREATE TABLE tier_limits (
    tier_id     TEXT NOT NULL REFERENCES tiers (id) ON DELETE CASCADE,
    feature_id  TEXT NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    usage_limit BIGINT CHECK (usage_limit >= 0),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tier_id, feature_id)
);

CREATE TABLE app_settings (
    key        TEXT PRIMARY KEY,
    value      JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by UUID
);

CREATE TABLE profiles (
    id                 UUID PRIMARY KEY,
    email              TEXT NOT NULL,
    email_norm         TEXT NOT NULL CONSTRAINT profiles_email_norm_key UNIQUE,
    password_hash      TEXT NOT NULL,
    name               TEXT NOT NULL DEFAULT '',
    role               TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    tier               TEXT NOT NULL REFERENCES tiers (id),
    trial_ends_at      TIMESTAMPTZ,
    email_verified     BOOLEAN NOT NULL DEFAULT FALSE,
    email_verify_token TEXT,
    invited_by         UUID REFERENCES profiles (id) ON DELETE SET NULL,
    invitation_token   TEXT,
    language           TEXT NOT NULL DEFAULT 'de' CHECK (language IN ('de', 'en')),
    disabled           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX profiles_role_idx ON profiles (role);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    profile_id   UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    user_agent   TEXT
);
CREATE INDEX sessions_profile_idx ON sessions (profile_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE user_feature_restrictions (
    profile_id  UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    feature_id  TEXT NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    usage_limit BIGINT CHECK (usage_limit >= 0),
    reason      TEXT NOT NULL DEFAULT '',
    valid_until TIMESTAMPTZ,
    created_by  UUID REFERENCES profiles (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (profile_id, feature_id)
);

-- Usage per reset-period bucket: a reset needs no job.
CREATE TABLE user_feature_usage (
    profile_id   UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    feature_id   TEXT NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    period_start TIMESTAMPTZ NOT NULL,
    used         BIGINT NOT NULL CHECK (used >= 0),
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (profile_id, feature_id, period_start)
);

-- Replays of writes that carry an Idempotency-Key answer as the first call did.
CREATE TABLE idempotency_keys (
    profile_id      UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status INTEGER,
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (profile_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE coupons (
    id              UUID PRIMARY KEY,
    code            TEXT NOT NULL CONSTRAINT coupons_code_key UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('single_use', 'period', 'wellpass')),
    tier_id         TEXT NOT NULL REFERENCES tiers (id),
    duration_days   INTEGER CHECK (duration_days > 0),
    valid_from      TIMESTAMPTZ,
    valid_until     TIMESTAMPTZ,
    period_ends_at  TIMESTAMPTZ,
    max_redemptions INTEGER CHECK (max_redemptions > 0),
    redeemed_count  INTEGER NOT NULL DEFAULT 0 CHECK (redeemed_count >= 0),
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    campaign        TEXT,
    note            TEXT,
    created_by      UUID REFERENCES profiles (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK (max_redemptions IS NULL OR redeemed_count <= max_redemptions)
);
CREATE INDEX coupons_campaign_idx ON coupons (campaign);

CREATE TABLE access_grants (
    id               UUID PRIMARY KEY,
    profile_id       UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    tier_id          TEXT NOT NULL REFERENCES tiers (id),
    source           TEXT NOT NULL,
    coupon_id        UUID REFERENCES coupons (id) ON DELETE SET NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('fixed', 'duration')),
    starts_at        TIMESTAMPTZ,
    ends_at          TIMESTAMPTZ,
    duration_seconds BIGINT CHECK (duration_seconds > 0),
    created_by       UUID REFERENCES profiles (id) ON DELETE SET NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ,
    revoked_by       UUID REFERENCES profiles (id) ON DELETE SET NULL,
    status           TEXT,
    status_at        TIMESTAMPTZ,
    CHECK ((kind = 'fixed' AND starts_at IS NOT NULL AND ends_at IS NOT NULL)
        OR (kind = 'duration' AND duration_seconds IS NOT NULL))
);
CREATE INDEX access_grants_profile_idx ON access_grants (profile_id);

-- Admin pauses of a grant; resumed_at NULL = still paused.
CREATE TABLE grant_pauses (
    id         UUID PRIMARY KEY,
    grant_id   UUID NOT NULL REFERENCES access_grants (id) ON DELETE CASCADE,
    paused_at  TIMESTAMPTZ NOT NULL,
    paused_by  UUID REFERENCES profiles (id) ON DELETE SET NULL,
    reason     TEXT NOT NULL DEFAULT '',
    resumed_at TIMESTAMPTZ,
    resumed_by UUID REFERENCES profiles (id) ON DELETE SET NULL
);
CREATE INDEX grant_pauses_grant_idx ON grant_pauses (grant_id);
CREATE UNIQUE INDEX grant_pauses_open_key ON grant_pauses (grant_id) WHERE resumed_at IS NULL;

CREATE TABLE coupon_redemptions (
    id              UUID PRIMARY KEY,
    coupon_id       UUID NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    profile_id      UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    access_grant_id UUID REFERENCES access_grants (id) ON DELETE SET NULL,
    redeemed_at     TIMESTAMPTZ NOT NULL,
    -- '' for single-use and period coupons (once ever), 'YYYY-MM' for Wellpass.
    period_key      TEXT NOT NULL DEFAULT '',
    CONSTRAINT coupon_redemptions_once_key UNIQUE (coupon_id, profile_id, period_key)
);
CREATE INDEX coupon_redemptions_profile_idx ON coupon_redemptions (profile_id);

CREATE TABLE user_activity_log (
    id         UUID PRIMARY KEY,
    profile_id UUID REFERENCES profiles (id) ON DELETE SET NULL,
    actor_id   UUID REFERENCES profiles (id) ON DELETE SET NULL,
    action     TEXT NOT NULL,
    details    JSONB NOT NULL DEFAULT '{}',
    ip         TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX user_activity_log_profile_idx ON user_activity_log (profile_id, created_at);
CREATE INDEX user_activity_log_action_idx ON user_activity_log (action, created_at);

CREATE TABLE user_stats (
    profile_id     UUID PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    logins         BIGINT NOT NULL DEFAULT 0,
    last_login_at  TIMESTAMPTZ,
    last_active_at TIMESTAMPTZ,
    feature_totals JSONB NOT NULL DEFAULT '{}',
    redemptions    BIGINT NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ NOT NULL
);
