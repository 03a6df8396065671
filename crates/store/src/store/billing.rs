//! Payments: prices, customers, subscriptions, payments and webhook events (see
//! [`crate::billing`]). The same SQL on both backends; a subscription's row is locked while
//! its access is settled (PostgreSQL; SQLite's one writer runs writes one after the other).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use const_format::concatcp;
use sqlx::types::Json;
use uuid::Uuid;

use super::coupons::{PAUSE, RESUME, REVOKE, insert_grant};
use super::mail::enqueue_mail_in;
use super::{PerBackend, SqlStore};
use crate::billing::*;
use crate::coupons::{GrantSpan, NewGrant};
use crate::sql::{Query, Row, Tx, corrupt, on_constraint, query};
use crate::{NewMail, Result, postgres, sqlite};

const PRICE_COLUMNS: &str = "id, stripe_price_id, tier_id, kind, interval, interval_count, \
    days, amount, currency, label, active, sort_order, created_at";

const INSERT_PRICE: &str = "INSERT INTO billing_prices (id, stripe_price_id, tier_id, kind, \
    interval, interval_count, days, amount, currency, label, active, sort_order, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

const PRICES: &str = concatcp!(
    "SELECT ",
    PRICE_COLUMNS,
    " FROM billing_prices ORDER BY sort_order, amount, id"
);
const ACTIVE_PRICES: &str = concatcp!(
    "SELECT ",
    PRICE_COLUMNS,
    " FROM billing_prices WHERE active ORDER BY sort_order, amount, id"
);
const PRICE_BY_ID: &str = concatcp!(
    "SELECT ",
    PRICE_COLUMNS,
    " FROM billing_prices WHERE id = $1"
);
const PRICE_BY_STRIPE_ID: &str = concatcp!(
    "SELECT ",
    PRICE_COLUMNS,
    " FROM billing_prices WHERE stripe_price_id = $1"
);
const UPDATE_PRICE: &str = concatcp!(
    "UPDATE billing_prices SET active = COALESCE($2, active), label = COALESCE($3, label), \
     sort_order = COALESCE($4, sort_order) WHERE id = $1 RETURNING ",
    PRICE_COLUMNS
);

const SUBSCRIPTION_SELECT: &str = "SELECT s.id, s.profile_id, p.email AS profile_email, \
    s.stripe_price_id, s.tier_id, s.status, s.current_period_end, s.cancel_at_period_end, \
    s.ended_at, s.paid_from, s.paid_until, s.grant_id, s.state_at, s.created_at, s.updated_at \
    FROM billing_subscriptions s LEFT JOIN profiles p ON p.id = s.profile_id";

/// A subscription's state, taken only when it is at least as new as the one recorded.
const PUT_SUBSCRIPTION: &str = "INSERT INTO billing_subscriptions (id, profile_id, \
    stripe_price_id, tier_id, status, current_period_end, cancel_at_period_end, ended_at, \
    state_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
    ON CONFLICT (id) DO UPDATE SET \
        profile_id = COALESCE(excluded.profile_id, billing_subscriptions.profile_id), \
        stripe_price_id = COALESCE(excluded.stripe_price_id, billing_subscriptions.stripe_price_id), \
        tier_id = COALESCE(excluded.tier_id, billing_subscriptions.tier_id), \
        status = excluded.status, current_period_end = excluded.current_period_end, \
        cancel_at_period_end = excluded.cancel_at_period_end, ended_at = excluded.ended_at, \
        state_at = excluded.state_at, updated_at = excluded.updated_at \
    WHERE billing_subscriptions.state_at <= excluded.state_at";

/// A subscription an invoice names before any event about the subscription came: known
/// only by what the invoice says; any event about it is newer.
const SUBSCRIPTION_FROM_INVOICE: &str = "INSERT INTO billing_subscriptions (id, profile_id, \
    stripe_price_id, tier_id, status, cancel_at_period_end, state_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, 'active', FALSE, $5, $6, $6) \
    ON CONFLICT (id) DO UPDATE SET \
        profile_id = COALESCE(billing_subscriptions.profile_id, excluded.profile_id), \
        stripe_price_id = COALESCE(billing_subscriptions.stripe_price_id, excluded.stripe_price_id), \
        tier_id = COALESCE(billing_subscriptions.tier_id, excluded.tier_id)";

const ENDING_UNSET: &str = "UPDATE billing_subscriptions SET ending_mailed = FALSE \
    WHERE id = $1 AND ending_mailed AND NOT cancel_at_period_end AND ended_at IS NULL";
/// Answers a row once: the first time the subscription is set to end.
const ENDING_MAILED: &str = "UPDATE billing_subscriptions SET ending_mailed = TRUE \
    WHERE id = $1 AND NOT ending_mailed AND (cancel_at_period_end OR ended_at IS NOT NULL) \
    RETURNING id";

const PAID_SPAN: &str = "UPDATE billing_subscriptions SET \
    paid_from = CASE WHEN paid_from IS NULL OR paid_from > $2 THEN $2 ELSE paid_from END, \
    paid_until = CASE WHEN paid_until IS NULL OR paid_until < $3 THEN $3 ELSE paid_until END, \
    updated_at = $4 WHERE id = $1";

/// The subscription's row is locked (not the grant's: it may be missing).
const TO_SETTLE: PerBackend = PerBackend {
    postgres: concatcp!(TO_SETTLE_HEAD, postgres::FOR_UPDATE, " OF s"),
    sqlite: concatcp!(TO_SETTLE_HEAD, sqlite::FOR_UPDATE),
};
const TO_SETTLE_HEAD: &str = "SELECT s.profile_id, s.tier_id, s.paid_from, s.paid_until, \
    s.ended_at, s.grant_id, g.tier_id AS grant_tier, g.starts_at AS grant_starts, \
    g.ends_at AS grant_ends \
    FROM billing_subscriptions s LEFT JOIN access_grants g ON g.id = s.grant_id \
    WHERE s.id = $1 ";

const PAYMENT_COLUMNS: &str = "id, profile_id, kind, subscription_id, stripe_price_id, \
    payment_intent, amount, currency, status, period_start, period_end, dispute, grant_id, \
    created_at, updated_at";

/// A paid invoice, counted once: a failed one becomes paid, a paid one stays as it is.
/// Answers a row only when it was newly paid.
const INVOICE_PAID: &str = "INSERT INTO billing_payments (id, profile_id, kind, \
    subscription_id, stripe_price_id, payment_intent, amount, currency, status, period_start, \
    period_end, created_at, updated_at) \
    VALUES ($1, $2, 'invoice', $3, $4, $5, $6, $7, 'paid', $8, $9, $10, $10) \
    ON CONFLICT (id) DO UPDATE SET status = 'paid', updated_at = excluded.updated_at, \
        payment_intent = COALESCE(excluded.payment_intent, billing_payments.payment_intent) \
    WHERE billing_payments.status = 'failed' \
    RETURNING id";

const INVOICE_FAILED: &str = "INSERT INTO billing_payments (id, profile_id, kind, \
    subscription_id, stripe_price_id, payment_intent, amount, currency, status, period_start, \
    period_end, created_at, updated_at) \
    VALUES ($1, $2, 'invoice', $3, $4, $5, $6, $7, 'failed', $8, $9, $10, $10) \
    ON CONFLICT (id) DO NOTHING";

const PASS_PAID: &str = "INSERT INTO billing_payments (id, profile_id, kind, \
    stripe_price_id, payment_intent, amount, currency, status, grant_id, created_at, updated_at) \
    VALUES ($1, $2, 'pass', $3, $1, $4, $5, 'paid', $6, $7, $7) \
    ON CONFLICT (id) DO NOTHING";

const PAYMENT_BY_INTENT: PerBackend = PerBackend {
    postgres: concatcp!(PAYMENT_BY_INTENT_HEAD, postgres::FOR_UPDATE),
    sqlite: concatcp!(PAYMENT_BY_INTENT_HEAD, sqlite::FOR_UPDATE),
};
const PAYMENT_BY_INTENT_HEAD: &str = concatcp!(
    "SELECT ",
    PAYMENT_COLUMNS,
    " FROM billing_payments WHERE payment_intent = $1 ORDER BY created_at LIMIT 1 "
);
const SET_PAYMENT: &str = concatcp!(
    "UPDATE billing_payments SET status = $2, dispute = $3, updated_at = $4 WHERE id = $1 \
     RETURNING ",
    PAYMENT_COLUMNS
);
const PAYMENTS_OF: &str = concatcp!(
    "SELECT ",
    PAYMENT_COLUMNS,
    " FROM billing_payments WHERE profile_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
);

const EVENT_COLUMNS: &str =
    "id, type, payload, status, error, attempts, created_at, received_at, processed_at";
const RECORD_EVENT: &str = "INSERT INTO billing_events (id, type, payload, status, attempts, \
    created_at, received_at) VALUES ($1, $2, $3, 'pending', 0, $4, $5) \
    ON CONFLICT (id) DO NOTHING";
const EVENT_BY_ID: &str = concatcp!(
    "SELECT ",
    EVENT_COLUMNS,
    " FROM billing_events WHERE id = $1"
);
const EVENTS: &str = concatcp!(
    "SELECT ",
    EVENT_COLUMNS,
    " FROM billing_events WHERE ($1 IS NULL OR status = $1) \
     ORDER BY received_at DESC, id DESC LIMIT $2"
);
const EVENTS_DUE: &str = concatcp!(
    "SELECT ",
    EVENT_COLUMNS,
    " FROM billing_events WHERE status = 'pending' OR (status = 'failed' AND attempts < $1) \
        OR (status = 'processing' AND claimed_at < $2) \
     ORDER BY received_at, id LIMIT $3"
);
const CLAIM_EVENT: &str = concatcp!(
    "UPDATE billing_events SET status = 'processing', claimed_at = $2 \
     WHERE id = $1 AND (status IN ('pending', 'failed') \
        OR (status = 'processing' AND claimed_at < $3)) RETURNING ",
    EVENT_COLUMNS
);
const FINISH_EVENT: &str = "UPDATE billing_events SET status = $2, error = $3, \
    attempts = attempts + 1, processed_at = $4 WHERE id = $1";
const RETRY_EVENT: &str = "UPDATE billing_events SET status = 'pending', attempts = 0, \
    error = NULL WHERE id = $1 AND status IN ('failed', 'pending')";

/// The statuses in which a subscription pays.
const PAYING: &str = "('active', 'trialing', 'past_due')";

/// [`INVOICE_PAID`] or [`INVOICE_FAILED`] with the invoice's values.
fn invoice_query<'q>(sql: &'q str, i: &'q InvoiceState, now: DateTime<Utc>) -> Query<'q> {
    query(sql)
        .bind(&i.id)
        .bind(i.profile_id)
        .bind(&i.subscription_id)
        .bind(i.stripe_price_id.as_deref())
        .bind(i.payment_intent.as_deref())
        .bind(i.amount)
        .bind(&i.currency)
        .bind(i.period_start)
        .bind(i.period_end)
        .bind(now)
}

fn price_from(row: &Row) -> Result<Price> {
    let kind: String = row.get("kind")?;
    Ok(Price {
        id: row.get("id")?,
        stripe_price_id: row.get("stripe_price_id")?,
        tier_id: row.get("tier_id")?,
        kind: PriceKind::parse(&kind).ok_or_else(|| corrupt("price kind", &kind))?,
        interval: row.get("interval")?,
        interval_count: row.get::<Option<i32>>("interval_count")?.map(i64::from),
        days: row.get::<Option<i32>>("days")?.map(i64::from),
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        label: row.get("label")?,
        active: row.get("active")?,
        sort_order: row.get::<i32>("sort_order")?.into(),
        created_at: row.get("created_at")?,
    })
}

fn subscription_from(row: &Row) -> Result<Subscription> {
    Ok(Subscription {
        id: row.get("id")?,
        profile_id: row.get("profile_id")?,
        profile_email: row.get("profile_email")?,
        stripe_price_id: row.get("stripe_price_id")?,
        tier_id: row.get("tier_id")?,
        status: row.get("status")?,
        current_period_end: row.get("current_period_end")?,
        cancel_at_period_end: row.get("cancel_at_period_end")?,
        ended_at: row.get("ended_at")?,
        paid_from: row.get("paid_from")?,
        paid_until: row.get("paid_until")?,
        grant_id: row.get("grant_id")?,
        state_at: row.get("state_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn payment_from(row: &Row) -> Result<Payment> {
    let kind: String = row.get("kind")?;
    let status: String = row.get("status")?;
    Ok(Payment {
        id: row.get("id")?,
        profile_id: row.get("profile_id")?,
        kind: match kind.as_str() {
            "invoice" => PaymentKind::Invoice,
            "pass" => PaymentKind::Pass,
            other => return Err(corrupt("payment kind", other)),
        },
        subscription_id: row.get("subscription_id")?,
        stripe_price_id: row.get("stripe_price_id")?,
        payment_intent: row.get("payment_intent")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        status: PaymentStatus::parse(&status).ok_or_else(|| corrupt("payment status", &status))?,
        period_start: row.get("period_start")?,
        period_end: row.get("period_end")?,
        dispute: row.get("dispute")?,
        grant_id: row.get("grant_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn event_from(row: &Row) -> Result<BillingEvent> {
    let status: String = row.get("status")?;
    let payload: serde_json::Value = row.get("payload")?;
    Ok(BillingEvent {
        id: row.get("id")?,
        kind: row.get("type")?,
        payload,
        status: EventStatus::parse(&status).ok_or_else(|| corrupt("event status", &status))?,
        error: row.get("error")?,
        attempts: row.get::<i32>("attempts")?.into(),
        created_at: row.get("created_at")?,
        received_at: row.get("received_at")?,
        processed_at: row.get("processed_at")?,
    })
}

impl SqlStore {
    /// Settles the access of subscription `id` from what was paid (see
    /// [`BillingStore::apply_invoice_paid`]).
    async fn settle(
        &self,
        tx: &mut Tx,
        id: &str,
        grace: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(row) = query(self.sql(TO_SETTLE))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(());
        };
        let (Some(profile_id), Some(tier_id), Some(paid_from), Some(paid_until)) = (
            row.get::<Option<Uuid>>("profile_id")?,
            row.get::<Option<String>>("tier_id")?,
            row.get::<Option<DateTime<Utc>>>("paid_from")?,
            row.get::<Option<DateTime<Utc>>>("paid_until")?,
        ) else {
            return Ok(());
        };
        let ended: Option<DateTime<Utc>> = row.get("ended_at")?;
        let ends = mitai_access::grants::ops::paid_access_end(paid_from, paid_until, grace, ended);
        let grant: Option<Uuid> = row.get("grant_id")?;
        let grant_tier: Option<String> = row.get("grant_tier")?;
        match (grant, grant_tier) {
            (Some(grant), Some(grant_tier)) if grant_tier == tier_id => {
                query("UPDATE access_grants SET ends_at = $2 WHERE id = $1")
                    .bind(grant)
                    .bind(ends)
                    .execute(&mut *tx)
                    .await?;
            }
            (grant, _) => {
                // No grant yet, or the tier changed: the old grant is cut now (as
                // `mitai_access::grants::ops::cut`: never before its start, never later than
                // its end), a new one goes on from now with the new tier (`ops::switched`).
                let mut starts = paid_from;
                if let Some(grant) = grant {
                    let old_starts: Option<DateTime<Utc>> = row.get("grant_starts")?;
                    let old_ends: Option<DateTime<Utc>> = row.get("grant_ends")?;
                    if let (Some(old_starts), Some(old_ends)) = (old_starts, old_ends) {
                        let cut = old_ends.min(now).max(old_starts);
                        query("UPDATE access_grants SET ends_at = $2 WHERE id = $1")
                            .bind(grant)
                            .bind(cut)
                            .execute(&mut *tx)
                            .await?;
                        starts = starts.max(cut);
                    }
                }
                if starts >= ends {
                    return Ok(());
                }
                let new = NewGrant {
                    id: Uuid::now_v7(),
                    profile_id,
                    tier_id,
                    source: "stripe".into(),
                    coupon_id: None,
                    span: GrantSpan::Fixed {
                        starts_at: starts,
                        ends_at: ends,
                    },
                    created_by: None,
                    created_at: now.min(starts),
                };
                insert_grant(&mut *tx, &new).await?;
                query("UPDATE billing_subscriptions SET grant_id = $2 WHERE id = $1")
                    .bind(id)
                    .bind(new.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl crate::BillingStore for SqlStore {
    async fn create_price(&self, p: &Price) -> Result<()> {
        query(INSERT_PRICE)
            .bind(p.id)
            .bind(&p.stripe_price_id)
            .bind(&p.tier_id)
            .bind(p.kind.as_str())
            .bind(p.interval.as_deref())
            .bind(
                p.interval_count
                    .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            )
            .bind(p.days.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
            .bind(p.amount)
            .bind(&p.currency)
            .bind(&p.label)
            .bind(p.active)
            .bind(i32::try_from(p.sort_order).unwrap_or(0))
            .bind(p.created_at)
            .execute(self.writer())
            .await
            .map_err(|e| crate::sql::on_constraint_of(e, "stripe_price_id", "tier"))?;
        Ok(())
    }

    async fn prices(&self, active_only: bool) -> Result<Vec<Price>> {
        query(if active_only { ACTIVE_PRICES } else { PRICES })
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(price_from)
            .collect()
    }

    async fn price(&self, id: Uuid) -> Result<Option<Price>> {
        query(PRICE_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(price_from)
            .transpose()
    }

    async fn price_by_stripe_id(&self, stripe_price_id: &str) -> Result<Option<Price>> {
        query(PRICE_BY_STRIPE_ID)
            .bind(stripe_price_id)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(price_from)
            .transpose()
    }

    async fn update_price(&self, id: Uuid, patch: &PricePatch) -> Result<Option<Price>> {
        query(UPDATE_PRICE)
            .bind(id)
            .bind(patch.active)
            .bind(patch.label.as_deref())
            .bind(patch.sort_order.map(|n| i32::try_from(n).unwrap_or(0)))
            .fetch_optional(self.writer())
            .await?
            .as_ref()
            .map(price_from)
            .transpose()
    }

    async fn billing_customer(&self, profile_id: Uuid) -> Result<Option<String>> {
        query("SELECT stripe_customer_id FROM billing_customers WHERE profile_id = $1")
            .bind(profile_id)
            .fetch_optional(self.reader())
            .await?
            .map(|row| row.get(0))
            .transpose()
    }

    async fn customer_profile(&self, stripe_customer_id: &str) -> Result<Option<Uuid>> {
        query("SELECT profile_id FROM billing_customers WHERE stripe_customer_id = $1")
            .bind(stripe_customer_id)
            .fetch_optional(self.reader())
            .await?
            .map(|row| row.get(0))
            .transpose()
    }

    async fn put_billing_customer(
        &self,
        profile_id: Uuid,
        stripe_customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let mut tx = self.begin_write().await?;
        query(
            "INSERT INTO billing_customers (profile_id, stripe_customer_id, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT (profile_id) DO NOTHING",
        )
        .bind(profile_id)
        .bind(stripe_customer_id)
        .bind(now)
        .execute(&mut tx)
        .await
        .map_err(|e| crate::sql::on_constraint_of(e, "stripe_customer_id", "profile"))?;
        let kept = query("SELECT stripe_customer_id FROM billing_customers WHERE profile_id = $1")
            .bind(profile_id)
            .fetch_one(&mut tx)
            .await?
            .get(0)?;
        tx.commit().await?;
        Ok(kept)
    }

    async fn record_billing_event(&self, e: &BillingEvent) -> Result<bool> {
        let new = query(RECORD_EVENT)
            .bind(&e.id)
            .bind(&e.kind)
            .bind(Json(&e.payload))
            .bind(e.created_at)
            .bind(e.received_at)
            .execute(self.writer())
            .await?;
        Ok(new == 1)
    }

    async fn billing_event(&self, id: &str) -> Result<Option<BillingEvent>> {
        query(EVENT_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(event_from)
            .transpose()
    }

    async fn billing_events(
        &self,
        status: Option<EventStatus>,
        limit: i64,
    ) -> Result<Vec<BillingEvent>> {
        query(EVENTS)
            .bind(status.map(EventStatus::as_str))
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(event_from)
            .collect()
    }

    async fn billing_events_due(
        &self,
        max_attempts: i64,
        stale: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<BillingEvent>> {
        query(EVENTS_DUE)
            .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
            .bind(stale)
            .bind(limit)
            .fetch_all(self.writer())
            .await?
            .iter()
            .map(event_from)
            .collect()
    }

    async fn claim_billing_event(
        &self,
        id: &str,
        now: DateTime<Utc>,
        stale: DateTime<Utc>,
    ) -> Result<Option<BillingEvent>> {
        query(CLAIM_EVENT)
            .bind(id)
            .bind(now)
            .bind(stale)
            .fetch_optional(self.writer())
            .await?
            .as_ref()
            .map(event_from)
            .transpose()
    }

    async fn finish_billing_event(
        &self,
        id: &str,
        status: EventStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let processed = matches!(status, EventStatus::Processed | EventStatus::Ignored);
        query(FINISH_EVENT)
            .bind(id)
            .bind(status.as_str())
            .bind(error)
            .bind(processed.then_some(now))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn retry_billing_event(&self, id: &str) -> Result<bool> {
        let done = query(RETRY_EVENT).bind(id).execute(self.writer()).await?;
        if done == 1 {
            return Ok(true);
        }
        Ok(self.billing_event(id).await?.is_some())
    }

    async fn apply_subscription(
        &self,
        s: &SubscriptionState,
        grace: TimeDelta,
        ending_mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<Subscription> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        query(PUT_SUBSCRIPTION)
            .bind(&s.id)
            .bind(s.profile_id)
            .bind(s.stripe_price_id.as_deref())
            .bind(s.tier_id.as_deref())
            .bind(&s.status)
            .bind(s.current_period_end)
            .bind(s.cancel_at_period_end)
            .bind(s.ended_at)
            .bind(s.at)
            .bind(now)
            .execute(&mut tx)
            .await
            .map_err(|e| on_constraint(e, "profile"))?;
        self.settle(&mut tx, &s.id, grace, now).await?;
        // A subscription no longer set to end may be set to end again later (and mailed).
        query(ENDING_UNSET).bind(&s.id).execute(&mut tx).await?;
        let ending = query(ENDING_MAILED)
            .bind(&s.id)
            .fetch_optional(&mut tx)
            .await?
            .is_some();
        if ending && let Some(mail) = ending_mail {
            enqueue_mail_in(&mut tx, mail).await?;
        }
        let row = query(concatcp!(SUBSCRIPTION_SELECT, " WHERE s.id = $1"))
            .bind(&s.id)
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        subscription_from(&row)
    }

    async fn apply_invoice_paid(
        &self,
        i: &InvoiceState,
        grace: TimeDelta,
        mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        query(SUBSCRIPTION_FROM_INVOICE)
            .bind(&i.subscription_id)
            .bind(i.profile_id)
            .bind(i.stripe_price_id.as_deref())
            .bind(i.tier_id.as_deref())
            .bind(DateTime::<Utc>::UNIX_EPOCH)
            .bind(now)
            .execute(&mut tx)
            .await
            .map_err(|e| on_constraint(e, "profile"))?;
        let newly = invoice_query(INVOICE_PAID, i, now)
            .fetch_optional(&mut tx)
            .await?
            .is_some();
        if !newly {
            tx.rollback().await?;
            return Ok(false);
        }
        query(PAID_SPAN)
            .bind(&i.subscription_id)
            .bind(i.period_start)
            .bind(i.period_end)
            .bind(now)
            .execute(&mut tx)
            .await?;
        self.settle(&mut tx, &i.subscription_id, grace, now).await?;
        if let Some(mail) = mail {
            enqueue_mail_in(&mut tx, mail).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn apply_invoice_failed(
        &self,
        i: &InvoiceState,
        mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let new = invoice_query(INVOICE_FAILED, i, now)
            .execute(&mut tx)
            .await
            .map_err(|e| on_constraint(e, "profile"))?
            == 1;
        if new && let Some(mail) = mail {
            enqueue_mail_in(&mut tx, mail).await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    async fn apply_pass_paid(
        &self,
        p: &PassPaid,
        mail: Option<&NewMail>,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        let grant = NewGrant {
            id: Uuid::now_v7(),
            profile_id: p.profile_id,
            tier_id: p.tier_id.clone(),
            source: "stripe".into(),
            coupon_id: None,
            span: GrantSpan::Duration {
                seconds: p.days.saturating_mul(86_400),
            },
            created_by: None,
            created_at: now,
        };
        insert_grant(&mut tx, &grant).await?;
        let new = query(PASS_PAID)
            .bind(&p.payment_intent)
            .bind(p.profile_id)
            .bind(&p.stripe_price_id)
            .bind(p.amount)
            .bind(&p.currency)
            .bind(grant.id)
            .bind(now)
            .execute(&mut tx)
            .await
            .map_err(|e| on_constraint(e, "profile"))?
            == 1;
        if !new {
            tx.rollback().await?;
            return Ok(None);
        }
        if let Some(mail) = mail {
            enqueue_mail_in(&mut tx, mail).await?;
        }
        tx.commit().await?;
        Ok(Some(grant.id))
    }

    async fn apply_charge_change(
        &self,
        payment_intent: &str,
        change: ChargeChange,
        now: DateTime<Utc>,
    ) -> Result<ChargeApplied> {
        let _changed = self.cache.on_change();
        let mut tx = self.begin_write().await?;
        let Some(row) = query(self.sql(PAYMENT_BY_INTENT))
            .bind(payment_intent)
            .fetch_optional(&mut tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(ChargeApplied::Unknown);
        };
        let payment = payment_from(&row)?;
        let dispute = payment.dispute.as_deref();
        // What the change makes of the payment, and of a pass's grant. A dispute is opened
        // once and closed once: an "opened" that arrives after the close changes nothing.
        enum GrantDo {
            Nothing,
            Revoke,
            Pause,
            Resume,
        }
        let (status, dispute, grant_do) = match change {
            ChargeChange::Refunded => (PaymentStatus::Refunded, dispute, GrantDo::Revoke),
            ChargeChange::PartlyRefunded => (payment.status, dispute, GrantDo::Nothing),
            ChargeChange::DisputeOpened if dispute.is_none() => {
                (PaymentStatus::Disputed, Some("open"), GrantDo::Pause)
            }
            ChargeChange::DisputeOpened => (payment.status, dispute, GrantDo::Nothing),
            ChargeChange::DisputeWon if matches!(dispute, None | Some("open")) => {
                let status = if payment.status == PaymentStatus::Disputed {
                    PaymentStatus::Paid
                } else {
                    payment.status
                };
                (status, Some("won"), GrantDo::Resume)
            }
            ChargeChange::DisputeLost if matches!(dispute, None | Some("open")) => {
                (PaymentStatus::DisputeLost, Some("lost"), GrantDo::Revoke)
            }
            ChargeChange::DisputeWon | ChargeChange::DisputeLost => {
                (payment.status, dispute, GrantDo::Nothing)
            }
        };
        let dispute = dispute.map(str::to_owned);
        let row = query(SET_PAYMENT)
            .bind(&payment.id)
            .bind(status.as_str())
            .bind(dispute.as_deref())
            .bind(now)
            .fetch_one(&mut tx)
            .await?;
        if payment.kind == PaymentKind::Pass
            && let Some(grant) = payment.grant_id
        {
            match grant_do {
                GrantDo::Nothing => {}
                GrantDo::Revoke => {
                    query(REVOKE)
                        .bind(grant)
                        .bind(now)
                        .bind(None::<Uuid>)
                        .execute(&mut tx)
                        .await?;
                }
                GrantDo::Pause => {
                    query(PAUSE)
                        .bind(Uuid::now_v7())
                        .bind(grant)
                        .bind(now)
                        .bind(None::<Uuid>)
                        .bind("dispute")
                        .execute(&mut tx)
                        .await?;
                }
                GrantDo::Resume => {
                    query(RESUME)
                        .bind(grant)
                        .bind(now)
                        .bind(None::<Uuid>)
                        .execute(&mut tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        let after = payment_from(&row)?;
        let changed = after.status != payment.status || after.dispute != payment.dispute;
        Ok(ChargeApplied::Applied(Box::new(after), changed))
    }

    async fn subscriptions_of(&self, profile_id: Uuid) -> Result<Vec<Subscription>> {
        query(concatcp!(
            SUBSCRIPTION_SELECT,
            " WHERE s.profile_id = $1 ORDER BY s.created_at DESC, s.id"
        ))
        .bind(profile_id)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(subscription_from)
        .collect()
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>> {
        query(concatcp!(SUBSCRIPTION_SELECT, " WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(subscription_from)
            .transpose()
    }

    async fn subscriptions(
        &self,
        ended_since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Subscription>> {
        query(concatcp!(
            SUBSCRIPTION_SELECT,
            " WHERE s.ended_at IS NULL OR s.ended_at >= $1 ORDER BY s.created_at DESC, s.id LIMIT $2"
        ))
        .bind(ended_since)
        .bind(limit)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(subscription_from)
        .collect()
    }

    async fn payments_of(&self, profile_id: Uuid, limit: i64) -> Result<Vec<Payment>> {
        query(PAYMENTS_OF)
            .bind(profile_id)
            .bind(limit)
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(payment_from)
            .collect()
    }

    async fn billing_figures(&self, since: DateTime<Utc>) -> Result<BillingFigures> {
        let paying: i64 = query(concatcp!(
            "SELECT count(*) FROM billing_subscriptions WHERE ended_at IS NULL AND status IN ",
            PAYING
        ))
        .fetch_one(self.reader())
        .await?
        .get(0)?;
        let mut monthly: Vec<(String, i64)> = Vec::new();
        let rows = query(concatcp!(
            "SELECT p.currency, p.amount, p.interval, p.interval_count \
             FROM billing_subscriptions s JOIN billing_prices p ON p.stripe_price_id = s.stripe_price_id \
             WHERE s.ended_at IS NULL AND s.status IN ",
            PAYING
        ))
        .fetch_all(self.reader())
        .await?;
        for row in &rows {
            let currency: String = row.get("currency")?;
            let amount: i64 = row.get("amount")?;
            let interval: Option<String> = row.get("interval")?;
            let count = i64::from(row.get::<Option<i32>>("interval_count")?.unwrap_or(1));
            let per_month = monthly_amount(amount, interval.as_deref(), count);
            match monthly.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += per_month,
                None => monthly.push((currency, per_month)),
            }
        }
        monthly.sort();
        let revenue = query(
            "SELECT currency, CAST(SUM(amount) AS BIGINT) AS total FROM billing_payments \
             WHERE status IN ('paid', 'disputed') AND created_at >= $1 \
             GROUP BY currency ORDER BY currency",
        )
        .bind(since)
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(|row| Ok((row.get("currency")?, row.get("total")?)))
        .collect::<Result<Vec<_>>>()?;
        Ok(BillingFigures {
            paying_subscribers: paying,
            monthly_recurring: monthly,
            revenue_since: revenue,
        })
    }
}
