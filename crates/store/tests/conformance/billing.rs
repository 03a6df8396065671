//! The conformance suite of [`BillingStore`]: prices, customers, webhook events once by id,
//! and the effects of Stripe's events — in any order and under repeats — on both backends.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mitai_store::billing::{
    BillingEvent, ChargeApplied, ChargeChange, EventStatus, InvoiceState, PassPaid, PaymentStatus,
    Price, PriceKind, PricePatch, SubscriptionState,
};
use mitai_store::coupons::GrantSpan;
use mitai_store::testing::TestDb;
use mitai_store::{Backend, NewMail, NewProfile, Profile, Role, Store, StoreError};
use uuid::Uuid;

conformance! {
    plain: [
        prices_round_trip_and_change,
        a_profile_keeps_its_first_customer,
        events_are_recorded_once_and_retried_until_done,
        a_paid_invoice_counts_once_and_extends_access,
        an_invoice_before_its_subscription_gives_access,
        an_older_subscription_event_changes_nothing,
        the_end_of_a_subscription_cuts_access_and_late_invoices_do_not_extend_it,
        a_change_of_tier_cuts_the_grant_and_goes_on_with_a_new_one,
        a_failed_invoice_then_paid_counts_once_and_mails_once,
        a_pass_is_granted_once_and_a_refund_revokes_it,
        disputes_pause_resume_and_revoke_a_pass_in_any_order,
        figures_count_paying_subscribers_and_revenue,
        the_ending_mail_goes_out_once_per_end,
    ],
    concurrent: [
        an_invoice_applied_at_once_by_many_counts_once,
    ],
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
        .single()
        .unwrap()
}

fn grace() -> TimeDelta {
    TimeDelta::days(3)
}

async fn user(s: &dyn Store, email: &str) -> Profile {
    s.create_profile(&NewProfile {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: "$argon2id$x".into(),
        name: "Payer".into(),
        role: Role::User,
        tier: "free".into(),
        trial_ends_at: None,
        email_verified: true,
        invited_by: None,
        language: "en".into(),
        created_at: at(1, 0),
    })
    .await
    .unwrap()
}

fn price(stripe: &str, tier: &str, kind: PriceKind) -> Price {
    Price {
        id: Uuid::now_v7(),
        stripe_price_id: stripe.into(),
        tier_id: tier.into(),
        kind,
        interval: (kind == PriceKind::Subscription).then(|| "month".into()),
        interval_count: (kind == PriceKind::Subscription).then_some(1),
        days: (kind == PriceKind::OneTime).then_some(30),
        amount: 999,
        currency: "eur".into(),
        label: format!("{tier} {stripe}"),
        active: true,
        sort_order: 0,
        created_at: at(1, 0),
    }
}

fn invoice(
    id: &str,
    sub: &str,
    profile: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> InvoiceState {
    InvoiceState {
        id: id.into(),
        subscription_id: sub.into(),
        profile_id: Some(profile),
        stripe_price_id: Some("price_month".into()),
        tier_id: Some("premium".into()),
        payment_intent: Some(format!("pi_{id}")),
        amount: 999,
        currency: "eur".into(),
        period_start: from,
        period_end: to,
        created_at: from,
    }
}

fn state(
    sub: &str,
    profile: Uuid,
    status: &str,
    tier: &str,
    when: DateTime<Utc>,
) -> SubscriptionState {
    SubscriptionState {
        id: sub.into(),
        profile_id: Some(profile),
        stripe_price_id: Some(format!("price_{tier}")),
        tier_id: Some(tier.into()),
        status: status.into(),
        current_period_end: None,
        cancel_at_period_end: false,
        ended_at: None,
        at: when,
    }
}

/// The fixed window of a grant.
fn window(span: GrantSpan) -> (DateTime<Utc>, DateTime<Utc>) {
    match span {
        GrantSpan::Fixed { starts_at, ends_at } => (starts_at, ends_at),
        GrantSpan::Duration { .. } => panic!("a fixed grant"),
    }
}

async fn prices_round_trip_and_change(db: &TestDb) {
    let s = &*db.store;
    let month = price("price_month", "premium", PriceKind::Subscription);
    let pass = price("price_pass", "basic", PriceKind::OneTime);
    s.create_price(&month).await.unwrap();
    s.create_price(&pass).await.unwrap();
    assert_eq!(s.price(month.id).await.unwrap().as_ref(), Some(&month));
    assert_eq!(
        s.price_by_stripe_id("price_pass").await.unwrap().as_ref(),
        Some(&pass)
    );
    let mut again = price("price_month", "basic", PriceKind::OneTime);
    again.id = Uuid::now_v7();
    assert!(matches!(
        s.create_price(&again).await,
        Err(StoreError::Conflict("stripe_price_id"))
    ));
    let unknown_tier = price("price_x", "nope", PriceKind::OneTime);
    assert!(matches!(
        s.create_price(&unknown_tier).await,
        Err(StoreError::MissingReference(_))
    ));
    let changed = s
        .update_price(
            pass.id,
            &PricePatch {
                active: Some(false),
                label: Some("Thirty days".into()),
                sort_order: Some(5),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!changed.active);
    assert_eq!(changed.label, "Thirty days");
    assert_eq!(changed.sort_order, 5);
    assert_eq!(s.prices(false).await.unwrap().len(), 2);
    let active = s.prices(true).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id, month.id);
    assert!(
        s.update_price(Uuid::now_v7(), &PricePatch::default())
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_profile_keeps_its_first_customer(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "cust@example.org").await;
    assert_eq!(s.billing_customer(p.id).await.unwrap(), None);
    assert_eq!(
        s.put_billing_customer(p.id, "cus_1", at(1, 1))
            .await
            .unwrap(),
        "cus_1"
    );
    assert_eq!(
        s.put_billing_customer(p.id, "cus_2", at(1, 2))
            .await
            .unwrap(),
        "cus_1"
    );
    assert_eq!(
        s.billing_customer(p.id).await.unwrap().as_deref(),
        Some("cus_1")
    );
    assert_eq!(s.customer_profile("cus_1").await.unwrap(), Some(p.id));
    assert_eq!(s.customer_profile("cus_2").await.unwrap(), None);
}

async fn events_are_recorded_once_and_retried_until_done(db: &TestDb) {
    let s = &*db.store;
    let event = BillingEvent {
        id: "evt_1".into(),
        kind: "invoice.paid".into(),
        payload: serde_json::json!({"id": "evt_1", "data": {"object": {"id": "in_1"}}}),
        status: EventStatus::Pending,
        error: None,
        attempts: 0,
        created_at: at(2, 0),
        received_at: at(2, 1),
        processed_at: None,
    };
    assert!(s.record_billing_event(&event).await.unwrap());
    assert!(!s.record_billing_event(&event).await.unwrap(), "a repeat");
    assert_eq!(
        s.billing_event("evt_1").await.unwrap().as_ref(),
        Some(&event)
    );
    assert_eq!(
        s.billing_events_due(3, at(1, 0), 10).await.unwrap().len(),
        1
    );
    // One instance takes it; another cannot while it applies it, unless it was left stale.
    let taken = s
        .claim_billing_event("evt_1", at(2, 2), at(1, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.status, EventStatus::Processing);
    assert!(
        s.claim_billing_event("evt_1", at(2, 2), at(1, 0))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.billing_events_due(3, at(1, 0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.billing_events_due(3, at(3, 0), 10).await.unwrap().len(),
        1,
        "left stale"
    );
    s.finish_billing_event("evt_1", EventStatus::Failed, Some("boom"), at(2, 2))
        .await
        .unwrap();
    let failed = s.billing_event("evt_1").await.unwrap().unwrap();
    assert_eq!((failed.status, failed.attempts), (EventStatus::Failed, 1));
    assert_eq!(failed.error.as_deref(), Some("boom"));
    assert_eq!(
        s.billing_events_due(3, at(1, 0), 10).await.unwrap().len(),
        1,
        "tried again"
    );
    assert_eq!(
        s.billing_events_due(1, at(1, 0), 10).await.unwrap().len(),
        0,
        "given up"
    );
    assert_eq!(
        s.billing_events(Some(EventStatus::Failed), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s.retry_billing_event("evt_1").await.unwrap());
    assert_eq!(
        s.billing_events_due(1, at(1, 0), 10).await.unwrap().len(),
        1,
        "an admin's retry"
    );
    s.finish_billing_event("evt_1", EventStatus::Processed, None, at(2, 3))
        .await
        .unwrap();
    assert!(
        s.claim_billing_event("evt_1", at(2, 4), at(2, 4))
            .await
            .unwrap()
            .is_none(),
        "done"
    );
    let done = s.billing_event("evt_1").await.unwrap().unwrap();
    assert_eq!(done.status, EventStatus::Processed);
    assert_eq!(done.processed_at, Some(at(2, 3)));
    assert!(
        s.billing_events_due(3, at(1, 0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!s.retry_billing_event("evt_nope").await.unwrap());
}

async fn a_paid_invoice_counts_once_and_extends_access(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "sub@example.org").await;
    s.apply_subscription(
        &state("sub_1", p.id, "active", "premium", at(1, 0)),
        grace(),
        None,
        at(1, 0),
    )
    .await
    .unwrap();
    let first = invoice("in_1", "sub_1", p.id, at(1, 0), at(31, 0));
    let mail = NewMail::new(
        "sub@example.org",
        "payment_received",
        "en",
        serde_json::json!({}),
        at(1, 0),
    );
    assert!(
        s.apply_invoice_paid(&first, grace(), Some(&mail), at(1, 0))
            .await
            .unwrap()
    );
    assert!(
        !s.apply_invoice_paid(&first, grace(), Some(&mail), at(1, 1))
            .await
            .unwrap(),
        "a repeat"
    );
    let grants = s.grants(p.id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].source.as_str(), grants[0].tier_id.as_str()),
        ("stripe", "premium")
    );
    assert_eq!(window(grants[0].span), (at(1, 0), at(31, 0) + grace()));
    // The renewal extends the same grant.
    let next = invoice(
        "in_2",
        "sub_1",
        p.id,
        at(31, 0),
        at(31, 0) + TimeDelta::days(30),
    );
    assert!(
        s.apply_invoice_paid(&next, grace(), None, at(31, 1))
            .await
            .unwrap()
    );
    let grants = s.grants(p.id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        window(grants[0].span).1,
        at(31, 0) + TimeDelta::days(30) + grace()
    );
    let sub = s.subscription("sub_1").await.unwrap().unwrap();
    assert_eq!(sub.paid_from, Some(at(1, 0)));
    assert_eq!(sub.paid_until, Some(at(31, 0) + TimeDelta::days(30)));
    assert_eq!(sub.grant_id, Some(grants[0].id));
    assert_eq!(sub.profile_email.as_deref(), Some("sub@example.org"));
    let payments = s.payments_of(p.id, 10).await.unwrap();
    assert_eq!(payments.len(), 2);
    assert!(payments.iter().all(|p| p.status == PaymentStatus::Paid));
    let mails = s.outbox(None, None, 10).await.unwrap();
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.template == "payment_received")
            .count(),
        1
    );
}

async fn an_invoice_before_its_subscription_gives_access(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "early@example.org").await;
    let paid = invoice("in_e", "sub_e", p.id, at(1, 0), at(31, 0));
    assert!(
        s.apply_invoice_paid(&paid, grace(), None, at(1, 0))
            .await
            .unwrap()
    );
    assert_eq!(s.grants(p.id).await.unwrap().len(), 1);
    // The subscription's own event, older than nothing recorded: taken.
    let mut later = state("sub_e", p.id, "active", "premium", at(1, 0));
    later.current_period_end = Some(at(31, 0));
    let sub = s
        .apply_subscription(&later, grace(), None, at(1, 1))
        .await
        .unwrap();
    assert_eq!(sub.current_period_end, Some(at(31, 0)));
    assert_eq!(sub.status, "active");
    assert_eq!(s.grants(p.id).await.unwrap().len(), 1, "the same grant");
}

async fn an_older_subscription_event_changes_nothing(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "order@example.org").await;
    let mut canceled = state("sub_o", p.id, "canceled", "premium", at(5, 0));
    canceled.ended_at = Some(at(5, 0));
    s.apply_subscription(&canceled, grace(), None, at(5, 0))
        .await
        .unwrap();
    let older = state("sub_o", p.id, "active", "premium", at(2, 0));
    let sub = s
        .apply_subscription(&older, grace(), None, at(5, 1))
        .await
        .unwrap();
    assert_eq!(sub.status, "canceled");
    assert_eq!(sub.ended_at, Some(at(5, 0)));
    assert_eq!(sub.state_at, at(5, 0));
}

async fn the_end_of_a_subscription_cuts_access_and_late_invoices_do_not_extend_it(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "end@example.org").await;
    s.apply_invoice_paid(
        &invoice("in_a", "sub_x", p.id, at(1, 0), at(31, 0)),
        grace(),
        None,
        at(1, 0),
    )
    .await
    .unwrap();
    let mut ended = state("sub_x", p.id, "canceled", "premium", at(10, 0));
    ended.ended_at = Some(at(10, 0));
    s.apply_subscription(&ended, grace(), None, at(10, 0))
        .await
        .unwrap();
    let grants = s.grants(p.id).await.unwrap();
    assert_eq!(window(grants[0].span).1, at(10, 0), "no grace after an end");
    // A paid invoice of an earlier period arriving late does not reopen it.
    s.apply_invoice_paid(
        &invoice("in_b", "sub_x", p.id, at(1, 0), at(20, 0)),
        grace(),
        None,
        at(11, 0),
    )
    .await
    .unwrap();
    let grants = s.grants(p.id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(window(grants[0].span).1, at(10, 0));
}

async fn a_change_of_tier_cuts_the_grant_and_goes_on_with_a_new_one(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "up@example.org").await;
    s.apply_invoice_paid(
        &invoice("in_u", "sub_u", p.id, at(1, 0), at(31, 0)),
        grace(),
        None,
        at(1, 0),
    )
    .await
    .unwrap();
    let upgraded = state("sub_u", p.id, "active", "basic", at(10, 0));
    let sub = s
        .apply_subscription(&upgraded, grace(), None, at(10, 0))
        .await
        .unwrap();
    assert_eq!(sub.tier_id.as_deref(), Some("basic"));
    let grants = s.grants(p.id).await.unwrap();
    assert_eq!(grants.len(), 2);
    assert_eq!(window(grants[0].span), (at(1, 0), at(10, 0)));
    assert_eq!(grants[0].tier_id, "premium");
    assert_eq!(window(grants[1].span), (at(10, 0), at(31, 0) + grace()));
    assert_eq!(grants[1].tier_id, "basic");
    assert_eq!(sub.grant_id, Some(grants[1].id));
    // The same event again changes nothing.
    s.apply_subscription(&upgraded, grace(), None, at(10, 1))
        .await
        .unwrap();
    assert_eq!(s.grants(p.id).await.unwrap().len(), 2);
}

async fn a_failed_invoice_then_paid_counts_once_and_mails_once(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "fail@example.org").await;
    let inv = invoice("in_f", "sub_f", p.id, at(1, 0), at(31, 0));
    let failed_mail = NewMail::new(
        "fail@example.org",
        "payment_failed",
        "en",
        serde_json::json!({}),
        at(1, 0),
    );
    assert!(
        s.apply_invoice_failed(&inv, Some(&failed_mail), at(1, 0))
            .await
            .unwrap()
    );
    assert!(
        !s.apply_invoice_failed(&inv, Some(&failed_mail), at(1, 1))
            .await
            .unwrap()
    );
    assert!(s.grants(p.id).await.unwrap().is_empty());
    assert!(
        s.apply_invoice_paid(&inv, grace(), None, at(2, 0))
            .await
            .unwrap(),
        "paid after all"
    );
    assert!(
        !s.apply_invoice_failed(&inv, None, at(2, 1)).await.unwrap(),
        "never over a paid one"
    );
    let payments = s.payments_of(p.id, 10).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::Paid);
    let mails = s.outbox(None, None, 10).await.unwrap();
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.template == "payment_failed")
            .count(),
        1
    );
}

fn pass(pi: &str, profile: Uuid) -> PassPaid {
    PassPaid {
        payment_intent: pi.into(),
        profile_id: profile,
        stripe_price_id: "price_pass".into(),
        tier_id: "premium".into(),
        days: 30,
        amount: 1500,
        currency: "eur".into(),
        paid_at: at(3, 0),
    }
}

async fn a_pass_is_granted_once_and_a_refund_revokes_it(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "pass@example.org").await;
    assert_eq!(
        s.apply_charge_change("pi_p", ChargeChange::Refunded, at(3, 0))
            .await
            .unwrap(),
        ChargeApplied::Unknown,
        "a refund before its payment is known"
    );
    let grant = s
        .apply_pass_paid(&pass("pi_p", p.id), None, at(3, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.apply_pass_paid(&pass("pi_p", p.id), None, at(3, 1))
            .await
            .unwrap(),
        None
    );
    let grants = s.grants(p.id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].span,
        GrantSpan::Duration {
            seconds: 30 * 86_400
        }
    );
    assert_eq!(grants[0].id, grant);
    let partly = s
        .apply_charge_change("pi_p", ChargeChange::PartlyRefunded, at(4, 0))
        .await
        .unwrap();
    assert!(matches!(partly, ChargeApplied::Applied(ref p, _) if p.status == PaymentStatus::Paid));
    assert!(s.grants(p.id).await.unwrap()[0].revoked_at.is_none());
    let refunded = s
        .apply_charge_change("pi_p", ChargeChange::Refunded, at(5, 0))
        .await
        .unwrap();
    assert!(
        matches!(refunded, ChargeApplied::Applied(ref p, _) if p.status == PaymentStatus::Refunded)
    );
    assert_eq!(s.grants(p.id).await.unwrap()[0].revoked_at, Some(at(5, 0)));
    // Again: nothing more.
    s.apply_charge_change("pi_p", ChargeChange::Refunded, at(6, 0))
        .await
        .unwrap();
    assert_eq!(s.grants(p.id).await.unwrap()[0].revoked_at, Some(at(5, 0)));
}

async fn disputes_pause_resume_and_revoke_a_pass_in_any_order(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "dispute@example.org").await;
    s.apply_pass_paid(&pass("pi_won", p.id), None, at(3, 0))
        .await
        .unwrap();
    s.apply_pass_paid(&pass("pi_lost", p.id), None, at(3, 0))
        .await
        .unwrap();
    s.apply_pass_paid(&pass("pi_late", p.id), None, at(3, 0))
        .await
        .unwrap();
    s.apply_charge_change("pi_won", ChargeChange::DisputeOpened, at(4, 0))
        .await
        .unwrap();
    s.apply_charge_change("pi_lost", ChargeChange::DisputeOpened, at(4, 0))
        .await
        .unwrap();
    let grants = s.grants(p.id).await.unwrap();
    let payments = s.payments_of(p.id, 10).await.unwrap();
    let of = |pi: &str| payments.iter().find(|x| x.id == pi).unwrap().clone();
    let won_grant = of("pi_won").grant_id.unwrap();
    let paused: Vec<_> = grants
        .iter()
        .filter(|g| !g.pauses.is_empty())
        .map(|g| g.id)
        .collect();
    assert_eq!(paused.len(), 2);
    assert_eq!(
        grants.iter().find(|g| g.id == won_grant).unwrap().pauses[0].reason,
        "dispute"
    );
    s.apply_charge_change("pi_won", ChargeChange::DisputeWon, at(6, 0))
        .await
        .unwrap();
    s.apply_charge_change("pi_lost", ChargeChange::DisputeLost, at(6, 0))
        .await
        .unwrap();
    // Closed before opened arrives: the late "opened" changes nothing.
    s.apply_charge_change("pi_late", ChargeChange::DisputeWon, at(6, 0))
        .await
        .unwrap();
    s.apply_charge_change("pi_late", ChargeChange::DisputeOpened, at(7, 0))
        .await
        .unwrap();
    let grants = s.grants(p.id).await.unwrap();
    let payments = s.payments_of(p.id, 10).await.unwrap();
    let of = |pi: &str| payments.iter().find(|x| x.id == pi).unwrap().clone();
    let grant_of = |pi: &str| {
        let id = of(pi).grant_id.unwrap();
        grants.iter().find(|g| g.id == id).unwrap().clone()
    };
    assert_eq!(grant_of("pi_won").pauses[0].resumed_at, Some(at(6, 0)));
    assert!(grant_of("pi_won").revoked_at.is_none());
    assert_eq!(grant_of("pi_lost").revoked_at, Some(at(6, 0)));
    assert!(grant_of("pi_late").pauses.is_empty());
    assert_eq!(of("pi_won").status, PaymentStatus::Paid);
    assert_eq!(of("pi_lost").status, PaymentStatus::DisputeLost);
    assert_eq!(of("pi_late").dispute.as_deref(), Some("won"));
}

async fn figures_count_paying_subscribers_and_revenue(db: &TestDb) {
    let s = &*db.store;
    s.create_price(&price("price_premium", "premium", PriceKind::Subscription))
        .await
        .unwrap();
    let mut yearly = price("price_basic", "basic", PriceKind::Subscription);
    yearly.interval = Some("year".into());
    yearly.amount = 12_000;
    s.create_price(&yearly).await.unwrap();
    let a = user(s, "a@example.org").await;
    let b = user(s, "b@example.org").await;
    let c = user(s, "c@example.org").await;
    s.apply_subscription(
        &state("sub_a", a.id, "active", "premium", at(1, 0)),
        grace(),
        None,
        at(1, 0),
    )
    .await
    .unwrap();
    s.apply_subscription(
        &state("sub_b", b.id, "past_due", "basic", at(1, 0)),
        grace(),
        None,
        at(1, 0),
    )
    .await
    .unwrap();
    let mut gone = state("sub_c", c.id, "canceled", "premium", at(1, 0));
    gone.ended_at = Some(at(1, 0));
    s.apply_subscription(&gone, grace(), None, at(1, 0))
        .await
        .unwrap();
    s.apply_invoice_paid(
        &invoice("in_a", "sub_a", a.id, at(2, 0), at(28, 0)),
        grace(),
        None,
        at(2, 0),
    )
    .await
    .unwrap();
    s.apply_pass_paid(&pass("pi_c", c.id), None, at(3, 0))
        .await
        .unwrap();
    let figures = s.billing_figures(at(1, 0)).await.unwrap();
    assert_eq!(figures.paying_subscribers, 2);
    assert_eq!(
        figures.monthly_recurring,
        vec![("eur".to_owned(), 999 + 1000)]
    );
    assert_eq!(figures.revenue_since, vec![("eur".to_owned(), 999 + 1500)]);
    assert_eq!(
        s.billing_figures(at(20, 0)).await.unwrap().revenue_since,
        vec![]
    );
    assert_eq!(s.subscriptions(at(1, 0), 10).await.unwrap().len(), 3);
    assert_eq!(
        s.subscriptions(at(2, 0), 10).await.unwrap().len(),
        2,
        "ended before"
    );
}

async fn an_invoice_applied_at_once_by_many_counts_once(db: &TestDb) {
    let s: Arc<dyn Store> = db.store.clone();
    let p = user(&*s, "race@example.org").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let inv = invoice("in_r", "sub_r", p.id, at(1, 0), at(31, 0));
                let mail = NewMail::new(
                    "race@example.org",
                    "payment_received",
                    "en",
                    serde_json::json!({}),
                    at(1, i),
                );
                s.apply_invoice_paid(&inv, grace(), Some(&mail), at(1, i))
                    .await
            })
        })
        .collect();
    let mut newly = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            newly += 1;
        }
    }
    assert_eq!(newly, 1);
    assert_eq!(s.grants(p.id).await.unwrap().len(), 1);
    assert_eq!(s.payments_of(p.id, 10).await.unwrap().len(), 1);
    let mails = s.outbox(None, None, 10).await.unwrap();
    assert_eq!(mails.len(), 1);
}

async fn the_ending_mail_goes_out_once_per_end(db: &TestDb) {
    let s = &*db.store;
    let p = user(s, "ending@example.org").await;
    let mail = |n: u32| {
        NewMail::new(
            "ending@example.org",
            "subscription_ending",
            "en",
            serde_json::json!({}),
            at(n, 0),
        )
    };
    let active = state("sub_m", p.id, "active", "premium", at(1, 0));
    s.apply_subscription(&active, grace(), Some(&mail(1)), at(1, 0))
        .await
        .unwrap();
    let mut ending = state("sub_m", p.id, "active", "premium", at(2, 0));
    ending.cancel_at_period_end = true;
    s.apply_subscription(&ending, grace(), Some(&mail(2)), at(2, 0))
        .await
        .unwrap();
    s.apply_subscription(&ending, grace(), Some(&mail(2)), at(2, 1))
        .await
        .unwrap();
    let mut ended = state("sub_m", p.id, "canceled", "premium", at(3, 0));
    ended.ended_at = Some(at(3, 0));
    ended.cancel_at_period_end = true;
    s.apply_subscription(&ended, grace(), Some(&mail(3)), at(3, 0))
        .await
        .unwrap();
    let count = |mails: &[mitai_store::OutboxMail]| {
        mails
            .iter()
            .filter(|m| m.template == "subscription_ending")
            .count()
    };
    assert_eq!(count(&s.outbox(None, None, 10).await.unwrap()), 1);
    // Resumed, then cancelled again: a second mail.
    let q = user(s, "again@example.org").await;
    let mut on = state("sub_n", q.id, "active", "premium", at(1, 0));
    on.cancel_at_period_end = true;
    s.apply_subscription(&on, grace(), Some(&mail(1)), at(1, 0))
        .await
        .unwrap();
    on.cancel_at_period_end = false;
    on.at = at(2, 0);
    s.apply_subscription(&on, grace(), Some(&mail(2)), at(2, 0))
        .await
        .unwrap();
    on.cancel_at_period_end = true;
    on.at = at(3, 0);
    s.apply_subscription(&on, grace(), Some(&mail(3)), at(3, 0))
        .await
        .unwrap();
    assert_eq!(count(&s.outbox(None, None, 10).await.unwrap()), 3);
}
