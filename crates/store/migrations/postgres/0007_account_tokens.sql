-- E-mailed tokens of the account flows. Tokens are random; only their SHA-256 is stored.
-- Each is used at most once (used_at) and expires (expires_at). Expired rows are purged.
-- (The columns profiles.email_verify_token and profiles.invitation_token of 0001 are not
-- used: a profile may have several tokens, and an invitation exists before its profile.)

-- Verification and password-reset tokens of a profile.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('verify_email', 'password_reset')),
    profile_id UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX account_tokens_profile_idx ON account_tokens (profile_id, kind);
CREATE INDEX account_tokens_expires_idx ON account_tokens (expires_at);

-- Invitations: registering with the token (for the invited e-mail) uses it.
CREATE TABLE invitations (
    id         UUID PRIMARY KEY,
    token_hash TEXT NOT NULL CONSTRAINT invitations_token_hash_key UNIQUE,
    email      TEXT NOT NULL,
    email_norm TEXT NOT NULL,
    invited_by UUID REFERENCES profiles (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    used_by    UUID REFERENCES profiles (id) ON DELETE SET NULL
);
CREATE INDEX invitations_expires_idx ON invitations (expires_at);
CREATE INDEX invitations_invited_by_idx ON invitations (invited_by);
CREATE INDEX invitations_used_by_idx ON invitations (used_by);
