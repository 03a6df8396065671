//! Passwords: reset by e-mailed token, and change by the signed-in owner.

use chrono::TimeDelta;
use mitai_access::text::Email;
use mitai_store::{NewAccountToken, NewActivity, NewMail, Profile, TokenKind, actions};
use serde_json::json;

use crate::service::AppState;
use crate::service::accounts::{invalid_token, password_limits};
use crate::service::credentials;
use crate::service::rate_limit::{self, Limit};
use crate::service::sessions::CurrentUser;
use crate::service::verification::plausible;
use crate::service::{Error, ErrorCode, Result, field};

/// How long an e-mailed reset link works.
pub const RESET_TTL: TimeDelta = TimeDelta::hours(1);
/// Reset requests per e-mail address (whether an account has it or not) in one window.
pub const RESETS_PER_EMAIL: i64 = 5;
/// Reset requests per client IP in one window.
pub const RESETS_PER_IP: i64 = 20;
pub const RESET_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Asks for a reset link. The answer is the same whether an account has the address or
/// not (no account enumeration): only for an enabled account are a token stored and a
/// `password_reset` mail enqueued (with `password_reset_requested` logged), in one
/// transaction. Every request counts against the limits per address and per IP, known
/// address or not.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn request_reset(state: &AppState, email: &str, ip: Option<String>) -> Result<()> {
    // A text that cannot be an address is refused before it is counted.
    let email = field("email", Email::parse(email))?;
    let email = email.as_str();
    let mut limits = vec![Limit::new(
        rate_limit::key("reset:email", &mitai_store::normalize_email(email)),
        RESETS_PER_EMAIL,
        RESET_WINDOW,
    )];
    if let Some(ip) = &ip {
        limits.push(Limit::new(
            rate_limit::key("reset:ip", ip),
            RESETS_PER_IP,
            RESET_WINDOW,
        ));
    }
    rate_limit::take(state, &limits).await?;
    let Some((profile, _)) = state.store.credentials(email).await? else {
        return Ok(());
    };
    if profile.disabled {
        return Ok(());
    }
    let now = state.now();
    let token = credentials::new_token();
    let stored = NewAccountToken {
        token_hash: credentials::token_hash(&token),
        kind: TokenKind::PasswordReset,
        profile_id: profile.id,
        created_at: now,
        expires_at: now + RESET_TTL,
    };
    let mail = NewMail::new(
        profile.email.clone(),
        "password_reset",
        profile.language.clone(),
        json!({ "name": profile.name, "token": token }),
        now,
    );
    // Anyone can ask: the event is about the account, by nobody known.
    let event = NewActivity::new(actions::PASSWORD_RESET_REQUESTED, now)
        .profile(Some(profile.id))
        .ip(ip);
    state
        .store
        .create_account_token(&stored, &mail, Some(&event))
        .await?;
    Ok(())
}

fn check_password(field: &str, password: &str) -> Result<()> {
    credentials::validate_password(password).map_err(|why| Error::field(field, why))
}

/// Sets a new password with a reset token: single use, expiring; ends every session of
/// the account and logs `password_changed` (`via: reset`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn confirm_reset(
    state: &AppState,
    token: &str,
    password: &str,
    ip: Option<String>,
) -> Result<Profile> {
    check_password("password", password)?;
    if !plausible(token) {
        return Err(invalid_token());
    }
    let hash = credentials::token_hash(token);
    // A look first, so a bad link costs no password hashing; the store decides.
    if state
        .store
        .account_token(&hash, TokenKind::PasswordReset, state.now())
        .await?
        .is_none()
    {
        return Err(invalid_token());
    }
    let password_hash = credentials::hash_password(password.to_owned()).await?;
    let now = state.now();
    let event = NewActivity::new(actions::PASSWORD_CHANGED, now)
        .details(json!({ "via": "reset" }))
        .ip(ip);
    state
        .store
        .reset_password(&hash, &password_hash, now, &event)
        .await?
        .ok_or_else(invalid_token)
}

fn wrong_password() -> Error {
    Error::refused(ErrorCode::WrongPassword, "the current password is wrong")
}

/// Changes the password of the signed-in profile, which must give the current one (403
/// `invalid_credentials` otherwise; failures count against the login limits of the
/// account). The other sessions end; this one stays. Logs `password_changed`
/// (`via: change`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn change(
    state: &AppState,
    user: &CurrentUser,
    old_password: &str,
    new_password: &str,
    ip: Option<String>,
) -> Result<()> {
    check_password("new_password", new_password)?;
    let profile = &user.profile;
    let limits = password_limits(&profile.email, ip.as_deref());
    let attempt = rate_limit::reserve(state, &limits).await?;
    let Some((_, current_hash)) = state.store.credentials(&profile.email).await? else {
        attempt.refund(state).await;
        return Err(Error::Unauthenticated);
    };
    if !credentials::verify_password(old_password.to_owned(), Some(current_hash.clone())).await? {
        // A wrong password stays counted.
        return Err(wrong_password());
    }
    attempt.refund(state).await;
    let new_hash = credentials::hash_password(new_password.to_owned()).await?;
    let now = state.now();
    let event = NewActivity::new(actions::PASSWORD_CHANGED, now)
        .by_self(profile.id)
        .details(json!({ "via": "change" }))
        .ip(ip);
    let changed = state
        .store
        .change_password(
            profile.id,
            &current_hash,
            &new_hash,
            Some(&user.token_hash),
            now,
            &event,
        )
        .await?;
    // Not changed: another change won meanwhile, so the password given is not current.
    if changed {
        Ok(())
    } else {
        Err(wrong_password())
    }
}

/// Whether the password-reset link with this token can still be used.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reset_link_usable(state: &AppState, token: &str) -> Result<bool> {
    if token.is_empty() {
        return Ok(false);
    }
    Ok(state
        .store
        .account_token(
            &credentials::token_hash(token),
            TokenKind::PasswordReset,
            state.now(),
        )
        .await?
        .is_some())
}
