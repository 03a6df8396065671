//! Records of the account flows: e-mailed single-use tokens (verification, password
//! reset), invitations, registration and sessions.
//!
//! Tokens are random strings handed out once (in an e-mail); the store keeps only their
//! hash, so a database leak reveals none. A token is used at most once, however many
//! requests present it at once: using it is one conditional update in the transaction
//! that makes its change (`used_at IS NULL AND expires_at > now`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{NewActivity, NewMail, NewProfile, Profile};

/// What an e-mailed token of a profile is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    VerifyEmail,
    PasswordReset,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::VerifyEmail => "verify_email",
            TokenKind::PasswordReset => "password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "verify_email" => Some(TokenKind::VerifyEmail),
            "password_reset" => Some(TokenKind::PasswordReset),
            _ => None,
        }
    }
}

/// A token to store: only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccountToken {
    pub token_hash: String,
    pub kind: TokenKind,
    pub profile_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored token that can still be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    pub kind: TokenKind,
    pub profile_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An invitation to create an account with `email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvitation {
    pub id: Uuid,
    pub token_hash: String,
    pub email: String,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    /// As given (trimmed); matched against a registration case-insensitively.
    pub email: String,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<Uuid>,
}

/// A self-registration: the profile and everything that commits with it.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    pub profile: NewProfile,
    /// The hash of an invitation token. The registration uses the invitation (which must
    /// be unused, unexpired at `profile.created_at` and for the profile's e-mail); the
    /// profile then counts as verified and is `invited_by` the inviter, whatever
    /// `profile` says.
    pub invitation: Option<String>,
    /// A verification token of the new profile (its `profile_id` is the profile's id).
    pub token: Option<NewAccountToken>,
    pub mail: Option<NewMail>,
    /// The `register` event.
    pub activity: Option<NewActivity>,
}

/// What a registration came to.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterOutcome {
    Registered(Box<Profile>),
    /// The e-mail is taken; nothing changed (an invitation stays unused).
    EmailTaken,
    /// The invitation is unknown, used, expired or for another e-mail; nothing changed.
    InvalidInvitation,
}

/// A live session and its profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub profile: Profile,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}
