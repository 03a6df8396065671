//! The mail outbox as admins see it (without the messages' data, which holds tokens).

use axum::extract::State;

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Query, Result};
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
