//! Invitations: an e-mailed, single-use, expiring token to create an account with.

use chrono::TimeDelta;
use mitai_store::{
    Invitation, NewActivity, NewInvitation, NewMail, Profile, Role, StoreError, actions,
};
use serde_json::json;
use uuid::Uuid;

use crate::service::AppState;
use crate::service::accounts::require_verified;
use crate::service::credentials;
use crate::service::rate_limit::{self, Limit};
use crate::service::{Error, Result};

/// How long an invitation works.
pub const INVITATION_TTL: TimeDelta = TimeDelta::days(7);
/// Invitations a non-admin may send in one window (admins are not limited).
pub const INVITATIONS_PER_USER: i64 = 10;
pub const INVITATION_WINDOW: TimeDelta = TimeDelta::hours(1);

/// Invites `email`: admins always; others when the setting `users_can_invite` is on (403
/// `forbidden` otherwise) and, if verification is required, with a verified address.
/// The invitation, its `invitation` mail (in `language`, by default the inviter's) and
/// the `invitation_created` event commit together.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn invite(
    state: &AppState,
    inviter: &Profile,
    email: &str,
    language: Option<&str>,
    ip: Option<String>,
) -> Result<Invitation> {
    let admin = inviter.role == Role::Admin;
    if !admin {
        if !state.registry().settings.users_can_invite {
            return Err(Error::Forbidden);
        }
        require_verified(state, inviter)?;
    }
    credentials::validate_email(email).map_err(|why| Error::field("email", why))?;
    let language = language.unwrap_or(&inviter.language);
    if !matches!(language, "de" | "en") {
        return Err(Error::field("language", "must be de or en"));
    }
    if !admin {
        let limit = Limit::new(
            rate_limit::key("invite:profile", &inviter.id.to_string()),
            INVITATIONS_PER_USER,
            INVITATION_WINDOW,
        );
        rate_limit::take(state, &[limit]).await?;
    }
    let now = state.now();
    let token = credentials::new_token();
    let invitation = NewInvitation {
        id: Uuid::now_v7(),
        token_hash: credentials::token_hash(&token),
        email: email.trim().to_owned(),
        invited_by: Some(inviter.id),
        created_at: now,
        expires_at: now + INVITATION_TTL,
    };
    let inviter_name = if inviter.name.is_empty() {
        &inviter.email
    } else {
        &inviter.name
    };
    let mail = NewMail::new(
        invitation.email.clone(),
        "invitation",
        language,
        json!({ "inviter": inviter_name, "token": token }),
        now,
    );
    let event = NewActivity::new(actions::INVITATION_CREATED, now)
        .by_self(inviter.id)
        .details(json!({ "invitation_id": invitation.id, "email": invitation.email }))
        .ip(ip);
    match state
        .store
        .create_invitation(&invitation, &mail, Some(&event))
        .await
    {
        Ok(created) => Ok(created),
        // The inviter was removed meanwhile: no session can be left either.
        Err(StoreError::MissingReference(_)) => Err(Error::Unauthenticated),
        Err(e) => Err(e.into()),
    }
}

/// The invitation of an e-mailed link, if it can still be used.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(state: &AppState, token: &str) -> Result<Option<Invitation>> {
    Ok(state
        .store
        .invitation(&credentials::token_hash(token), state.now())
        .await?)
}
