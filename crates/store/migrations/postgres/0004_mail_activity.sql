-- The mail outbox, and indexes for reading the activity log and statistics.

-- Mail is enqueued in the transaction of the change that causes it and sent by a job.
-- status: pending (waiting for next_attempt_at), sending (claimed; leased until
-- next_attempt_at, after which another worker may claim it again), sent, failed (gave up).
CREATE TABLE mail_outbox (
    id              UUID PRIMARY KEY,
    recipient       TEXT NOT NULL,
    template        TEXT NOT NULL,
    language        TEXT NOT NULL CHECK (language IN ('de', 'en')),
    data            JSONB NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
-- What a claim scans: unsent mail by due time.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX mail_outbox_status_idx ON mail_outbox (status, id);

-- The activity log is read newest first by id (UUIDv7), optionally per profile or action.
CREATE INDEX user_activity_log_profile_id_idx ON user_activity_log (profile_id, id);
CREATE INDEX user_activity_log_action_id_idx ON user_activity_log (action, id);
CREATE INDEX user_activity_log_created_idx ON user_activity_log (created_at);
CREATE INDEX user_stats_last_active_idx ON user_stats (last_active_at);
