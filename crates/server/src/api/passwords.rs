//! Passwords: reset by e-mail, and change by the signed-in owner.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::ProfileEnvelope;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Result};
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::{grants, passwords};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    pub email: String,
}

/// Ask for a password-reset link. Always 202, whether an account has the address or not;
/// only an existing, enabled account gets the mail.
#[utoipa::path(post, path = "/password-reset", tag = "accounts", request_body = ResetBody,
    responses((status = 202, description = "accepted (a mail is sent if the account exists)"),
              (status = 422, description = "invalid_input", body = ErrorBody),
              (status = 429, description = "rate_limited (per address and per IP)", body = ErrorBody)))]
pub async fn password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<ResetBody>,
) -> Result<StatusCode> {
    passwords::request_reset(&state, &body.email, ip).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmBody {
    /// The token of the e-mailed link (`…/reset-password?token=…`).
    pub token: String,
    /// The new password, 8–128 characters.
    pub password: String,
}

/// Set a new password with the token of the reset mail (single use; the link works for
/// one hour). Ends every session of the account.
#[utoipa::path(post, path = "/password-reset/confirm", tag = "accounts",
    request_body = ResetConfirmBody,
    responses((status = 200, body = ProfileEnvelope),
              (status = 400, description = "invalid_token (unknown, used or expired)", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)))]
pub async fn password_reset_confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<ResetConfirmBody>,
) -> Result<Json<ProfileEnvelope>> {
    let profile = passwords::confirm_reset(&state, &body.token, &body.password, ip).await?;
    let view = grants::profile_view(&state, &profile).await?;
    Ok(Json(ProfileEnvelope { profile: view }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    pub old_password: String,
    /// 8–128 characters.
    pub new_password: String,
}

/// Change my password. The current password is required; the other sessions end, this
/// one stays.
#[utoipa::path(post, path = "/me/password", tag = "accounts", request_body = ChangePasswordBody,
    responses((status = 200, body = ProfileEnvelope),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "wrong_password (the current password is wrong)", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Json(body): Json<ChangePasswordBody>,
) -> Result<Json<ProfileEnvelope>> {
    passwords::change(&state, &user, &body.old_password, &body.new_password, ip).await?;
    let view = grants::profile_view(&state, &user.profile).await?;
    Ok(Json(ProfileEnvelope { profile: view }))
}
