-- Webhooks that want admin notifications (DESIGN §17), and their deliveries as an outbox:
-- retried with backoff, once across instances (claimed with a lease).

CREATE TABLE notification_webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    -- The events it wants (a JSON array of names).
    events     TEXT NOT NULL,
    format     TEXT NOT NULL CHECK (format IN ('json', 'slack', 'ntfy')),
    secret     TEXT NOT NULL,
    -- The language of its titles and bodies (its creator's).
    language   TEXT NOT NULL,
    created_by TEXT REFERENCES profiles (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE notification_deliveries (
    id              TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    webhook_id      TEXT NOT NULL REFERENCES notification_webhooks (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX notification_deliveries_due_idx ON notification_deliveries (status, next_attempt_at);
