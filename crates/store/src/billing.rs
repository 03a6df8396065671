//! Payments through Stripe (DESIGN §13): the prices admins sell, each profile's Stripe
//! customer, subscriptions and payments as Stripe's webhook events report them, and the
//! events themselves, each recorded once by its id.
//!
//! Every effect of an event is one transaction that is safe to repeat and to apply in any
//! order: a subscription's state is replaced only by the state of a newer event, a payment is
//! counted once by its id, and the access a subscription gives is derived from what was paid
//! (see [`BillingStore::apply_invoice_paid`]).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{NewMail, Result};

/// What a price sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceKind {
    /// A recurring price: a subscription.
    Subscription,
    /// A one-time price: a pass of `days` days.
    OneTime,
}

impl PriceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceKind::Subscription => "subscription",
            PriceKind::OneTime => "one_time",
        }
    }

    pub fn parse(s: &str) -> Option<PriceKind> {
        match s {
            "subscription" => Some(PriceKind::Subscription),
            "one_time" => Some(PriceKind::OneTime),
            _ => None,
        }
    }
}

/// A Stripe price an admin sells, mapped to a tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub id: Uuid,
    pub stripe_price_id: String,
    pub tier_id: String,
    pub kind: PriceKind,
    /// Subscriptions: `day`, `week`, `month` or `year`, every `interval_count` of them.
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
    pub created_at: DateTime<Utc>,
}

/// What a recurring price of `amount` every `count` `interval`s brings a month (a year is 12
/// months, a week 12/52 of one, a day 12/365), in the same minor unit.
pub fn monthly_amount(amount: i64, interval: Option<&str>, count: i64) -> i64 {
    let count = count.max(1);
    match interval {
        Some("year") => amount / (12 * count),
        Some("week") => amount * 52 / (12 * count),
        Some("day") => amount * 365 / (12 * count),
        _ => amount / count,
    }
}

/// A change of a price: `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PricePatch {
    pub active: Option<bool>,
    pub label: Option<String>,
    pub sort_order: Option<i64>,
}

/// A subscription as the newest event about it told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub profile_id: Option<Uuid>,
    pub profile_email: Option<String>,
    pub stripe_price_id: Option<String>,
    pub tier_id: Option<String>,
    /// Stripe's status: `active`, `trialing`, `past_due`, `unpaid`, `incomplete`,
    /// `incomplete_expired`, `paused`, `canceled`.
    pub status: String,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub ended_at: Option<DateTime<Utc>>,
    /// The first paid period's start and the latest paid period's end.
    pub paid_from: Option<DateTime<Utc>>,
    pub paid_until: Option<DateTime<Utc>>,
    /// The grant that gives its access now.
    pub grant_id: Option<Uuid>,
    /// The `created` of the event this state came from.
    pub state_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A subscription's state from one event (or from Stripe itself, `at` = now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    pub id: String,
    pub profile_id: Option<Uuid>,
    pub stripe_price_id: Option<String>,
    /// The tier of the price, when Mitai sells that price.
    pub tier_id: Option<String>,
    pub status: String,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub ended_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

/// What kind of payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentKind {
    /// An invoice of a subscription (id `in_…`).
    Invoice,
    /// A pass bought with a one-time price (id: its payment intent).
    Pass,
}

impl PaymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentKind::Invoice => "invoice",
            PaymentKind::Pass => "pass",
        }
    }
}

/// A payment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    Failed,
    Refunded,
    Disputed,
    DisputeLost,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Paid => "paid",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Disputed => "disputed",
            PaymentStatus::DisputeLost => "dispute_lost",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        Some(match s {
            "paid" => PaymentStatus::Paid,
            "failed" => PaymentStatus::Failed,
            "refunded" => PaymentStatus::Refunded,
            "disputed" => PaymentStatus::Disputed,
            "dispute_lost" => PaymentStatus::DisputeLost,
            _ => return None,
        })
    }
}

/// A payment as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    pub profile_id: Option<Uuid>,
    pub kind: PaymentKind,
    pub subscription_id: Option<String>,
    pub stripe_price_id: Option<String>,
    pub payment_intent: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    /// A dispute of it: `open`, `won` or `lost`.
    pub dispute: Option<String>,
    pub grant_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A paid (or failed) invoice of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceState {
    pub id: String,
    pub subscription_id: String,
    pub profile_id: Option<Uuid>,
    pub stripe_price_id: Option<String>,
    /// The tier of the price, when Mitai sells that price.
    pub tier_id: Option<String>,
    pub payment_intent: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A paid pass (a checkout of a one-time price).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassPaid {
    /// The payment intent: what a refund or dispute names.
    pub payment_intent: String,
    pub profile_id: Uuid,
    pub stripe_price_id: String,
    pub tier_id: String,
    pub days: i64,
    pub amount: i64,
    pub currency: String,
    pub paid_at: DateTime<Utc>,
}

/// What happened to a charge after it was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeChange {
    /// Refunded in full.
    Refunded,
    /// Refunded in part: recorded, access kept.
    PartlyRefunded,
    DisputeOpened,
    DisputeWon,
    DisputeLost,
}

/// What a change of a charge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeApplied {
    /// No payment of that payment intent is recorded (yet).
    Unknown,
    /// Recorded; the pass's grant (if a pass) was revoked, paused or resumed. `true`: this
    /// change changed the payment (a repeat does not).
    Applied(Box<Payment>, bool),
}

/// Where a webhook event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Recorded, not yet applied.
    Pending,
    /// An instance is applying it now.
    Processing,
    Processed,
    /// A type Mitai does not act on.
    Ignored,
    /// Applying it failed; it is tried again.
    Failed,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Processing => "processing",
            EventStatus::Processed => "processed",
            EventStatus::Ignored => "ignored",
            EventStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<EventStatus> {
        Some(match s {
            "pending" => EventStatus::Pending,
            "processing" => EventStatus::Processing,
            "processed" => EventStatus::Processed,
            "ignored" => EventStatus::Ignored,
            "failed" => EventStatus::Failed,
            _ => return None,
        })
    }
}

/// A webhook event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct BillingEvent {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: EventStatus,
    pub error: Option<String>,
    pub attempts: i64,
    /// Stripe's `created`.
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// The figures of payments for the admin overview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingFigures {
    /// Subscriptions `active`, `trialing` or `past_due`.
    pub paying_subscribers: i64,
    /// Per currency: the monthly amount of those subscriptions (a yearly price counts a
    /// twelfth), in minor units.
    pub monthly_recurring: Vec<(String, i64)>,
    /// Per currency: paid (and not refunded) since the given instant.
    pub revenue_since: Vec<(String, i64)>,
}

#[async_trait]
pub trait BillingStore: Send + Sync {
    /// `Conflict("stripe_price_id")` when that Stripe price is sold already.
    async fn create_price(&self, price: &Price) -> Result<()>;
    /// Every price (only the active ones with `active_only`), in display order.
    async fn prices(&self, active_only: bool) -> Result<Vec<Price>>;
    async fn price(&self, id: Uuid) -> Result<Option<Price>>;
    async fn price_by_stripe_id(&self, stripe_price_id: &str) -> Result<Option<Price>>;
    async fn update_price(&self, id: Uuid, patch: &PricePatch) -> Result<Option<Price>>;

    /// The profile's Stripe customer.
    async fn billing_customer(&self, profile_id: Uuid) -> Result<Option<String>>;
    /// The profile a Stripe customer belongs to.
    async fn customer_profile(&self, stripe_customer_id: &str) -> Result<Option<Uuid>>;
    /// Remembers the profile's customer; a profile keeps its first one. Answers the one
    /// kept.
    async fn put_billing_customer(
        &self,
        profile_id: Uuid,
        stripe_customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String>;

    /// Records an event once by its id: `true` when it is new, `false` for a repeat (which
    /// changes nothing).
    async fn record_billing_event(&self, event: &BillingEvent) -> Result<bool>;
    async fn billing_event(&self, id: &str) -> Result<Option<BillingEvent>>;
    /// Events newest first, of one status or all, at most `limit`.
    async fn billing_events(
        &self,
        status: Option<EventStatus>,
        limit: i64,
    ) -> Result<Vec<BillingEvent>>;
    /// Events to apply: pending, failed fewer than `max_attempts` times, or taken by an
    /// instance before `stale` and never finished; oldest first.
    async fn billing_events_due(
        &self,
        max_attempts: i64,
        stale: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<BillingEvent>>;
    /// Takes an event to apply it: `None` when another instance has it (since `stale`) or it
    /// is done. One instance applies an event at a time.
    async fn claim_billing_event(
        &self,
        id: &str,
        now: DateTime<Utc>,
        stale: DateTime<Utc>,
    ) -> Result<Option<BillingEvent>>;
    /// Marks an event applied (`Processed`, `Ignored`) or failed (with why, one more
    /// attempt counted).
    async fn finish_billing_event(
        &self,
        id: &str,
        status: EventStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A failed event made due again, with a fresh count of attempts; `false` when there is
    /// no such event.
    async fn retry_billing_event(&self, id: &str) -> Result<bool>;

    /// Takes a subscription's state when it is at least as new as the one recorded, then
    /// settles its access (see [`BillingStore::apply_invoice_paid`]). `ending_mail` is
    /// queued in the same transaction the first time the subscription is set to end (cancel
    /// at period end, or ended) — once however often and by however many instances the
    /// event is applied. Answers the state recorded afterwards.
    async fn apply_subscription(
        &self,
        state: &SubscriptionState,
        grace: TimeDelta,
        ending_mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<Subscription>;
    /// Records a paid invoice once by its id (a failed one becomes paid) and extends the
    /// subscription's paid span. A subscription's access is one fixed grant (source
    /// `stripe`) from its first paid period's start to its latest paid period's end plus
    /// `grace`, cut at the subscription's end; a change of tier cuts the grant at `now` and
    /// goes on with a new one. Answers whether this invoice was newly paid.
    /// `mail` is queued in the same transaction when the invoice is newly paid.
    async fn apply_invoice_paid(
        &self,
        invoice: &InvoiceState,
        grace: TimeDelta,
        mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Records a failed invoice (never over a paid one); `mail` is queued with it when it is
    /// new. Answers whether it was new.
    async fn apply_invoice_failed(
        &self,
        invoice: &InvoiceState,
        mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Records a paid pass once by its payment intent and gives its grant (a duration grant
    /// of its days, stacked like a coupon's); `mail` is queued with it. Answers the grant
    /// when it was new.
    async fn apply_pass_paid(
        &self,
        pass: &PassPaid,
        mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>>;
    /// A refund or dispute of the payment with this payment intent: recorded; a pass is
    /// revoked (full refund, dispute lost), paused (dispute opened, reason `dispute`) or
    /// resumed (dispute won).
    async fn apply_charge_change(
        &self,
        payment_intent: &str,
        change: ChargeChange,
        now: DateTime<Utc>,
    ) -> Result<ChargeApplied>;

    /// The subscriptions of a profile, newest first.
    async fn subscriptions_of(&self, profile_id: Uuid) -> Result<Vec<Subscription>>;
    async fn subscription(&self, id: &str) -> Result<Option<Subscription>>;
    /// Every subscription not ended (or ended after `ended_since`), newest first, at most
    /// `limit`, with the profile's e-mail.
    async fn subscriptions(
        &self,
        ended_since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Subscription>>;
    /// A profile's payments, newest first.
    async fn payments_of(&self, profile_id: Uuid, limit: i64) -> Result<Vec<Payment>>;
    /// Paying subscribers, monthly recurring revenue and revenue since `since`.
    async fn billing_figures(&self, since: DateTime<Utc>) -> Result<BillingFigures>;
}
