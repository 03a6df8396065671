//! Who is signed in: the session behind a token, and its sliding renewal.

use chrono::TimeDelta;
use mitai_store::Profile;

use super::credentials::token_hash;
use super::{AppState, Error, Result};

/// How long a session lives. A session used in the second half of its life is renewed
/// to this again from the moment of use (sliding expiry), so it ends only after
/// `SESSION_DAYS` without use — with at most one write per half-life.
pub const SESSION_DAYS: i64 = 30;

/// A signed-in person and the session they came with.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub profile: Profile,
    pub token_hash: String,
    /// Signed in by the session cookie (a browser), not by a bearer token.
    pub via_cookie: bool,
}

/// The signed-in person of a session token, if the session is live and the account
/// enabled. A session in the second half of its life is renewed (best effort: a failure is
/// logged and the request goes on); `renewed` then holds the session's new life, so that a
/// browser's cookie can be set again for as long.
pub async fn signed_in(
    state: &AppState,
    token: &str,
    via_cookie: bool,
) -> Result<(CurrentUser, Option<TimeDelta>)> {
    let hash = token_hash(token);
    let now = state.now();
    let session = state
        .store
        .session(&hash, now)
        .await?
        .filter(|s| !s.profile.disabled)
        .ok_or(Error::Unauthenticated)?;
    let life = TimeDelta::days(SESSION_DAYS);
    let mut renewed = None;
    if session.expires_at - now < life / 2 {
        match state.store.renew_session(&hash, now, now + life).await {
            Ok(true) => renewed = Some(life),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "session not renewed"),
        }
    }
    let user = CurrentUser {
        profile: session.profile,
        token_hash: hash,
        via_cookie,
    };
    Ok((user, renewed))
}
