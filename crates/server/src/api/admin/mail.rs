//! The mail outbox as admins see it (without the messages' data, which holds tokens).

use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Query, Result};
use crate::service::AppState;
use crate::service::admin::mail;
use crate::service::admin::mail::{MailParams, MailView};

/// The outbox, oldest first.
#[utoipa::path(get, path = "/mail", tag = "admin", params(MailParams),
    responses((status = 200, body = Page<MailView>),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<MailParams>,
) -> Result<Json<Page<MailView>>> {
    let (items, next_cursor) = mail::list(&state, &params).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Send a given-up message again: it is queued, due now, with its attempts counted afresh.
#[utoipa::path(post, path = "/mail/{id}/resend", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 204),
              (status = 404, description = "no given-up message with this id", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resend(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    mail::resend(&state, &admin.profile, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
