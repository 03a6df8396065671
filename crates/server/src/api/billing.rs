//! Payments (shared/API.md "Payments"): the public price list, buying, the customer portal,
//! my billing, and Stripe's webhook.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::error::ErrorBody;
use crate::api::error::{Json, Result};
use crate::http::auth::CurrentUser;
use crate::service::AppState;
use crate::service::billing::{self, BillingView, PriceView};

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceList {
    pub items: Vec<PriceView>,
}

/// The prices on sale (none while payments are off).
#[utoipa::path(get, path = "/billing/prices", tag = "billing",
    responses((status = 200, body = PriceList)))]
pub async fn prices(State(state): State<AppState>) -> Result<Json<PriceList>> {
    Ok(Json(PriceList {
        items: billing::public_prices(&state).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    /// Mitai's id of the price.
    pub price_id: Uuid,
}

/// Where the browser goes next: Stripe's Checkout page or its customer portal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redirect {
    pub url: String,
}

/// Buy a price: a Checkout Session at Stripe. Access follows from Stripe's events, not
/// from coming back.
#[utoipa::path(post, path = "/me/billing/checkout", tag = "billing", request_body = CheckoutBody,
    responses((status = 200, body = Redirect),
              (status = 403, description = "email_not_verified", body = ErrorBody),
              (status = 404, description = "no such active price", body = ErrorBody),
              (status = 409, description = "subscription_active", body = ErrorBody),
              (status = 502, description = "billing_failed", body = ErrorBody),
              (status = 503, description = "billing_unavailable", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn checkout(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<CheckoutBody>,
) -> Result<Json<Redirect>> {
    let url = billing::checkout(&state, &user.profile, body.price_id).await?;
    Ok(Json(Redirect { url }))
}

/// Manage billing: a session of Stripe's customer portal (card, invoices, cancel, change).
#[utoipa::path(post, path = "/me/billing/portal", tag = "billing",
    responses((status = 200, body = Redirect),
              (status = 409, description = "no_billing_account", body = ErrorBody),
              (status = 502, description = "billing_failed", body = ErrorBody),
              (status = 503, description = "billing_unavailable", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn portal(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Redirect>> {
    let url = billing::portal(&state, &user.profile).await?;
    Ok(Json(Redirect { url }))
}

/// My subscription and payments.
#[utoipa::path(get, path = "/me/billing", tag = "billing",
    responses((status = 200, body = BillingView)),
    security(("bearer" = [])))]
pub async fn mine(State(state): State<AppState>, user: CurrentUser) -> Result<Json<BillingView>> {
    Ok(Json(billing::billing_of(&state, user.profile.id).await?))
}

/// `{"received": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    pub received: bool,
}

/// Stripe's webhook: the raw event with its `Stripe-Signature`. Recorded once by its id
/// (repeats answer 200 too) and applied right after.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "billing",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, body = Received),
              (status = 400, description = "invalid_signature", body = ErrorBody),
              (status = 404, description = "payments are off", body = ErrorBody)))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    billing::receive_webhook(&state, signature, &body).await?;
    Ok(Json(Received { received: true }))
}
