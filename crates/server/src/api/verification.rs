//! E-mail verification: the token from the `verify_email` mail, and asking for a new one.

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
use crate::service::{grants, verification};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The token of the e-mailed link (`…/verify-email?token=…`).
    pub token: String,
}

/// Verify the e-mail address with the token of the verification mail (single use; the
/// link works for 48 hours).
#[utoipa::path(post, path = "/verify-email", tag = "accounts", request_body = TokenBody,
    responses((status = 200, body = ProfileEnvelope),
              (status = 400, description = "invalid_token (unknown, used or expired)", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)))]
pub async fn verify_email(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<TokenBody>,
) -> Result<Json<ProfileEnvelope>> {
    let profile = verification::verify_email(&state, &body.token, ip).await?;
    let view = grants::profile_view(&state, &profile).await?;
    Ok(Json(ProfileEnvelope { profile: view }))
}

/// Send the verification mail again (with a new link; earlier links keep working until
/// they expire).
#[utoipa::path(post, path = "/resend-verification", tag = "accounts",
    responses((status = 202, description = "the mail is queued"),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 409, description = "already_verified", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resend_verification(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<StatusCode> {
    verification::resend(&state, &user.profile).await?;
    Ok(StatusCode::ACCEPTED)
}
