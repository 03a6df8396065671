//! E-mail verification: using the e-mailed token, and sending a new one.

use chrono::TimeDelta;
use mitai_store::{NewActivity, Profile, actions};

use crate::service::AppState;
use crate::service::accounts::{self, invalid_token};
use crate::service::credentials;
use crate::service::rate_limit::{self, Limit};
use crate::service::{Error, ErrorCode, Result};

/// New verification mails a profile may ask for in one window.
pub const RESENDS_PER_PROFILE: i64 = 5;
pub const RESEND_WINDOW: TimeDelta = TimeDelta::hours(1);

/// Tokens are 64 hex characters; anything much longer is not one (and is not hashed).
pub(crate) fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 200
}

/// Uses a verification token: the profile's e-mail counts as verified from now on
/// (`email_verified` is logged with it). 400 `invalid_token` for an unknown, used or
/// expired token — also for all but one of many concurrent uses of one token.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify_email(state: &AppState, token: &str, ip: Option<String>) -> Result<Profile> {
    if !plausible(token) {
        return Err(invalid_token());
    }
    let now = state.now();
    let event = NewActivity::new(actions::EMAIL_VERIFIED, now).ip(ip);
    state
        .store
        .verify_email(&credentials::token_hash(token), now, &event)
        .await?
        .ok_or_else(invalid_token)
}

/// Sends a new verification mail (earlier links keep working until they expire or one
/// of them is used). 409 `already_verified` when there is nothing to verify; 429 beyond
/// [`RESENDS_PER_PROFILE`] per [`RESEND_WINDOW`].
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resend(state: &AppState, profile: &Profile) -> Result<()> {
    if profile.email_verified {
        return Err(Error::refused(
            ErrorCode::AlreadyVerified,
            "this e-mail address is verified already",
        ));
    }
    let limit = Limit::new(
        rate_limit::key("verify:profile", &profile.id.to_string()),
        RESENDS_PER_PROFILE,
        RESEND_WINDOW,
    );
    rate_limit::take(state, &[limit]).await?;
    let (token, mail) = accounts::verification(
        &profile.email,
        &profile.name,
        &profile.language,
        state.now(),
    );
    state
        .store
        .create_account_token(&token.for_profile(profile.id), &mail, None)
        .await?;
    Ok(())
}
