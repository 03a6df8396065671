//! Identity at the HTTP edge: the session token of a request (bearer or cookie), the
//! extractors [`CurrentUser`] and [`AdminUser`], and the session cookie.

use std::sync::{Arc, Mutex};

use crate::service::records::Role;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::service::AppState;
use crate::service::Error;
use crate::service::sessions;
pub use crate::service::sessions::{CurrentUser, SESSION_DAYS};

/// Name of the session cookie of the web UI.
pub const SESSION_COOKIE: &str = "mitai_session";

/// The `Set-Cookie` value of the session cookie (`HttpOnly; SameSite=Lax`, `Secure`
/// behind https); an empty value with max-age 0 clears it.
pub fn session_cookie(state: &AppState, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.config.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenSource {
    Bearer,
    Cookie,
}

/// The token of a request: `Authorization: Bearer …`, else the session cookie.
fn request_token(parts: &Parts) -> Option<(String, TokenSource)> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
            .filter(|t| !t.is_empty())
            .map(|t| (t, TokenSource::Bearer));
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| (t, TokenSource::Cookie))
}

/// A slot in the request's extensions where [`CurrentUser`] leaves the renewed session
/// cookie: when a request signed in by cookie renewed its session, the response sets the
/// cookie again with the new lifetime (unless the handler set it itself, as logout does),
/// so the browser keeps it as long as the server does ([`crate::app::every_request`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct RenewedCookie(Arc<Mutex<Option<HeaderValue>>>);

impl RenewedCookie {
    /// Puts an empty slot into the request.
    pub(crate) fn offer(request: &mut Request) -> RenewedCookie {
        let slot = RenewedCookie::default();
        request.extensions_mut().insert(slot.clone());
        slot
    }

    /// Sets the renewed cookie on the response, if there is one.
    pub(crate) fn apply(&self, response: &mut Response) {
        if let Some(cookie) = self.take()
            && !response.headers().contains_key(header::SET_COOKIE)
        {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
    }

    fn set(&self, cookie: HeaderValue) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(cookie);
    }

    fn take(&self) -> Option<HeaderValue> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The signed-in profile of a request. Rejects with 401 `unauthenticated`.
impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let (token, source) = request_token(parts).ok_or(Error::Unauthenticated)?;
        let via_cookie = source == TokenSource::Cookie;
        let (user, renewed) = sessions::signed_in(state, &token, via_cookie).await?;
        if let Some(life) = renewed
            && via_cookie
            && let Some(slot) = parts.extensions.get::<RenewedCookie>()
        {
            slot.set(session_cookie(state, &token, life.num_seconds()));
        }
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Error> {
        match <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(user) => Ok(Some(user)),
            Err(Error::Unauthenticated) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A signed-in admin. Rejects with 401 without a session and 403 `forbidden` otherwise.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let user =
            <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if user.profile.role == Role::Admin {
            Ok(AdminUser(user))
        } else {
            Err(Error::Forbidden)
        }
    }
}
