//! `/api/admin`: its own router, guarded as a whole, so no handler can forget the check.

use axum::middleware;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

mod features;
mod limits;
mod settings;
mod tiers;
mod users;

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(features::list, features::create))
        .routes(routes!(features::get, features::patch))
        .routes(routes!(tiers::list, tiers::create))
        .routes(routes!(tiers::get, tiers::patch))
        .routes(routes!(limits::matrix))
        .routes(routes!(limits::put, limits::delete))
        .routes(routes!(users::list))
        .routes(routes!(users::get, users::patch))
        .routes(routes!(users::access))
        .routes(routes!(users::put_restriction, users::delete_restriction))
        .routes(routes!(settings::list))
        .routes(routes!(settings::put))
        .route_layer(middleware::from_extractor_with_state::<AdminUser, _>(
            state.clone(),
        ))
}

/// Ids of features and tiers: a lowercase slug.
pub(crate) fn check_slug(field: &str, id: &str) -> Result<(), ApiError> {
    let mut chars = id.chars();
    let ok = id.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            "must be a slug: a lowercase letter, then lowercase letters, digits or _ (at most 64)",
        ))
    }
}

/// A limit as given by an admin: `null` (unlimited), 0 (disabled) or a positive count.
pub(crate) fn check_limit(field: &str, limit: Option<i64>) -> Result<Option<i64>, ApiError> {
    match limit {
        Some(n) if !(0..=1_000_000_000_000).contains(&n) => Err(ApiError::field(
            field,
            "must be null or an integer from 0 to 10^12",
        )),
        other => Ok(other),
    }
}

/// Checks a free-text field's length.
pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        Err(ApiError::field(
            field,
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(())
    }
}
