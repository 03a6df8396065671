//! Tiers.

use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use axum::extract::State;
use axum::http::StatusCode;

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Result};
use crate::service::AppState;
use crate::service::admin::tiers;
use crate::service::admin::tiers::TierView;
use crate::service::admin::tiers::{NewTierBody, TierPatch};

/// All tiers, in display order.
#[utoipa::path(get, path = "/tiers", tag = "admin",
    responses((status = 200, body = Page<TierView>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Json<Page<TierView>> {
    Json(Page {
        items: tiers::list(&state),
        next_cursor: None,
    })
}

/// Add a tier. Its matrix cells start empty (features fall back to their defaults).
#[utoipa::path(post, path = "/tiers", tag = "admin", request_body = NewTierBody,
    responses((status = 201, body = TierView), (status = 409, description = "id_taken", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<NewTierBody>,
) -> Result<(StatusCode, Json<TierView>)> {
    let tier = tiers::create(&state, &admin.profile, ip, body).await?;
    Ok((StatusCode::CREATED, Json(tier)))
}

/// One tier.
#[utoipa::path(get, path = "/tiers/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = TierView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<TierView>> {
    Ok(Json(tiers::get(&state, &id)?))
}

/// Change a tier; absent fields stay as they are.
#[utoipa::path(patch, path = "/tiers/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = TierPatch,
    responses((status = 200, body = TierView), (status = 404, body = ErrorBody),
              (status = 409, description = "tier_in_use: the default or trial tier cannot be deactivated", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Json(body): Json<TierPatch>,
) -> Result<Json<TierView>> {
    Ok(Json(
        tiers::update(&state, &admin.profile, ip, &id, body).await?,
    ))
}
