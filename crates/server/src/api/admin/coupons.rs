//! Admin coupons: create (one or a batch), list, change, redemptions, CSV export.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Query, Result};
use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::admin::coupons;
use crate::service::admin::coupons::{
    Batch, BatchBody, CouponPatchBody, CouponView, NewCouponBody, PageParams, RedemptionView,
};
use crate::service::paging::page_args;
use serde::Deserialize;
use utoipa::IntoParams;

/// Coupons, optionally of one campaign.
#[utoipa::path(get, path = "/coupons", tag = "admin", params(CouponListParams),
    responses((status = 200, body = Page<CouponView>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<CouponListParams>,
) -> Result<Json<Page<CouponView>>> {
    let (limit, after) = page_args(params.limit, params.cursor.as_deref())?;
    let campaign = params.campaign.as_deref();
    let (items, next_cursor) = coupons::list(&state, campaign, limit, after).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Create a coupon.
#[utoipa::path(post, path = "/coupons", tag = "admin", request_body = NewCouponBody,
    responses((status = 201, body = CouponView), (status = 409, description = "code_taken", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<NewCouponBody>,
) -> Result<(StatusCode, Json<CouponView>)> {
    let coupon = coupons::create(&state, &admin.profile, ip, body).await?;
    Ok((StatusCode::CREATED, Json(coupon)))
}

/// Create many single-use coupons with generated codes, all or none.
#[utoipa::path(post, path = "/coupons/batch", tag = "admin", request_body = BatchBody,
    responses((status = 201, body = Batch), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn batch(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<BatchBody>,
) -> Result<(StatusCode, Json<Batch>)> {
    let batch = coupons::batch(&state, &admin.profile, ip, body).await?;
    Ok((StatusCode::CREATED, Json(batch)))
}

/// A campaign's coupons as CSV (code, tier, duration, validity, redemptions).
#[utoipa::path(get, path = "/coupons/export.csv", tag = "admin", params(ExportParams),
    responses((status = 200, description = "text/csv", content_type = "text/csv")),
    security(("bearer" = [])))]
pub async fn export_csv(
    State(state): State<AppState>,
    Query(params): Query<ExportParams>,
) -> Result<Response> {
    let (name, csv) = coupons::export_csv(&state, &params.campaign).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        csv,
    )
        .into_response())
}

/// One coupon.
#[utoipa::path(get, path = "/coupons/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = CouponView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<CouponView>> {
    Ok(Json(coupons::get(&state, id).await?))
}

/// Change a coupon's activity, window, cap, campaign or note.
#[utoipa::path(patch, path = "/coupons/{id}", tag = "admin", params(("id" = Uuid, Path)),
    request_body = CouponPatchBody,
    responses((status = 200, body = CouponView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
    Json(body): Json<CouponPatchBody>,
) -> Result<Json<CouponView>> {
    let coupon = coupons::update(&state, &admin.profile, ip, id, body).await?;
    Ok(Json(coupon))
}

/// Who redeemed a coupon, when, and which grant it gave.
#[utoipa::path(get, path = "/coupons/{id}/redemptions", tag = "admin",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<RedemptionView>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn redemptions(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<RedemptionView>>> {
    let (items, next_cursor) = coupons::redemptions(&state, id, &params).await?;
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CouponListParams {
    pub campaign: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    pub campaign: String,
}
