//! Registration, login, logout (of one or all sessions) and the signed-in profile.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::api::ProfileEnvelope;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Result};
use crate::http::auth::{CurrentUser, SESSION_DAYS, session_cookie};
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::profiles::{self, OwnProfileChange, OwnProfilePatch, ProfileView};
use crate::service::{accounts, grants};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
    /// `de` or `en` (default `en`).
    pub language: Option<String>,
    /// The token of an invitation for this e-mail: opens `invite_only` registration
    /// (not `closed`), and the account counts as verified.
    pub invitation_token: Option<String>,
}

/// Create an account. Without an invitation a `verify_email` mail is sent.
#[utoipa::path(post, path = "/register", tag = "accounts", request_body = RegisterBody,
    responses((status = 201, body = ProfileEnvelope),
              (status = 400, description = "invalid_token (invitation unknown, used, expired or for another e-mail)", body = ErrorBody),
              (status = 403, description = "registration_closed", body = ErrorBody),
              (status = 409, description = "email_taken", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RegisterBody>,
) -> Result<(StatusCode, Json<ProfileEnvelope>)> {
    let r = accounts::check_registration(
        &body.email,
        &body.password,
        body.name.as_deref(),
        body.language.as_deref(),
    )?;
    let invitation = body.invitation_token.as_deref();
    let profile = accounts::register(&state, r, invitation, ip).await?;
    let view = grants::profile_view(&state, &profile).await?;
    Ok((StatusCode::CREATED, Json(ProfileEnvelope { profile: view })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct LoginAnswer {
    /// Send as `Authorization: Bearer <token>`; also set as an HttpOnly cookie.
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub profile: ProfileView,
}

/// Sign in: a bearer token, and the same token as a session cookie.
#[utoipa::path(post, path = "/login", tag = "accounts", request_body = LoginBody,
    responses((status = 200, body = LoginAnswer),
              (status = 401, description = "invalid_credentials", body = ErrorBody),
              (status = 403, description = "account_disabled", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Result<Response> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let login = accounts::login(&state, &body.email, &body.password, user_agent, ip).await?;
    let cookie = session_cookie(&state, &login.token, SESSION_DAYS * 86_400);
    let answer = LoginAnswer {
        token: login.token,
        expires_at: login.expires_at,
        profile: grants::profile_view(&state, &login.profile).await?,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(answer)).into_response())
}

/// Sign out: ends this session.
#[utoipa::path(post, path = "/logout", tag = "accounts",
    responses((status = 204), (status = 401, description = "unauthenticated", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
) -> Result<Response> {
    accounts::logout(&state, &user, ip).await?;
    let cookie = session_cookie(&state, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Sign out everywhere: ends every session of the profile, this one included.
#[utoipa::path(post, path = "/logout-all", tag = "accounts",
    responses((status = 204), (status = 401, description = "unauthenticated", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout_all(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
) -> Result<Response> {
    accounts::logout_all(&state, &user, ip).await?;
    let cookie = session_cookie(&state, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Changes the signed-in person's own profile: the fields named (`null` clears an optional
/// fact). Values are metric.
#[utoipa::path(patch, path = "/me", tag = "accounts",
    request_body = OwnProfilePatch,
    responses((status = 200, body = ProfileEnvelope),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 422, description = "invalid_input, the field named", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_me(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(patch): Json<OwnProfilePatch>,
) -> Result<Json<serde_json::Value>> {
    let change = OwnProfileChange::check(patch, state.now().date_naive())?;
    let profile = profiles::change_own_profile(&state, &user.profile, change).await?;
    let view = grants::profile_view(&state, &profile).await?;
    Ok(Json(json!({ "profile": view })))
}

/// The password that confirms deleting one's own account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeBody {
    pub password: String,
}

/// Deletes the signed-in person's account and their data (DESIGN §18) once the password
/// confirms it; the session ends with it.
#[utoipa::path(delete, path = "/me", tag = "accounts",
    request_body = DeleteMeBody,
    responses((status = 204),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "invalid_credentials (the password is wrong)", body = ErrorBody),
              (status = 409, description = "last_admin", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_me(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Json(body): Json<DeleteMeBody>,
) -> Result<Response> {
    accounts::delete_own(&state, &user, &body.password, ip).await?;
    let cookie = session_cookie(&state, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The signed-in profile.
#[utoipa::path(get, path = "/me", tag = "accounts",
    responses((status = 200, body = ProfileEnvelope),
              (status = 401, description = "unauthenticated", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<serde_json::Value>> {
    let view = grants::profile_view(&state, &user.profile).await?;
    Ok(Json(json!({ "profile": view })))
}
