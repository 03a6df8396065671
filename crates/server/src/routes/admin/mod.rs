//! `/api/admin`: its own router, guarded as a whole, so no handler can forget the check.

use axum::middleware;
use chrono::{DateTime, Datelike, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

mod activity;
mod coupons;
mod features;
mod grants;
mod limits;
mod mail;
mod settings;
mod stats;
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
        .routes(routes!(coupons::list, coupons::create))
        .routes(routes!(coupons::batch))
        .routes(routes!(coupons::export_csv))
        .routes(routes!(coupons::get, coupons::patch))
        .routes(routes!(coupons::redemptions))
        .routes(routes!(grants::list, grants::create))
        .routes(routes!(grants::pause))
        .routes(routes!(grants::resume))
        .routes(routes!(grants::revoke))
        .routes(routes!(activity::list))
        .routes(routes!(stats::global))
        .routes(routes!(stats::user))
        .routes(routes!(mail::list))
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

/// Checks a free-text field's length; NUL characters are refused (PostgreSQL cannot
/// store them).
pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        Err(ApiError::field(
            field,
            format!("must be at most {max} characters"),
        ))
    } else if value.contains('\0') {
        Err(ApiError::field(field, "must not contain NUL characters"))
    } else {
        Ok(())
    }
}

/// Checks an instant given by an admin: years 1970 to 9999, which both backends store
/// and read back (SQLite keeps fixed-width RFC 3339 text; PostgreSQL has no year < -4713).
pub(crate) fn check_instant(field: &str, instant: DateTime<Utc>) -> Result<(), ApiError> {
    if (1970..=9999).contains(&instant.year()) {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            "must be between 1970-01-01 and 9999-12-31",
        ))
    }
}
