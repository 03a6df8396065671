//! Payments as admins run them: prices, subscriptions, webhook events, a person's sync.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Query, Result};
use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::billing::{
    self, AdminSubscriptionView, BillingView, EventView, NewPrice, PriceView,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T: ToSchema> {
    pub items: Vec<T>,
}

/// Every price, on sale or not.
#[utoipa::path(get, path = "/billing/prices", tag = "admin",
    responses((status = 200, body = Items<PriceView>)),
    security(("bearer" = [])))]
pub async fn prices(State(state): State<AppState>) -> Result<Json<Items<PriceView>>> {
    Ok(Json(Items {
        items: billing::all_prices(&state).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPriceBody {
    /// Stripe's price id (`price_…`); Mitai reads its amount, currency and interval.
    pub stripe_price_id: String,
    /// The tier it sells.
    pub tier: String,
    /// For a one-time price: the days of access a pass gives.
    pub days: Option<i64>,
}

/// Sell a Stripe price.
#[utoipa::path(post, path = "/billing/prices", tag = "admin", request_body = NewPriceBody,
    responses((status = 201, body = PriceView),
              (status = 422, description = "invalid_input (Stripe does not know the price, no tier, no days)", body = ErrorBody),
              (status = 502, description = "billing_failed", body = ErrorBody),
              (status = 503, description = "billing_unavailable", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_price(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<NewPriceBody>,
) -> Result<(axum::http::StatusCode, Json<PriceView>)> {
    let price = billing::create_price(
        &state,
        &admin.profile,
        ip,
        &NewPrice {
            stripe_price_id: body.stripe_price_id,
            tier: body.tier,
            days: body.days,
        },
    )
    .await?;
    Ok((axum::http::StatusCode::CREATED, Json(price)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PricePatchBody {
    pub active: Option<bool>,
    pub label: Option<String>,
    pub sort_order: Option<i64>,
}

/// Switch a price on or off, rename or reorder it.
#[utoipa::path(patch, path = "/billing/prices/{id}", tag = "admin", params(("id" = Uuid, Path)),
    request_body = PricePatchBody,
    responses((status = 200, body = PriceView),
              (status = 404, body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_price(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
    Json(body): Json<PricePatchBody>,
) -> Result<Json<PriceView>> {
    let patch = billing::PricePatch {
        active: body.active,
        label: body.label,
        sort_order: body.sort_order,
    };
    Ok(Json(
        billing::update_price(&state, &admin.profile, ip, id, &patch).await?,
    ))
}

/// Subscriptions running, or ended in the last 30 days, newest first.
#[utoipa::path(get, path = "/billing/subscriptions", tag = "admin",
    responses((status = 200, body = Items<AdminSubscriptionView>)),
    security(("bearer" = [])))]
pub async fn subscriptions(
    State(state): State<AppState>,
) -> Result<Json<Items<AdminSubscriptionView>>> {
    Ok(Json(Items {
        items: billing::admin_subscriptions(&state).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventParams {
    /// `pending`, `processed`, `ignored` or `failed`.
    pub status: Option<String>,
}

/// Stripe's webhook events, newest first (the latest 200).
#[utoipa::path(get, path = "/billing/events", tag = "admin", params(EventParams),
    responses((status = 200, body = Items<EventView>),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Query(params): Query<EventParams>,
) -> Result<Json<Items<EventView>>> {
    Ok(Json(Items {
        items: billing::events(&state, params.status.as_deref()).await?,
    }))
}

/// Apply an event again now (a failed one, with its attempts counted afresh).
#[utoipa::path(post, path = "/billing/events/{id}/retry", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = EventView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EventView>> {
    Ok(Json(billing::retry_event(&state, &id).await?))
}

/// Re-read a person's subscriptions from Stripe and repair what missed events left wrong.
#[utoipa::path(post, path = "/users/{id}/billing/sync", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = BillingView),
              (status = 404, body = ErrorBody),
              (status = 502, description = "billing_failed", body = ErrorBody),
              (status = 503, description = "billing_unavailable", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<BillingView>> {
    Ok(Json(billing::sync_profile(&state, id).await?))
}
