//! The activity log, newest first, with filters and cursor pagination.

use axum::extract::State;

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Query, Result};
use crate::service::AppState;
use crate::service::admin::activity_log;
use crate::service::admin::activity_log::{ActivityLogEntry, ActivityParams};

/// The activity log, newest first.
///
/// Filters combine (`profile_id` and `action` and `since`); pass `next_cursor` as
/// `cursor` for the next (older) page.
#[utoipa::path(get, path = "/activity", tag = "admin", params(ActivityParams),
    responses((status = 200, body = Page<ActivityLogEntry>),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ActivityParams>,
) -> Result<Json<Page<ActivityLogEntry>>> {
    let (items, next_cursor) = activity_log::list(&state, &params).await?;
    Ok(Json(Page { items, next_cursor }))
}
