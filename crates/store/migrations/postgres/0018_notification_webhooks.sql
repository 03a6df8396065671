-- Webhooks that want admin notifications (DESIGN §17), and their deliveries as an outbox:
-- retried with backoff, once across instances (claimed with a lease).

CREATE TABLE notification_webhooks (
    id         UUID PRIMARY KEY,
    url        TEXT NOT NULL,
    -- The events it wants (a JSON array of names).
    events     JSONB NOT NULL,
    format     TEXT NOT NULL CHECK (format IN ('json', 'slack', 'ntfy')),
    secret     TEXT NOT NULL,
    -- The language of its titles and bodies (its creator's).
    language   TEXT NOT NULL,
    created_by UUID REFERENCES profiles (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE notification_deliveries (
    id              UUID PRIMARY KEY,
    notification_id UUID NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    webhook_id      UUID NOT NULL REFERENCES notification_webhooks (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX notification_deliveries_due_idx ON notification_deliveries (status, next_attempt_at);
