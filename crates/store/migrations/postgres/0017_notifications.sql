-- Admin notifications (DESIGN §17): one row per event about a subject within an hour (the
-- open one is raised again: count and last_at), each admin's reading of it and preferences,
-- the webhooks that want them, and their deliveries (mail and webhook) as an outbox.

CREATE TABLE notifications (
    id       UUID PRIMARY KEY,
    event    TEXT NOT NULL,
    subject  TEXT NOT NULL,
    -- What the title and body name, rendered in each reader's language.
    data     JSONB NOT NULL,
    link     TEXT NOT NULL,
    count    INTEGER NOT NULL DEFAULT 1,
    first_at TIMESTAMPTZ NOT NULL,
    last_at  TIMESTAMPTZ NOT NULL,
    -- The notification the same event about the same subject raises now.
    open     BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE UNIQUE INDEX notifications_open_key ON notifications (event, subject) WHERE open;
CREATE INDEX notifications_last_idx ON notifications (last_at);

CREATE TABLE notification_reads (
    notification_id UUID NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    admin_id        UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    read_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (notification_id, admin_id)
);

CREATE TABLE notification_preferences (
    admin_id UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    event    TEXT NOT NULL,
    mode     TEXT NOT NULL CHECK (mode IN ('off', 'immediate', 'digest')),
    PRIMARY KEY (admin_id, event)
);


INSERT INTO app_settings (key, value) VALUES ('notification_digest_hour', '8') ON CONFLICT DO NOTHING;
