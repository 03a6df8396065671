//! Invitations to create an account.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::error::ErrorBody;
use crate::api::error::{Json, Result};
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::invitations;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub email: String,
    /// The language of the invitation mail, `de` or `en` (default: the inviter's).
    pub language: Option<String>,
}

/// An invitation: registering with its token (for this e-mail) before `expires_at`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub invited_by: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationEnvelope {
    pub invitation: InvitationView,
}

/// Invite someone by e-mail: admins always, everyone when `users_can_invite` is on. The
/// mail carries a single-use link that works for 7 days.
#[utoipa::path(post, path = "/me/invitations", tag = "accounts", request_body = InviteBody,
    responses((status = 201, body = InvitationEnvelope),
              (status = 401, description = "unauthenticated", body = ErrorBody),
              (status = 403, description = "forbidden (users may not invite) or email_not_verified", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody),
              (status = 429, description = "rate_limited (10 per hour for non-admins)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Json(body): Json<InviteBody>,
) -> Result<(StatusCode, Json<InvitationEnvelope>)> {
    let invitation = invitations::invite(
        &state,
        &user.profile,
        &body.email,
        body.language.as_deref(),
        ip,
    )
    .await?;
    let view = InvitationView {
        id: invitation.id,
        email: invitation.email,
        expires_at: invitation.expires_at,
        created_at: invitation.created_at,
        invited_by: invitation.invited_by,
    };
    Ok((
        StatusCode::CREATED,
        Json(InvitationEnvelope { invitation: view }),
    ))
}
