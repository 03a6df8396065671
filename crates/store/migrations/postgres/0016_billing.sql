-- Payments through Stripe (DESIGN §13): the prices admins sell, each profile's Stripe
-- customer, the subscriptions and payments Stripe reported, and every webhook event once.

CREATE TABLE billing_prices (
    id              UUID PRIMARY KEY,
    stripe_price_id TEXT NOT NULL UNIQUE,
    tier_id         TEXT NOT NULL REFERENCES tiers (id),
    kind            TEXT NOT NULL CHECK (kind IN ('subscription', 'one_time')),
    -- Subscriptions: 'day' | 'week' | 'month' | 'year' and how many of them.
    interval        TEXT,
    interval_count  INTEGER,
    -- Passes: how many days of access one buys.
    days            INTEGER CHECK (days > 0),
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    label           TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK ((kind = 'subscription' AND interval IS NOT NULL) OR (kind = 'one_time' AND days IS NOT NULL))
);

CREATE TABLE billing_customers (
    profile_id         UUID PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    stripe_customer_id TEXT NOT NULL UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL
);

-- A subscription as the newest event about it told (state_at: that event's `created`).
-- paid_from / paid_until: the first paid period's start and the latest paid period's end;
-- the subscription's grant runs from paid_from to paid_until + the grace, cut at ended_at.
CREATE TABLE billing_subscriptions (
    id                   TEXT PRIMARY KEY,
    profile_id           UUID REFERENCES profiles (id) ON DELETE CASCADE,
    stripe_price_id      TEXT,
    tier_id              TEXT,
    status               TEXT NOT NULL,
    current_period_end   TIMESTAMPTZ,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    -- The "your subscription ends" mail went out for the end now set.
    ending_mailed        BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at             TIMESTAMPTZ,
    paid_from            TIMESTAMPTZ,
    paid_until           TIMESTAMPTZ,
    grant_id             UUID REFERENCES access_grants (id) ON DELETE SET NULL,
    state_at             TIMESTAMPTZ NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX billing_subscriptions_profile_idx ON billing_subscriptions (profile_id);

-- A payment: an invoice of a subscription (id `in_…`) or a pass (id: its payment intent).
CREATE TABLE billing_payments (
    id              TEXT PRIMARY KEY,
    profile_id      UUID REFERENCES profiles (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('invoice', 'pass')),
    subscription_id TEXT,
    stripe_price_id TEXT,
    payment_intent  TEXT,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('paid', 'failed', 'refunded', 'disputed', 'dispute_lost')),
    period_start    TIMESTAMPTZ,
    period_end      TIMESTAMPTZ,
    -- A dispute of it: NULL, 'open', 'won' or 'lost'.
    dispute         TEXT CHECK (dispute IN ('open', 'won', 'lost')),
    grant_id        UUID REFERENCES access_grants (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX billing_payments_profile_idx ON billing_payments (profile_id, created_at);
CREATE INDEX billing_payments_intent_idx ON billing_payments (payment_intent);

-- Every webhook event once, by Stripe's id.
CREATE TABLE billing_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    payload      JSONB NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'processed', 'ignored', 'failed')),
    error        TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    -- When an instance took it to apply it (status 'processing').
    claimed_at   TIMESTAMPTZ,
    processed_at TIMESTAMPTZ
);
CREATE INDEX billing_events_status_idx ON billing_events (status, received_at);

INSERT INTO app_settings (key, value) VALUES ('billing_grace_days', '3') ON CONFLICT DO NOTHING;
