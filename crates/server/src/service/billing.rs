//! Payments through Stripe (DESIGN §13): prices, checkout, the customer portal, a person's
//! billing, the webhook and what each of its events does, the reconciliation with Stripe.
//!
//! Access comes only from verified webhook events (or from Stripe itself, when an admin or
//! the daily job reconciles): coming back from Checkout grants nothing. A webhook is
//! answered as soon as its event is recorded; the event is applied right after, and again by
//! the job if that failed.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use mitai_store::billing::{
    BillingEvent, ChargeApplied, ChargeChange, EventStatus, InvoiceState, PassPaid, Price,
    PriceKind, Subscription, SubscriptionState,
};
pub use mitai_store::billing::{PricePatch, monthly_amount};
use mitai_store::{NewMail, Profile, StoreError};

use super::{AppState, Error, ErrorCode, Result};
use crate::stripe::{Stripe, StripeError};

/// How often a failing event is tried before it waits for an admin.
pub const MAX_ATTEMPTS: i64 = 8;

/// Statuses in which a subscription runs (a new one may not be bought meanwhile).
const RUNNING: &[&str] = &[
    "active",
    "trialing",
    "past_due",
    "unpaid",
    "incomplete",
    "paused",
];

/// Whether payments are on (both Stripe keys configured).
pub fn enabled(state: &AppState) -> bool {
    state.stripe.is_some()
}

fn stripe(state: &AppState) -> Result<&Stripe> {
    state.stripe.as_ref().ok_or_else(|| {
        Error::refused(
            ErrorCode::BillingUnavailable,
            "payments are not configured on this server",
        )
    })
}

fn failed(e: StripeError) -> Error {
    tracing::warn!(error = %e, "a Stripe call failed");
    Error::refused(
        ErrorCode::BillingFailed,
        "the payment provider did not answer as expected; nothing was changed, try again",
    )
}

fn grace(state: &AppState) -> TimeDelta {
    TimeDelta::days(state.registry().settings.billing_grace_days)
}

/// A price as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceView {
    pub id: Uuid,
    pub stripe_price_id: String,
    pub tier: String,
    /// `subscription` or `one_time`.
    pub kind: String,
    /// Subscriptions: `day`, `week`, `month` or `year`.
    pub interval: Option<String>,
    pub interval_count: Option<i64>,
    /// Passes: days of access.
    pub days: Option<i64>,
    /// In the currency's minor unit (cents).
    pub amount: i64,
    pub currency: String,
    pub label: String,
    pub active: bool,
    pub sort_order: i64,
}

impl From<&Price> for PriceView {
    fn from(p: &Price) -> Self {
        PriceView {
            id: p.id,
            stripe_price_id: p.stripe_price_id.clone(),
            tier: p.tier_id.clone(),
            kind: p.kind.as_str().into(),
            interval: p.interval.clone(),
            interval_count: p.interval_count,
            days: p.days,
            amount: p.amount,
            currency: p.currency.clone(),
            label: p.label.clone(),
            active: p.active,
            sort_order: p.sort_order,
        }
    }
}

/// The active prices, in display order; none while payments are off.
pub async fn public_prices(state: &AppState) -> Result<Vec<PriceView>> {
    if !enabled(state) {
        return Ok(Vec::new());
    }
    Ok(state
        .store
        .prices(true)
        .await?
        .iter()
        .map(PriceView::from)
        .collect())
}

/// Every price, for admins.
pub async fn all_prices(state: &AppState) -> Result<Vec<PriceView>> {
    Ok(state
        .store
        .prices(false)
        .await?
        .iter()
        .map(PriceView::from)
        .collect())
}

/// A Stripe price an admin wants to sell.
#[derive(Debug, Clone)]
pub struct NewPrice {
    pub stripe_price_id: String,
    pub tier: String,
    pub days: Option<i64>,
}

/// Adds a price: read from Stripe (amount, currency, recurring or one-time); a one-time
/// price needs `days`. 422 when Stripe does not know it, 502 when Stripe fails.
pub async fn create_price(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    new: &NewPrice,
) -> Result<PriceView> {
    let stripe = stripe(state)?;
    let id = new.stripe_price_id.trim();
    if !crate::stripe::is_id(id) {
        return Err(Error::field(
            "stripe_price_id",
            "must be a Stripe price id such as price_1Nabc…",
        ));
    }
    let registry = state.registry();
    let Some(tier) = registry.tier_by_id(new.tier.trim()).filter(|t| t.active) else {
        return Err(Error::field("tier", "must be the id of an active tier"));
    };
    if let Some(days) = new.days
        && !(1..=3650).contains(&days)
    {
        return Err(Error::field("days", "must be from 1 to 3650"));
    }
    let object = match stripe.price(id).await {
        Ok(object) => object,
        Err(StripeError::NotFound(_)) => {
            return Err(Error::field(
                "stripe_price_id",
                "Stripe does not know this price",
            ));
        }
        Err(e) => return Err(failed(e)),
    };
    let Some(amount) = object["unit_amount"].as_i64() else {
        return Err(Error::field(
            "stripe_price_id",
            "this price has no fixed amount (tiered or customer-chosen prices are not sold)",
        ));
    };
    let currency = object["currency"].as_str().unwrap_or("eur").to_owned();
    let recurring = object["recurring"].is_object();
    let (kind, interval, interval_count, days) = if recurring {
        let interval = object["recurring"]["interval"]
            .as_str()
            .unwrap_or("month")
            .to_owned();
        let count = object["recurring"]["interval_count"].as_i64().unwrap_or(1);
        (PriceKind::Subscription, Some(interval), Some(count), None)
    } else {
        let Some(days) = new.days else {
            return Err(Error::field(
                "days",
                "a one-time price sells a pass: say how many days it gives",
            ));
        };
        (PriceKind::OneTime, None, None, Some(days))
    };
    let label = object["nickname"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(100).collect())
        .unwrap_or_else(|| tier.name.clone());
    let price = Price {
        id: Uuid::now_v7(),
        stripe_price_id: id.to_owned(),
        tier_id: tier.id.clone(),
        kind,
        interval,
        interval_count,
        days,
        amount,
        currency,
        label,
        active: object["active"].as_bool().unwrap_or(true),
        sort_order: 0,
        created_at: state.now(),
    };
    match state.store.create_price(&price).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(Error::field(
                "stripe_price_id",
                "this price is sold already",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let view = PriceView::from(&price);
    super::activity_log::audit(
        state,
        admin,
        ip,
        None,
        mitai_store::actions::PRICE_CREATED,
        json!({"price": price.id, "stripe_price_id": id}),
        Value::Null,
        serde_json::to_value(&view).unwrap_or_default(),
    )
    .await;
    Ok(view)
}

/// Switches a price on or off, renames or reorders it.
pub async fn update_price(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: Uuid,
    patch: &PricePatch,
) -> Result<PriceView> {
    if let Some(label) = &patch.label
        && (label.trim().is_empty() || label.chars().count() > 100)
    {
        return Err(Error::field("label", "must be 1 to 100 characters"));
    }
    if let Some(order) = patch.sort_order
        && !(-10_000..=10_000).contains(&order)
    {
        return Err(Error::field("sort_order", "must be from -10000 to 10000"));
    }
    let before = state.store.price(id).await?.ok_or(Error::NotFound)?;
    let patch = PricePatch {
        label: patch.label.as_ref().map(|l| l.trim().to_owned()),
        ..patch.clone()
    };
    let after = state
        .store
        .update_price(id, &patch)
        .await?
        .ok_or(Error::NotFound)?;
    let (before, after) = (PriceView::from(&before), PriceView::from(&after));
    super::activity_log::audit(
        state,
        admin,
        ip,
        None,
        mitai_store::actions::PRICE_UPDATED,
        json!({"price": id}),
        serde_json::to_value(&before).unwrap_or_default(),
        serde_json::to_value(&after).unwrap_or_default(),
    )
    .await;
    Ok(after)
}

/// The profile's Stripe customer, made (once) when it has none.
async fn customer(state: &AppState, stripe: &Stripe, profile: &Profile) -> Result<String> {
    if let Some(customer) = state.store.billing_customer(profile.id).await? {
        return Ok(customer);
    }
    let made = stripe
        .create_customer(profile.id, &profile.email, &profile.name)
        .await
        .map_err(failed)?;
    Ok(state
        .store
        .put_billing_customer(profile.id, &made, state.now())
        .await?)
}

/// Starts buying `price_id`: answers the URL of Stripe's Checkout page. Nothing is granted
/// here — only the webhook's events grant.
pub async fn checkout(state: &AppState, profile: &Profile, price_id: Uuid) -> Result<String> {
    let stripe = stripe(state)?;
    super::accounts::require_verified(state, profile)?;
    let price = state
        .store
        .price(price_id)
        .await?
        .filter(|p| p.active)
        .ok_or(Error::NotFound)?;
    if price.kind == PriceKind::Subscription
        && running_subscription(state, profile.id).await?.is_some()
    {
        return Err(Error::refused(
            ErrorCode::SubscriptionActive,
            "a subscription runs already; change it under Manage billing",
        ));
    }
    let customer = customer(state, stripe, profile).await?;
    let base = &state.config.base_url;
    let success = format!("{base}/plan?checkout=success");
    let cancel = format!("{base}/plan?checkout=cancel");
    stripe
        .checkout_session(
            &crate::stripe::Checkout {
                profile_id: profile.id,
                price_id: price.id,
                stripe_price_id: &price.stripe_price_id,
                customer: &customer,
                subscription: price.kind == PriceKind::Subscription,
                success_url: &success,
                cancel_url: &cancel,
            },
            &format!("checkout-{}", Uuid::now_v7()),
        )
        .await
        .map_err(failed)
}

/// The customer portal (card, invoices, cancel, change plan): its URL, valid for minutes.
pub async fn portal(state: &AppState, profile: &Profile) -> Result<String> {
    let stripe = stripe(state)?;
    let Some(customer) = state.store.billing_customer(profile.id).await? else {
        return Err(Error::refused(
            ErrorCode::NoBillingAccount,
            "nothing was bought with this account yet",
        ));
    };
    let back = format!("{}/plan", state.config.base_url);
    stripe
        .portal_session(&customer, &back, &format!("portal-{}", Uuid::now_v7()))
        .await
        .map_err(failed)
}

async fn running_subscription(state: &AppState, profile_id: Uuid) -> Result<Option<Subscription>> {
    Ok(state
        .store
        .subscriptions_of(profile_id)
        .await?
        .into_iter()
        .find(|s| s.ended_at.is_none() && RUNNING.contains(&s.status.as_str())))
}

/// A subscription as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// Stripe's status: `active`, `trialing`, `past_due`, `unpaid`, `canceled`, …
    pub status: String,
    pub tier: Option<String>,
    /// Mitai's price id.
    pub price_id: Option<Uuid>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// Until when it gives access: the latest paid period's end plus the grace days, or
    /// its end.
    pub access_until: Option<DateTime<Utc>>,
}

/// A payment as its payer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    /// `paid`, `failed`, `refunded`, `disputed` or `dispute_lost`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// A person's billing: the subscription (the running one, else the latest) and payments.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BillingView {
    pub subscription: Option<SubscriptionView>,
    pub payments: Vec<PaymentView>,
}

pub async fn billing_of(state: &AppState, profile_id: Uuid) -> Result<BillingView> {
    let subscriptions = state.store.subscriptions_of(profile_id).await?;
    let shown = subscriptions
        .iter()
        .find(|s| s.ended_at.is_none() && RUNNING.contains(&s.status.as_str()))
        .or_else(|| subscriptions.first());
    let prices = state.store.prices(false).await?;
    let grace = grace(state);
    let subscription = shown.map(|s| SubscriptionView {
        status: s.status.clone(),
        tier: s.tier_id.clone(),
        price_id: prices
            .iter()
            .find(|p| Some(&p.stripe_price_id) == s.stripe_price_id.as_ref())
            .map(|p| p.id),
        current_period_end: s.current_period_end,
        cancel_at_period_end: s.cancel_at_period_end,
        access_until: s.paid_until.map(|paid| {
            let until = paid + grace;
            s.ended_at.map_or(until, |ended| until.min(ended))
        }),
    });
    let payments = state
        .store
        .payments_of(profile_id, 50)
        .await?
        .into_iter()
        .map(|p| PaymentView {
            id: p.id,
            amount: p.amount,
            currency: p.currency,
            status: p.status.as_str().into(),
            created_at: p.created_at,
        })
        .collect();
    Ok(BillingView {
        subscription,
        payments,
    })
}

// --- the webhook --------------------------------------------------------------------------

/// Receives one webhook: verifies its signature (400 `invalid_signature`), records the
/// event once by its id (a repeat changes nothing) and applies it right after, without
/// making Stripe wait. 404 while payments are off.
pub async fn receive_webhook(state: &AppState, signature: Option<&str>, body: &[u8]) -> Result<()> {
    let Some(config) = state.config.stripe.as_ref() else {
        return Err(Error::NotFound);
    };
    let refused = |why: &dyn std::fmt::Display| {
        tracing::warn!(%why, "a Stripe webhook was refused");
        Error::refused(
            ErrorCode::InvalidSignature,
            "the Stripe-Signature does not verify",
        )
    };
    crate::stripe::verify_signature(
        signature.unwrap_or(""),
        body,
        &config.webhook_secret,
        state.now(),
    )
    .map_err(|e| refused(&e))?;
    let payload: Value = serde_json::from_slice(body)
        .map_err(|_| Error::refused(ErrorCode::BadRequest, "the event is not JSON"))?;
    let (Some(id), Some(kind), Some(created)) = (
        payload["id"].as_str().filter(|id| crate::stripe::is_id(id)),
        payload["type"]
            .as_str()
            .filter(|t| !t.is_empty() && t.len() <= 100),
        payload["created"]
            .as_i64()
            .and_then(|t| DateTime::from_timestamp(t, 0)),
    ) else {
        return Err(Error::refused(
            ErrorCode::BadRequest,
            "the event has no id, type or created",
        ));
    };
    let event = BillingEvent {
        id: id.to_owned(),
        kind: kind.to_owned(),
        payload: payload.clone(),
        status: EventStatus::Pending,
        error: None,
        attempts: 0,
        created_at: created,
        received_at: state.now(),
        processed_at: None,
    };
    if state.store.record_billing_event(&event).await? {
        let state = state.clone();
        tokio::spawn(async move { process(&state, event).await });
    }
    Ok(())
}

/// How long an instance may take to apply an event before another may take it over.
const CLAIM_FOR: TimeDelta = TimeDelta::minutes(5);

/// Applies a recorded event (unless another instance is applying it) and records how that
/// went.
pub async fn process(state: &AppState, event: BillingEvent) -> EventStatus {
    let now = state.now();
    let event = match state
        .store
        .claim_billing_event(&event.id, now, now - CLAIM_FOR)
        .await
    {
        Ok(Some(event)) => event,
        Ok(None) => return EventStatus::Processing,
        Err(e) => {
            tracing::warn!(event = %event.id, error = %e, "a Stripe event could not be taken");
            return EventStatus::Failed;
        }
    };
    let (status, error) = match apply(state, &event).await {
        Ok(status) => (status, None),
        Err(why) => {
            tracing::warn!(event = %event.id, kind = %event.kind, error = %why, "a Stripe event failed");
            super::notifications::raise_now(
                state,
                "webhook_failed",
                event.kind.clone(),
                json!({"type": event.kind, "event": event.id, "error": why}),
                "/admin/billing?status=failed#events".into(),
            )
            .await;
            (EventStatus::Failed, Some(why))
        }
    };
    if let Err(e) = state
        .store
        .finish_billing_event(&event.id, status, error.as_deref(), state.now())
        .await
    {
        tracing::error!(event = %event.id, error = %e, "a Stripe event's outcome was not recorded");
    }
    status
}

/// Applies the events that are due (new ones the webhook did not finish, failed ones not
/// yet given up): the job. Answers (applied, failed).
pub async fn process_due(state: &AppState) -> mitai_store::Result<(u64, u64)> {
    let mut done = (0, 0);
    let stale = state.now() - CLAIM_FOR;
    for event in state
        .store
        .billing_events_due(MAX_ATTEMPTS, stale, 200)
        .await?
    {
        match process(state, event).await {
            EventStatus::Failed => done.1 += 1,
            EventStatus::Processing => {}
            _ => done.0 += 1,
        }
    }
    Ok(done)
}

/// An admin's retry of an event: due again at once, and applied now.
pub async fn retry_event(state: &AppState, id: &str) -> Result<EventView> {
    if !state.store.retry_billing_event(id).await? {
        return Err(Error::NotFound);
    }
    let event = state
        .store
        .billing_event(id)
        .await?
        .ok_or(Error::NotFound)?;
    if event.status == EventStatus::Pending {
        process(state, event).await;
    }
    let event = state
        .store
        .billing_event(id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(EventView::from(&event))
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(|t| DateTime::from_timestamp(t, 0))
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// The profile an object is about: its metadata, else its customer's.
async fn profile_of(state: &AppState, object: &Value) -> std::result::Result<Option<Uuid>, String> {
    let from_metadata = [
        &object["metadata"]["profile_id"],
        &object["parent"]["subscription_details"]["metadata"]["profile_id"],
        &object["client_reference_id"],
    ]
    .into_iter()
    .find_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()));
    if from_metadata.is_some() {
        return Ok(from_metadata);
    }
    match text(&object["customer"]) {
        Some(customer) => state
            .store
            .customer_profile(customer)
            .await
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// What an event does. `Err` says why it could not be applied (it is tried again).
async fn apply(state: &AppState, event: &BillingEvent) -> std::result::Result<EventStatus, String> {
    let object = &event.payload["data"]["object"];
    let now = state.now();
    let store_error = |e: StoreError| e.to_string();
    match event.kind.as_str() {
        "invoice.paid" | "invoice.payment_succeeded" => {
            let Some(invoice) = invoice_state(state, object).await? else {
                return Ok(EventStatus::Ignored);
            };
            let mail = payment_mail(state, &invoice, "payment_received", now).await;
            let first = state
                .store
                .subscription(&invoice.subscription_id)
                .await
                .map_err(store_error)?
                .is_none_or(|s| s.paid_from.is_none());
            let newly = state
                .store
                .apply_invoice_paid(&invoice, grace(state), mail.as_ref(), now)
                .await
                .map_err(store_error)?;
            tracing::info!(invoice = %invoice.id, newly, "a paid invoice");
            if newly && first {
                notify(
                    state,
                    "subscription_started",
                    &invoice.subscription_id,
                    invoice.profile_id,
                    json!({
                        "price": price_label(state, invoice.stripe_price_id.as_deref()).await,
                        "period_end": invoice.period_end.date_naive().to_string(),
                    }),
                )
                .await;
            }
            Ok(EventStatus::Processed)
        }
        "invoice.payment_failed" => {
            let Some(invoice) = invoice_state(state, object).await? else {
                return Ok(EventStatus::Ignored);
            };
            let mail = payment_mail(state, &invoice, "payment_failed", now).await;
            let new = state
                .store
                .apply_invoice_failed(&invoice, mail.as_ref(), now)
                .await
                .map_err(store_error)?;
            if new {
                notify(
                    state,
                    "payment_failed",
                    &invoice.subscription_id,
                    invoice.profile_id,
                    json!({
                        "amount": money(invoice.amount, &invoice.currency),
                    }),
                )
                .await;
            }
            Ok(EventStatus::Processed)
        }
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let profile = profile_of(state, object).await?;
            if let (Some(profile), Some(customer)) = (profile, text(&object["customer"])) {
                state
                    .store
                    .put_billing_customer(profile, customer, now)
                    .await
                    .map_err(store_error)?;
            }
            // A subscription's access comes with its invoices; a pass comes here, once paid.
            if object["mode"].as_str() != Some("payment")
                || object["payment_status"].as_str() != Some("paid")
            {
                return Ok(EventStatus::Processed);
            }
            let profile = profile.ok_or("a checkout without a profile")?;
            let price_id = object["metadata"]["price_id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or("a checkout without Mitai's price id")?;
            let price = state
                .store
                .price(price_id)
                .await
                .map_err(store_error)?
                .ok_or("a checkout of a price Mitai does not know")?;
            let (PriceKind::OneTime, Some(days)) = (price.kind, price.days) else {
                return Err("a paid checkout of a subscription price in payment mode".into());
            };
            let payment_intent = text(&object["payment_intent"])
                .map(str::to_owned)
                .unwrap_or_else(|| object["id"].as_str().unwrap_or_default().to_owned());
            let pass = PassPaid {
                payment_intent,
                profile_id: profile,
                stripe_price_id: price.stripe_price_id.clone(),
                tier_id: price.tier_id.clone(),
                days,
                amount: object["amount_total"].as_i64().unwrap_or(price.amount),
                currency: text(&object["currency"])
                    .unwrap_or(&price.currency)
                    .to_owned(),
                paid_at: event.created_at,
            };
            let mail = mail_to(state, profile, "payment_received", |tier| {
                json!({"tier": tier, "amount": money(pass.amount, &pass.currency), "days": days})
            }, &pass.tier_id, now)
            .await;
            state
                .store
                .apply_pass_paid(&pass, mail.as_ref(), now)
                .await
                .map_err(store_error)?;
            Ok(EventStatus::Processed)
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => {
            let mut sub = subscription_state(state, object, event.created_at).await?;
            if event.kind == "customer.subscription.deleted" && sub.ended_at.is_none() {
                sub.ended_at = Some(event.created_at);
            }
            let mail = ending_mail(state, &sub, now).await;
            let was_ending = state
                .store
                .subscription(&sub.id)
                .await
                .map_err(store_error)?
                .is_some_and(|s| s.cancel_at_period_end || s.ended_at.is_some());
            let after = state
                .store
                .apply_subscription(&sub, grace(state), mail.as_ref(), now)
                .await
                .map_err(store_error)?;
            if !was_ending && (after.cancel_at_period_end || after.ended_at.is_some()) {
                let ends = after.ended_at.or(after.current_period_end).unwrap_or(now);
                notify(
                    state,
                    "subscription_canceled",
                    &after.id,
                    after.profile_id,
                    json!({
                        "price": price_label(state, after.stripe_price_id.as_deref()).await,
                        "period_end": ends.date_naive().to_string(),
                    }),
                )
                .await;
            }
            Ok(EventStatus::Processed)
        }
        "charge.refunded" => {
            let Some(intent) = text(&object["payment_intent"]) else {
                return Ok(EventStatus::Ignored);
            };
            let full = object["refunded"].as_bool() == Some(true)
                || object["amount_refunded"].as_i64() >= object["amount"].as_i64();
            let change = if full {
                ChargeChange::Refunded
            } else {
                ChargeChange::PartlyRefunded
            };
            charge_change(state, intent, change, now).await
        }
        "charge.dispute.created" | "charge.dispute.closed" => {
            let Some(intent) = text(&object["payment_intent"]) else {
                return Ok(EventStatus::Ignored);
            };
            let change = match (event.kind.as_str(), object["status"].as_str()) {
                ("charge.dispute.created", _) => ChargeChange::DisputeOpened,
                (_, Some("lost")) => ChargeChange::DisputeLost,
                _ => ChargeChange::DisputeWon,
            };
            charge_change(state, intent, change, now).await
        }
        _ => Ok(EventStatus::Ignored),
    }
}

async fn charge_change(
    state: &AppState,
    payment_intent: &str,
    change: ChargeChange,
    now: DateTime<Utc>,
) -> std::result::Result<EventStatus, String> {
    match state
        .store
        .apply_charge_change(payment_intent, change, now)
        .await
        .map_err(|e| e.to_string())?
    {
        // The payment's own event may still come: tried again later.
        ChargeApplied::Unknown => Err(format!("no payment {payment_intent} is known yet")),
        ChargeApplied::Applied(payment, changed) => {
            let event = match change {
                ChargeChange::Refunded => Some("payment_refunded"),
                ChargeChange::DisputeOpened => Some("dispute_opened"),
                _ => None,
            };
            if changed && let Some(event) = event {
                let subject = payment
                    .subscription_id
                    .clone()
                    .unwrap_or_else(|| payment.id.clone());
                notify(
                    state,
                    event,
                    &subject,
                    payment.profile_id,
                    json!({
                        "amount": money(payment.amount, &payment.currency),
                    }),
                )
                .await;
            }
            Ok(EventStatus::Processed)
        }
    }
}

/// An invoice of a subscription from its object (2025-03-31.basil shapes); `None` for an
/// invoice of no subscription.
async fn invoice_state(
    state: &AppState,
    invoice: &Value,
) -> std::result::Result<Option<InvoiceState>, String> {
    let Some(subscription) = text(&invoice["parent"]["subscription_details"]["subscription"])
        .or_else(|| text(&invoice["subscription"]))
    else {
        return Ok(None);
    };
    let id = text(&invoice["id"]).ok_or("an invoice without id")?;
    let line = &invoice["lines"]["data"][0];
    let stripe_price = text(&line["pricing"]["price_details"]["price"])
        .or_else(|| text(&line["price"]["id"]))
        .map(str::to_owned);
    let tier = match &stripe_price {
        Some(p) => state
            .store
            .price_by_stripe_id(p)
            .await
            .map_err(|e| e.to_string())?
            .map(|p| p.tier_id),
        None => None,
    };
    let period_start = instant(&line["period"]["start"])
        .or_else(|| instant(&invoice["period_start"]))
        .ok_or("an invoice without period")?;
    let period_end = instant(&line["period"]["end"])
        .or_else(|| instant(&invoice["period_end"]))
        .ok_or("an invoice without period")?;
    let paid = invoice["amount_paid"].as_i64().filter(|n| *n > 0);
    Ok(Some(InvoiceState {
        id: id.to_owned(),
        subscription_id: subscription.to_owned(),
        profile_id: profile_of(state, invoice).await?,
        stripe_price_id: stripe_price,
        tier_id: tier,
        payment_intent: text(&invoice["payments"]["data"][0]["payment"]["payment_intent"])
            .map(str::to_owned),
        amount: paid.or(invoice["amount_due"].as_i64()).unwrap_or(0),
        currency: text(&invoice["currency"]).unwrap_or("eur").to_owned(),
        period_start,
        period_end: period_end.max(period_start),
        created_at: instant(&invoice["created"]).unwrap_or(period_start),
    }))
}

/// A subscription's state from its object, as of `at`.
async fn subscription_state(
    state: &AppState,
    sub: &Value,
    at: DateTime<Utc>,
) -> std::result::Result<SubscriptionState, String> {
    let id = text(&sub["id"]).ok_or("a subscription without id")?;
    let item = &sub["items"]["data"][0];
    let stripe_price = text(&item["price"]["id"])
        .or_else(|| text(&item["price"]))
        .map(str::to_owned);
    let tier = match &stripe_price {
        Some(p) => state
            .store
            .price_by_stripe_id(p)
            .await
            .map_err(|e| e.to_string())?
            .map(|p| p.tier_id),
        None => None,
    };
    Ok(SubscriptionState {
        id: id.to_owned(),
        profile_id: profile_of(state, sub).await?,
        stripe_price_id: stripe_price,
        tier_id: tier,
        status: text(&sub["status"]).unwrap_or("active").to_owned(),
        current_period_end: instant(&item["current_period_end"])
            .or_else(|| instant(&sub["current_period_end"])),
        cancel_at_period_end: sub["cancel_at_period_end"].as_bool().unwrap_or(false),
        ended_at: instant(&sub["ended_at"]),
        at,
    })
}

/// Raises a payment notification about `subject`, naming the person by e-mail.
async fn notify(
    state: &AppState,
    event: &'static str,
    subject: &str,
    profile: Option<Uuid>,
    mut data: Value,
) {
    let email = match profile {
        Some(id) => state
            .store
            .profile(id)
            .await
            .ok()
            .flatten()
            .map(|p| p.email),
        None => None,
    };
    if let Some(fields) = data.as_object_mut() {
        fields.insert("email".into(), json!(email.unwrap_or_else(|| "–".into())));
    }
    let link = profile.map_or_else(
        || "/admin/billing".to_owned(),
        |p| format!("/admin/users/{p}#billing"),
    );
    super::notifications::raise_now(state, event, subject.to_owned(), data, link).await;
}

/// A price's label and amount, for words; its Stripe id when Mitai does not sell it.
async fn price_label(state: &AppState, stripe_price: Option<&str>) -> String {
    let Some(stripe_price) = stripe_price else {
        return "–".into();
    };
    match state.store.price_by_stripe_id(stripe_price).await {
        Ok(Some(p)) => format!("{} ({})", p.label, money(p.amount, &p.currency)),
        _ => stripe_price.to_owned(),
    }
}

/// `9.99 EUR`.
fn money(amount: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        amount / 100,
        (amount % 100).abs(),
        currency.to_uppercase()
    )
}

/// A mail to a profile about `tier` (shown by its name), in the profile's language.
async fn mail_to(
    state: &AppState,
    profile_id: Uuid,
    template: &str,
    data: impl FnOnce(&str) -> Value,
    tier: &str,
    now: DateTime<Utc>,
) -> Option<NewMail> {
    let profile = state.store.profile(profile_id).await.ok()??;
    let registry = state.registry();
    let tier_name = registry
        .tier_by_id(tier)
        .map_or_else(|| tier.to_owned(), |t| t.name.clone());
    let mut data = data(&tier_name);
    if let Some(fields) = data.as_object_mut() {
        fields.insert("name".into(), json!(profile.name));
    }
    Some(NewMail::new(
        profile.email,
        template,
        profile.language,
        data,
        now,
    ))
}

async fn payment_mail(
    state: &AppState,
    invoice: &InvoiceState,
    template: &str,
    now: DateTime<Utc>,
) -> Option<NewMail> {
    let profile = invoice.profile_id?;
    let tier = invoice.tier_id.clone().unwrap_or_default();
    let amount = money(invoice.amount, &invoice.currency);
    let ends = invoice.period_end + grace(state);
    mail_to(
        state,
        profile,
        template,
        |tier| json!({"tier": tier, "amount": amount, "ends_at": ends.to_rfc3339()}),
        &tier,
        now,
    )
    .await
}

/// "Your subscription ends": built for a state that sets the subscription to end; the store
/// queues it the first time it is set so (once however often the event comes).
async fn ending_mail(
    state: &AppState,
    sub: &SubscriptionState,
    now: DateTime<Utc>,
) -> Option<NewMail> {
    if !sub.cancel_at_period_end && sub.ended_at.is_none() {
        return None;
    }
    let profile = sub.profile_id?;
    let tier = sub.tier_id.clone()?;
    let ends = sub.ended_at.or(sub.current_period_end).unwrap_or(now);
    mail_to(
        state,
        profile,
        "subscription_ending",
        |tier| json!({"tier": tier, "ends_at": ends.to_rfc3339()}),
        &tier,
        now,
    )
    .await
}

// --- reconciliation -----------------------------------------------------------------------

/// Re-reads subscription `id` from Stripe and applies what Stripe says now: its state and
/// its latest invoice, when paid. Repairs what missed events left wrong.
async fn reconcile(state: &AppState, stripe: &Stripe, id: &str) -> Result<()> {
    let object = stripe.subscription(id).await.map_err(failed)?;
    let now = state.now();
    let sub = subscription_state(state, &object, now)
        .await
        .map_err(|why| Error::Internal(anyhow::anyhow!(why)))?;
    state
        .store
        .apply_subscription(&sub, grace(state), None, now)
        .await?;
    let invoice = &object["latest_invoice"];
    if invoice.is_object() && invoice["status"].as_str() == Some("paid") {
        let mut with_parent = invoice.clone();
        if with_parent["parent"]["subscription_details"]["subscription"].is_null() {
            with_parent["subscription"] = json!(id);
        }
        if let Some(invoice) = invoice_state(state, &with_parent)
            .await
            .map_err(|why| Error::Internal(anyhow::anyhow!(why)))?
        {
            state
                .store
                .apply_invoice_paid(&invoice, grace(state), None, now)
                .await?;
        }
    }
    Ok(())
}

/// An admin's "sync" of one person: every subscription of theirs re-read from Stripe.
pub async fn sync_profile(state: &AppState, profile_id: Uuid) -> Result<BillingView> {
    let stripe = stripe(state)?;
    state
        .store
        .profile(profile_id)
        .await?
        .ok_or(Error::NotFound)?;
    for sub in state.store.subscriptions_of(profile_id).await? {
        reconcile(state, stripe, &sub.id).await?;
    }
    billing_of(state, profile_id).await
}

/// The daily reconciliation: every subscription not ended re-read from Stripe. Answers how
/// many were read; a failure of one does not stop the others.
pub async fn reconcile_all(state: &AppState) -> Result<u64> {
    let Some(stripe) = state.stripe.as_ref() else {
        return Ok(0);
    };
    let mut read = 0;
    let since = state.now() - TimeDelta::days(1);
    for sub in state.store.subscriptions(since, 10_000).await? {
        match reconcile(state, stripe, &sub.id).await {
            Ok(()) => read += 1,
            Err(e) => tracing::warn!(subscription = %sub.id, error = %e, "reconciliation failed"),
        }
    }
    Ok(read)
}

/// Ends every running subscription of a profile at Stripe now (its account is being
/// deleted). Without payments configured there is nobody to tell: logged.
pub async fn cancel_subscriptions_of(state: &AppState, profile_id: Uuid) -> Result<()> {
    let running: Vec<Subscription> = state
        .store
        .subscriptions_of(profile_id)
        .await?
        .into_iter()
        .filter(|s| s.ended_at.is_none() && RUNNING.contains(&s.status.as_str()))
        .collect();
    if running.is_empty() {
        return Ok(());
    }
    let Some(stripe) = state.stripe.as_ref() else {
        tracing::warn!(profile = %profile_id, "an account with a running subscription is deleted while payments are off: cancel it in Stripe's dashboard");
        return Ok(());
    };
    for sub in running {
        match stripe.cancel_subscription(&sub.id).await {
            Ok(_) | Err(StripeError::NotFound(_)) => {}
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(())
}

// --- admin views --------------------------------------------------------------------------

/// A subscription in the admin's list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminSubscriptionView {
    pub id: String,
    pub profile_id: Option<Uuid>,
    pub email: Option<String>,
    pub status: String,
    pub tier: Option<String>,
    pub price_id: Option<Uuid>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub ended_at: Option<DateTime<Utc>>,
}

pub async fn admin_subscriptions(state: &AppState) -> Result<Vec<AdminSubscriptionView>> {
    let prices = state.store.prices(false).await?;
    let since = state.now() - TimeDelta::days(30);
    Ok(state
        .store
        .subscriptions(since, 1000)
        .await?
        .into_iter()
        .map(|s| AdminSubscriptionView {
            price_id: prices
                .iter()
                .find(|p| Some(&p.stripe_price_id) == s.stripe_price_id.as_ref())
                .map(|p| p.id),
            id: s.id,
            profile_id: s.profile_id,
            email: s.profile_email,
            status: s.status,
            tier: s.tier_id,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            ended_at: s.ended_at,
        })
        .collect())
}

/// A webhook event in the admin's list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// Stripe's event id.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `processed`, `ignored` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<&BillingEvent> for EventView {
    fn from(e: &BillingEvent) -> Self {
        EventView {
            id: e.id.clone(),
            kind: e.kind.clone(),
            status: e.status.as_str().into(),
            error: e.error.clone(),
            attempts: e.attempts,
            created_at: e.created_at,
            received_at: e.received_at,
            processed_at: e.processed_at,
        }
    }
}

pub async fn events(state: &AppState, status: Option<&str>) -> Result<Vec<EventView>> {
    let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(EventStatus::parse(s).ok_or_else(|| {
            Error::field(
                "status",
                "must be pending, processing, processed, ignored or failed",
            )
        })?),
    };
    Ok(state
        .store
        .billing_events(status, 200)
        .await?
        .iter()
        .map(EventView::from)
        .collect())
}

pub use mitai_store::billing::BillingFigures;

/// Paying subscribers, monthly recurring revenue and revenue of the last 30 days.
pub async fn figures(state: &AppState) -> Result<BillingFigures> {
    Ok(state
        .store
        .billing_figures(state.now() - TimeDelta::days(30))
        .await?)
}
