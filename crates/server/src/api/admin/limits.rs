//! The tier × feature matrix.

use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use axum::extract::State;
use axum::http::StatusCode;

use crate::api::error::ErrorBody;
use crate::api::error::{Error, Json, Path, Result};
use crate::service::AppState;
use crate::service::admin::limits;
use crate::service::admin::limits::{Cell, Matrix};
use crate::service::patch::double_option;
use serde::Deserialize;
use utoipa::ToSchema;

/// The whole matrix.
#[utoipa::path(get, path = "/tier-limits", tag = "admin",
    responses((status = 200, body = Matrix)), security(("bearer" = [])))]
pub async fn matrix(State(state): State<AppState>) -> Json<Matrix> {
    Json(limits::matrix(&state))
}

/// Set one cell.
#[utoipa::path(put, path = "/tier-limits/{tier}/{feature}", tag = "admin",
    params(("tier" = String, Path), ("feature" = String, Path)), request_body = LimitBody,
    responses((status = 200, body = Cell), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path((tier, feature)): Path<(String, String)>,
    Json(body): Json<LimitBody>,
) -> Result<Json<Cell>> {
    // An absent `limit` (unlike `null`) is refused, but an unknown cell answers 404 first.
    let Some(limit) = body.limit else {
        limits::check_cell(&state, &tier, &feature)?;
        return Err(Error::field("limit", "is required (null for unlimited)"));
    };
    let cell = limits::set(&state, &admin.profile, ip, &tier, &feature, limit).await?;
    Ok(Json(cell))
}

/// Remove one cell: the feature's default limit applies to the tier again.
#[utoipa::path(delete, path = "/tier-limits/{tier}/{feature}", tag = "admin",
    params(("tier" = String, Path), ("feature" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path((tier, feature)): Path<(String, String)>,
) -> Result<StatusCode> {
    limits::reset(&state, &admin.profile, ip, &tier, &feature).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitBody {
    /// `null` = unlimited, 0 = disabled, N = uses per reset period. Required.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub limit: Option<Option<i64>>,
}
