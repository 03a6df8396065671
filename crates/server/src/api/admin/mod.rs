//! `/api/admin`: its own router, guarded as a whole, so no handler can forget the check.

use axum::middleware;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::AdminUser;
use crate::service::AppState;

mod activity_log;
mod billing;
mod coupons;
mod features;
mod grants;
mod limits;
mod mail;
mod notifications;
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
        .routes(routes!(users::get, users::patch, users::delete))
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
        .routes(routes!(activity_log::list))
        .routes(routes!(stats::global))
        .routes(routes!(stats::user))
        .routes(routes!(mail::list))
        .routes(routes!(mail::resend))
        .routes(routes!(billing::prices, billing::create_price))
        .routes(routes!(billing::update_price))
        .routes(routes!(billing::subscriptions))
        .routes(routes!(billing::events))
        .routes(routes!(billing::retry))
        .routes(routes!(billing::sync))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::read))
        .routes(routes!(notifications::read_all))
        .routes(routes!(
            notifications::preferences,
            notifications::set_preferences
        ))
        .routes(routes!(
            notifications::webhooks,
            notifications::create_webhook
        ))
        .routes(routes!(notifications::delete_webhook))
        .routes(routes!(notifications::test_webhook))
        .route_layer(middleware::from_extractor_with_state::<AdminUser, _>(
            state.clone(),
        ))
}
