//! Statistics: the global figures and one profile's aggregates.

use axum::extract::State;
use uuid::Uuid;

use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Result};
use crate::service::AppState;
use crate::service::admin::stats;
use crate::service::admin::stats::{Stats, UserStatsView};

/// Global statistics: profiles by effective tier, active profiles, use and refusals per
/// feature and day, redemptions per coupon, the mail outbox.
#[utoipa::path(get, path = "/stats", tag = "admin",
    responses((status = 200, body = Stats)), security(("bearer" = [])))]
pub async fn global(State(state): State<AppState>) -> Result<Json<Stats>> {
    Ok(Json(stats::global(&state).await?))
}

/// A profile's statistics.
#[utoipa::path(get, path = "/users/{id}/stats", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserStatsView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn user(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<UserStatsView>> {
    Ok(Json(stats::user(&state, id).await?))
}
