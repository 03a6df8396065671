-- Things jobs do once per subject (a reminder for one trial end, the expiry log entry of
-- one grant): the primary key makes "once" hold across instances and retries.
CREATE TABLE job_marks (
    kind       TEXT NOT NULL,
    subject_id UUID NOT NULL,
    due_key    TEXT NOT NULL,
    done_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, subject_id, due_key)
);
CREATE INDEX profiles_trial_ends_idx ON profiles (trial_ends_at);
