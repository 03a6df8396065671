//! Redeeming coupons and seeing one's grants.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::error::ErrorBody;
use crate::api::error::{Json, Result};
use crate::http::auth::CurrentUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::grants::GrantView;
use crate::service::{coupons, grants};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    /// Case-insensitive; spaces and dashes are ignored.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redeemed {
    pub grant: GrantView,
    pub effective_tier: String,
}

/// Redeem a coupon code.
#[utoipa::path(post, path = "/coupons/redeem", tag = "coupons", request_body = RedeemBody,
    responses((status = 200, body = Redeemed),
              (status = 404, description = "invalid_coupon (unknown or inactive)", body = ErrorBody),
              (status = 409, description = "coupon_already_redeemed", body = ErrorBody),
              (status = 410, description = "coupon_expired or coupon_exhausted", body = ErrorBody),
              (status = 403, description = "email_not_verified", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn redeem(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<RedeemBody>,
) -> Result<Json<Redeemed>> {
    let (grant, effective_tier) =
        coupons::redeem(&state, &user.profile, &body.code, ip.as_deref()).await?;
    Ok(Json(Redeemed {
        grant,
        effective_tier,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    pub items: Vec<GrantView>,
}

/// My access grants, newest first, with their status now.
#[utoipa::path(get, path = "/me/grants", tag = "coupons",
    responses((status = 200, body = GrantList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn my_grants(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<GrantList>> {
    Ok(Json(GrantList {
        items: grants::grant_views(&state, &user.profile).await?,
    }))
}
