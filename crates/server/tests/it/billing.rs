//! Payments end to end (issue 26): `mitai` against the Stripe stand-in
//! (`common::stripe`), whose signed events are posted to the webhook as Stripe would — in
//! order, out of order, repeated — on both backends.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use mitai_server::config::ServeArgs;
use mitai_store::Backend;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::common::stripe::{KEY, StandIn, WEBHOOK_SECRET, signature};

on_both_backends!(
    a_subscription_is_bought_renewed_and_ends,
    a_failed_renewal_keeps_access_for_the_grace_days_only,
    cancel_at_period_end_and_an_immediate_end,
    an_upgrade_switches_the_plan_from_then_on,
    a_pass_stacks_after_a_subscription_and_a_refund_revokes_it,
    disputes_won_and_lost,
    events_out_of_order_and_repeated_apply_once,
    forged_and_stale_signatures_change_nothing,
    stripe_down_records_nothing_and_a_retry_makes_one_customer,
    payments_off,
    admins_sell_prices_and_see_subscriptions_events_and_figures,
    a_refund_before_its_payment_is_applied_by_the_job,
    deleting_an_account_cancels_its_subscription_at_stripe,
    the_pages_sell_and_show_billing,
    the_pages_without_payments,
    a_burst_of_webhooks_is_applied_once,
    the_daily_reconciliation_repairs_missed_events,
);

/// An app with payments on, against a fresh stand-in holding three prices.
pub(crate) async fn app(backend: Backend) -> (TestApp, StandIn) {
    app_with(backend, ServeArgs::default()).await
}

pub(crate) async fn app_with(backend: Backend, args: ServeArgs) -> (TestApp, StandIn) {
    let stand_in = StandIn::start().await;
    stand_in.add_recurring("price_premium_month", 999, "month");
    stand_in.add_recurring("price_basic_month", 499, "month");
    stand_in.add_one_time("price_premium_pass", 1500);
    let args = ServeArgs {
        test_clock: "1".into(),
        stripe_secret_key: Some(KEY.into()),
        stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
        stripe_api_base: stand_in.base.clone(),
        ..args
    };
    (TestApp::with_args(backend, args).await, stand_in)
}

/// Puts the three stand-in prices on sale, with no trial for new people (every plan in
/// these tests is bought); answers their Mitai ids (month, basic, pass).
async fn sell(app: &TestApp, admin: &str) -> (String, String, String) {
    app.set_setting(admin, "trial_days", json!(0)).await;
    put_on_sale(app, admin).await
}

/// Puts the three stand-in prices on sale; answers their Mitai ids (month, basic, pass).
pub(crate) async fn put_on_sale(app: &TestApp, admin: &str) -> (String, String, String) {
    let mut ids = Vec::new();
    for (stripe, tier, days) in [
        ("price_premium_month", "premium", None),
        ("price_basic_month", "basic", None),
        ("price_premium_pass", "premium", Some(30)),
    ] {
        let (status, body) = app
            .post(
                "/api/admin/billing/prices",
                Some(admin),
                json!({"stripe_price_id": stripe, "tier": tier, "days": days}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    (ids[0].clone(), ids[1].clone(), ids[2].clone())
}

/// Posts each event, signed now, to the webhook (each answered 200 within a second), then
/// applies whatever is still due, as the job would.
pub(crate) async fn deliver(app: &TestApp, events: &[Value]) {
    for event in events {
        let body = event.to_string();
        let t = app.state.now().timestamp();
        let started = std::time::Instant::now();
        let (status, _, answer) = app.send(webhook(&body, &signature(&body, t))).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&answer)
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
    settle(app).await;
}

/// Applies what is still due, as the job would, and waits until no event is being applied
/// (the webhook applies each in a task of its own).
pub(crate) async fn settle(app: &TestApp) {
    use mitai_store::billing::EventStatus;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        mitai_server::service::billing::process_due(&app.state)
            .await
            .unwrap();
        let mut busy = 0;
        for status in [EventStatus::Pending, EventStatus::Processing] {
            busy += app
                .db
                .store
                .billing_events(Some(status), 10)
                .await
                .unwrap()
                .len();
        }
        if busy == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events still being applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn webhook(body: &str, signature: &str) -> Request<Body> {
    Request::post("/api/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// Buys `price` as the holder of `token` and completes the checkout at the stand-in.
pub(crate) async fn buy(app: &TestApp, stand_in: &StandIn, token: &str, price: &str) -> Vec<Value> {
    let (status, body) = app
        .post(
            "/api/me/billing/checkout",
            Some(token),
            json!({"price_id": price}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/checkout/cs_", stand_in.base)),
        "{url}"
    );
    let session = url.rsplit('/').next().unwrap().to_owned();
    stand_in.complete_checkout(&session, app.state.now())
}

/// The plan of `email` now (signed in afresh: the test clock moves past sessions' ends).
async fn tier(app: &TestApp, email: &str) -> String {
    let token = app.login(email, "password123").await;
    let (status, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["effective_tier"]
        .as_str()
        .or(me["profile"]["effective_tier"].as_str())
        .unwrap_or_else(|| panic!("no effective tier: {me}"))
        .to_owned()
}

/// `GET /api/me/billing` of `email`.
async fn billing_of(app: &TestApp, email: &str) -> Value {
    let token = app.login(email, "password123").await;
    let (status, body) = app.get("/api/me/billing", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn sub_of(events: &[Value]) -> String {
    events
        .iter()
        .find(|e| e["type"] == "customer.subscription.created")
        .map(|e| e["data"]["object"]["id"].as_str().unwrap().to_owned())
        .unwrap()
}

fn now(app: &TestApp) -> DateTime<Utc> {
    app.state.now()
}

async fn templates_to(app: &TestApp, email: &str) -> Vec<String> {
    app.db
        .store
        .outbox(None, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.to == email)
        .map(|m| m.template)
        .collect()
}

async fn a_subscription_is_bought_renewed_and_ends(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("buyer@example.org").await;
    assert_eq!(tier(&app, "buyer@example.org").await, "free");
    let events = buy(&app, &stand_in, &token, &month).await;
    // Coming back from Checkout grants nothing: only the events do.
    assert_eq!(tier(&app, "buyer@example.org").await, "free");
    deliver(&app, &events).await;
    assert_eq!(tier(&app, "buyer@example.org").await, "premium");
    let billing = billing_of(&app, "buyer@example.org").await;
    assert_eq!(billing["subscription"]["status"], "active");
    assert_eq!(billing["subscription"]["tier"], "premium");
    assert_eq!(billing["subscription"]["price_id"], json!(month));
    assert_eq!(
        billing["payments"].as_array().unwrap().len(),
        1,
        "{billing}"
    );
    assert_eq!(billing["payments"][0]["amount"], 999);
    assert_eq!(
        templates_to(&app, "buyer@example.org")
            .await
            .iter()
            .filter(|t| *t == "payment_received")
            .count(),
        1,
        "invoice.paid and invoice.payment_succeeded: one payment, one mail"
    );
    // A subscription runs: another one cannot be bought.
    let (status, body) = app
        .post(
            "/api/me/billing/checkout",
            Some(&token),
            json!({"price_id": month}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "subscription_active");
    // The renewal continues access.
    let sub = sub_of(&events);
    app.advance(29 * 86_400).await;
    let renewal = stand_in.renew(&sub, true, now(&app));
    deliver(&app, &renewal).await;
    app.advance(10 * 86_400).await;
    assert_eq!(
        tier(&app, "buyer@example.org").await,
        "premium",
        "day 39: the second period"
    );
    let billing = billing_of(&app, "buyer@example.org").await;
    assert_eq!(billing["payments"].as_array().unwrap().len(), 2);
    // Past the second period and its grace: free again.
    app.advance(24 * 86_400).await;
    assert_eq!(tier(&app, "buyer@example.org").await, "free");
}

async fn a_failed_renewal_keeps_access_for_the_grace_days_only(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("late@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    let sub = sub_of(&events);
    app.advance(30 * 86_400 + 3600).await;
    deliver(&app, &stand_in.renew(&sub, false, now(&app))).await;
    assert!(
        templates_to(&app, "late@example.org")
            .await
            .contains(&"payment_failed".to_owned())
    );
    let billing = billing_of(&app, "late@example.org").await;
    assert_eq!(billing["subscription"]["status"], "past_due");
    // Inside the grace (3 days by default): still premium.
    app.advance(2 * 86_400).await;
    assert_eq!(tier(&app, "late@example.org").await, "premium");
    // Past it: free.
    app.advance(86_400).await;
    assert_eq!(tier(&app, "late@example.org").await, "free");
    // Stripe's retry succeeds: access again, counted once.
    deliver(&app, &stand_in.renew(&sub, true, now(&app))).await;
    assert_eq!(tier(&app, "late@example.org").await, "premium");
}

async fn cancel_at_period_end_and_an_immediate_end(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("leaves@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    let sub = sub_of(&events);
    let start = now(&app);
    app.advance(5 * 86_400).await;
    deliver(&app, &stand_in.cancel_at_period_end(&sub, now(&app))).await;
    let billing = billing_of(&app, "leaves@example.org").await;
    assert_eq!(billing["subscription"]["cancel_at_period_end"], true);
    assert_eq!(
        templates_to(&app, "leaves@example.org")
            .await
            .iter()
            .filter(|t| *t == "subscription_ending")
            .count(),
        1
    );
    // At the period's end Stripe ends it: no grace after a chosen end.
    app.advance(25 * 86_400).await;
    deliver(&app, &stand_in.end(&sub, start + TimeDelta::days(30))).await;
    app.advance(60).await;
    assert_eq!(tier(&app, "leaves@example.org").await, "free");
    assert_eq!(
        templates_to(&app, "leaves@example.org")
            .await
            .iter()
            .filter(|t| *t == "subscription_ending")
            .count(),
        1,
        "one mail for one end"
    );

    // Another person's subscription ends at once.
    let (token, _) = app.user("now@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    assert_eq!(tier(&app, "now@example.org").await, "premium");
    deliver(&app, &stand_in.end(&sub_of(&events), now(&app))).await;
    app.advance(1).await;
    assert_eq!(tier(&app, "now@example.org").await, "free");
}

async fn an_upgrade_switches_the_plan_from_then_on(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (_, basic, _) = sell(&app, &admin).await;
    let (token, _) = app.user("up@example.org").await;
    let events = buy(&app, &stand_in, &token, &basic).await;
    deliver(&app, &events).await;
    assert_eq!(tier(&app, "up@example.org").await, "basic");
    app.advance(86_400).await;
    let sub = sub_of(&events);
    deliver(
        &app,
        &stand_in.change_price(&sub, "price_premium_month", now(&app)),
    )
    .await;
    assert_eq!(tier(&app, "up@example.org").await, "premium");
    let (_, grants) = app.get("/api/me/grants", Some(&token)).await;
    let grants = grants["items"].as_array().unwrap();
    assert_eq!(grants.len(), 2, "{grants:?}");
    assert!(grants.iter().all(|g| g["source"] == "stripe"));
}

async fn a_pass_stacks_after_a_subscription_and_a_refund_revokes_it(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, pass) = sell(&app, &admin).await;
    let (token, _) = app.user("both@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    // A pass may be bought while a subscription runs; it waits behind it.
    let pass_events = buy(&app, &stand_in, &token, &pass).await;
    deliver(&app, &pass_events).await;
    deliver(
        &app,
        &stand_in.end(&sub_of(&events), now(&app) + TimeDelta::days(10)),
    )
    .await;
    app.advance(20 * 86_400).await;
    assert_eq!(
        tier(&app, "both@example.org").await,
        "premium",
        "the pass runs after the subscription"
    );
    let intent = pass_events[0]["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    // Part of it refunded: kept. All of it: revoked.
    deliver(&app, &stand_in.refund(&intent, 1500, 500, now(&app))).await;
    assert_eq!(tier(&app, "both@example.org").await, "premium");
    deliver(&app, &stand_in.refund(&intent, 1500, 1500, now(&app))).await;
    assert_eq!(tier(&app, "both@example.org").await, "free");
    let billing = billing_of(&app, "both@example.org").await;
    let statuses: Vec<&str> = billing["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"refunded"), "{statuses:?}");
}

async fn disputes_won_and_lost(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (_, _, pass) = sell(&app, &admin).await;
    let (won, _) = app.user("won@example.org").await;
    let (lost, _) = app.user("lost@example.org").await;
    let intent = |events: &[Value]| {
        events[0]["data"]["object"]["payment_intent"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let won_events = buy(&app, &stand_in, &won, &pass).await;
    deliver(&app, &won_events).await;
    let lost_events = buy(&app, &stand_in, &lost, &pass).await;
    deliver(&app, &lost_events).await;
    assert_eq!(tier(&app, "won@example.org").await, "premium");
    let won_dispute = stand_in.dispute(&intent(&won_events), "won", now(&app));
    let lost_dispute = stand_in.dispute(&intent(&lost_events), "lost", now(&app));
    // Opened: paused.
    deliver(&app, &won_dispute[..1]).await;
    deliver(&app, &lost_dispute[..1]).await;
    app.advance(60).await;
    assert_eq!(
        tier(&app, "won@example.org").await,
        "free",
        "paused while disputed"
    );
    deliver(&app, &won_dispute[1..]).await;
    deliver(&app, &lost_dispute[1..]).await;
    app.advance(60).await;
    assert_eq!(
        tier(&app, "won@example.org").await,
        "premium",
        "won: resumed"
    );
    assert_eq!(
        tier(&app, "lost@example.org").await,
        "free",
        "lost: revoked"
    );
}

async fn events_out_of_order_and_repeated_apply_once(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("order@example.org").await;
    let mut events = buy(&app, &stand_in, &token, &month).await;
    // The invoice first, the checkout last, and everything twice.
    events.reverse();
    let twice: Vec<Value> = events.iter().chain(events.iter()).cloned().collect();
    deliver(&app, &twice).await;
    assert_eq!(tier(&app, "order@example.org").await, "premium");
    let billing = billing_of(&app, "order@example.org").await;
    assert_eq!(billing["payments"].as_array().unwrap().len(), 1);
    assert_eq!(billing["subscription"]["status"], "active");
    let (_, listed) = app.get("/api/admin/billing/events", Some(&admin)).await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        events.len(),
        "each once"
    );
    // A type Mitai does not act on is recorded and ignored.
    let unknown = stand_in.event(
        "customer.created",
        &json!({"id": "cus_x", "object": "customer"}),
        now(&app),
    );
    deliver(&app, &[unknown]).await;
    let (_, ignored) = app
        .get("/api/admin/billing/events?status=ignored", Some(&admin))
        .await;
    assert_eq!(ignored["items"][0]["type"], "customer.created", "{ignored}");
    // An older state after a newer one changes nothing: the end, then a stale update.
    let sub = sub_of(&events);
    let stale = stand_in.event(
        "customer.subscription.updated",
        &json!({"id": sub, "object": "subscription", "status": "active",
                "cancel_at_period_end": false, "ended_at": null,
                "items": {"data": [{"price": {"id": "price_premium_month"}}]}}),
        now(&app) - TimeDelta::hours(1),
    );
    app.advance(60).await;
    deliver(&app, &stand_in.end(&sub, now(&app))).await;
    deliver(&app, &[stale]).await;
    let billing = billing_of(&app, "order@example.org").await;
    assert_eq!(billing["subscription"]["status"], "canceled");
    app.advance(1).await;
    assert_eq!(tier(&app, "order@example.org").await, "free");
    assert_eq!(
        templates_to(&app, "order@example.org")
            .await
            .iter()
            .filter(|t| *t == "payment_received")
            .count(),
        1
    );
}

async fn forged_and_stale_signatures_change_nothing(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("forged@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    let t = now(&app).timestamp();
    for event in &events {
        let body = event.to_string();
        let forged = mitai_server::stripe::sign(body.as_bytes(), "whsec_not_ours", t);
        let stale = signature(&body, t - 301);
        for bad in [forged.as_str(), stale.as_str(), "", "t=1,v1=00"] {
            let (status, _, answer) = app.send(webhook(&body, bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(answer["error"]["code"], "invalid_signature");
        }
        // Signed over another body.
        let other = signature(&body.replace("premium", "basic"), t);
        assert_eq!(
            app.send(webhook(&body, &other)).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    mitai_server::service::billing::process_due(&app.state)
        .await
        .unwrap();
    let (_, listed) = app.get("/api/admin/billing/events", Some(&admin)).await;
    assert_eq!(listed["items"], json!([]), "nothing recorded");
    assert_eq!(tier(&app, "forged@example.org").await, "free");
}

async fn stripe_down_records_nothing_and_a_retry_makes_one_customer(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("down@example.org").await;
    stand_in.set_down(true);
    for _ in 0..2 {
        let (status, body) = app
            .post(
                "/api/me/billing/checkout",
                Some(&token),
                json!({"price_id": month}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(body["error"]["code"], "billing_failed");
    }
    let (status, body) = app
        .post(
            "/api/admin/billing/prices",
            Some(&admin),
            json!({"stripe_price_id": "price_basic_month", "tier": "premium"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let (status, body) = app
        .post("/api/me/billing/portal", Some(&token), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "no customer was kept: {body}");
    assert_eq!(body["error"]["code"], "no_billing_account");
    stand_in.set_down(false);
    let (status, _) = app
        .post(
            "/api/me/billing/checkout",
            Some(&token),
            json!({"price_id": month}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            "/api/me/billing/checkout",
            Some(&token),
            json!({"price_id": month}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stand_in.world.lock().unwrap().customers.len(),
        1,
        "one customer"
    );
    let (status, portal) = app
        .post("/api/me/billing/portal", Some(&token), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{portal}");
    assert!(portal["url"].as_str().unwrap().starts_with(&stand_in.base));
    // Stripe does not know a price: 422, nothing sold.
    let (status, body) = app
        .post(
            "/api/admin/billing/prices",
            Some(&admin),
            json!({"stripe_price_id": "price_nobody", "tier": "premium"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["stripe_price_id"].is_string());
    let calls = stand_in.world.lock().unwrap().calls.clone();
    assert!(calls.iter().any(|c| c == "POST /v1/customers"));
}

async fn payments_off(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (token, _) = app.user("nopay@example.org").await;
    let (status, prices) = app.get("/api/billing/prices", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(prices["items"], json!([]));
    let (status, body) = app
        .post(
            "/api/me/billing/checkout",
            Some(&token),
            json!({"price_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "billing_unavailable");
    let (status, body) = app
        .post("/api/me/billing/portal", Some(&token), json!({}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = app
        .post(
            "/api/admin/billing/prices",
            Some(&admin),
            json!({"stripe_price_id": "price_1", "tier": "premium"}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let body = json!({"id": "evt_1", "type": "invoice.paid", "created": 1}).to_string();
    let signed = signature(&body, now(&app).timestamp());
    assert_eq!(
        app.send(webhook(&body, &signed)).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, billing) = app.get("/api/me/billing", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(billing, json!({"subscription": null, "payments": []}));
}

async fn admins_sell_prices_and_see_subscriptions_events_and_figures(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, pass) = sell(&app, &admin).await;
    let (status, prices) = app.get("/api/billing/prices", None).await;
    assert_eq!(status, StatusCode::OK);
    let items = prices["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let monthly = items.iter().find(|p| p["id"] == json!(month)).unwrap();
    assert_eq!(monthly["kind"], "subscription");
    assert_eq!(monthly["interval"], "month");
    assert_eq!(monthly["amount"], 999);
    assert_eq!(monthly["currency"], "eur");
    let one = items.iter().find(|p| p["id"] == json!(pass)).unwrap();
    assert_eq!(
        (one["kind"].clone(), one["days"].clone()),
        (json!("one_time"), json!(30))
    );
    // A one-time price without days, a price sold twice, an unknown tier: 422.
    for (body, field) in [
        (
            json!({"stripe_price_id": "price_premium_pass", "tier": "basic"}),
            "days",
        ),
        (
            json!({"stripe_price_id": "price_premium_month", "tier": "premium"}),
            "stripe_price_id",
        ),
        (
            json!({"stripe_price_id": "price_basic_month", "tier": "gold"}),
            "tier",
        ),
        (
            json!({"stripe_price_id": "../x", "tier": "premium"}),
            "stripe_price_id",
        ),
    ] {
        let (status, answer) = app
            .post("/api/admin/billing/prices", Some(&admin), body)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer["error"]["fields"][field].is_string(), "{answer}");
    }
    // Off sale: not listed, not bought.
    let (status, off) = app
        .patch(
            &format!("/api/admin/billing/prices/{pass}"),
            Some(&admin),
            json!({"active": false, "label": "Thirty days"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{off}");
    assert_eq!(off["label"], "Thirty days");
    let (_, prices) = app.get("/api/billing/prices", None).await;
    assert_eq!(prices["items"].as_array().unwrap().len(), 2);
    let (token, profile) = app.user("payer@example.org").await;
    let (status, _) = app
        .post(
            "/api/me/billing/checkout",
            Some(&token),
            json!({"price_id": pass}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (unverified, _) = app.unverified_user("unverified@example.org").await;
    let (status, body) = app
        .post(
            "/api/me/billing/checkout",
            Some(&unverified),
            json!({"price_id": month}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "email_not_verified");

    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    let (_, subs) = app
        .get("/api/admin/billing/subscriptions", Some(&admin))
        .await;
    let subs = subs["items"].as_array().unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["email"], "payer@example.org");
    assert_eq!(subs[0]["price_id"], json!(month));
    let (_, processed) = app
        .get("/api/admin/billing/events?status=processed", Some(&admin))
        .await;
    assert_eq!(processed["items"].as_array().unwrap().len(), events.len());
    let (status, _) = app
        .get("/api/admin/billing/events?status=nonsense", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A refund of a payment not known yet fails, is shown, and an admin's retry applies it
    // once the payment is known.
    deliver(&app, &stand_in.refund("pi_unknown", 100, 100, now(&app))).await;
    let (_, failed) = app
        .get("/api/admin/billing/events?status=failed", Some(&admin))
        .await;
    let failed = failed["items"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["error"].as_str().unwrap().contains("pi_unknown"));
    let (status, retried) = app
        .post(
            &format!(
                "/api/admin/billing/events/{}/retry",
                failed[0]["id"].as_str().unwrap()
            ),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["status"], "failed", "still unknown");
    // The sync re-reads the subscription from Stripe.
    let (status, synced) = app
        .post(
            &format!("/api/admin/users/{profile}/billing/sync"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{synced}");
    assert_eq!(synced["subscription"]["status"], "active");
    let figures = mitai_server::service::billing::figures(&app.state)
        .await
        .unwrap();
    assert_eq!(figures.paying_subscribers, 1);
    assert_eq!(figures.monthly_recurring, vec![("eur".to_owned(), 999)]);
    assert_eq!(figures.revenue_since, vec![("eur".to_owned(), 999)]);
    // The audit trail has the prices.
    let (_, log) = app
        .get("/api/admin/activity?action=price_created", Some(&admin))
        .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 3, "{log}");
}

async fn a_refund_before_its_payment_is_applied_by_the_job(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (_, _, pass) = sell(&app, &admin).await;
    let (token, _) = app.user("early-refund@example.org").await;
    let events = buy(&app, &stand_in, &token, &pass).await;
    let intent = events[0]["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    // The refund arrives first: its payment is not known, so it fails and waits; a round of
    // jobs tries it again (still unknown).
    deliver(&app, &stand_in.refund(&intent, 1500, 1500, now(&app))).await;
    let report = mitai_server::service::jobs::run_due(&app.state).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.billing_events_failed, 1);
    // The payment's events come; the job's next round applies the refund after them.
    deliver(&app, &events).await;
    let report = mitai_server::service::jobs::run_due(&app.state).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(tier(&app, "early-refund@example.org").await, "free");
    let (_, failed) = app
        .get("/api/admin/billing/events?status=failed", Some(&admin))
        .await;
    assert_eq!(failed["items"], json!([]));
}

async fn deleting_an_account_cancels_its_subscription_at_stripe(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("goes@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    let sub = sub_of(&events);
    // Stripe fails: nothing is deleted.
    stand_in.set_down(true);
    let (status, body) = app
        .call(
            axum::http::Method::DELETE,
            "/api/me",
            Some(&token),
            Some(json!({"password": "password123"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(tier(&app, "goes@example.org").await, "premium");
    stand_in.set_down(false);
    let (status, body) = app
        .call(
            axum::http::Method::DELETE,
            "/api/me",
            Some(&token),
            Some(json!({"password": "password123"})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let world = stand_in.world.lock().unwrap();
    assert_eq!(world.subscriptions[&sub]["status"], "canceled");
    assert!(
        world
            .calls
            .contains(&format!("DELETE /v1/subscriptions/{sub}"))
    );
}

/// Two instances on one PostgreSQL receive every event (as Stripe may deliver to either):
/// each is applied once — one payment, one grant, one mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_apply_each_event_once() {
    let (app, stand_in) = app(Backend::Postgres).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, profile) = app.user("twice@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    let other_store = mitai_store::connect(&app.db.url).await.unwrap();
    let config = mitai_server::config::Config::from_args(&ServeArgs {
        test_clock: "1".into(),
        database_url: app.db.url.clone(),
        stripe_secret_key: Some(KEY.into()),
        stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
        stripe_api_base: stand_in.base.clone(),
        ..ServeArgs::default()
    })
    .unwrap();
    let other = mitai_server::AppState::new(other_store, config)
        .await
        .unwrap();
    let other_router = mitai_server::app(other.clone());
    let mut sends = Vec::new();
    for event in &events {
        let body = event.to_string();
        let signed = signature(&body, app.state.now().timestamp());
        for router in [app.router.clone(), other_router.clone()] {
            let request = webhook(&body, &signed);
            sends.push(tokio::spawn(async move {
                use tower::ServiceExt;
                router.oneshot(request).await.unwrap().status()
            }));
        }
    }
    for send in sends {
        assert_eq!(send.await.unwrap(), StatusCode::OK);
    }
    let (a, b) = tokio::join!(
        mitai_server::service::billing::process_due(&app.state),
        mitai_server::service::billing::process_due(&other)
    );
    a.unwrap();
    b.unwrap();
    settle(&app).await;
    assert_eq!(tier(&app, "twice@example.org").await, "premium");
    let billing = billing_of(&app, "twice@example.org").await;
    assert_eq!(billing["payments"].as_array().unwrap().len(), 1);
    let grants = app
        .db
        .store
        .grants(uuid::Uuid::parse_str(&profile).unwrap())
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        templates_to(&app, "twice@example.org")
            .await
            .iter()
            .filter(|t| *t == "payment_received")
            .count(),
        1
    );
}

/// A page as the holder of `token` sees it (signed out without one): status, body, headers.
async fn page(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String, axum::http::HeaderMap) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("cookie", format!("mitai_session={token}"));
    }
    let (status, headers, body) = app.send(request.body(Body::empty()).unwrap()).await;
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

/// A form of the pages posted by the holder of `token` (with its CSRF token).
async fn form(
    app: &TestApp,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, axum::http::HeaderMap) {
    let csrf = mitai_server::ui::csrf_token(&mitai_server::service::credentials::token_hash(token));
    let mut body = format!("_csrf={csrf}");
    for (k, v) in fields {
        body.push_str(&format!(
            "&{k}={}",
            v.replace('%', "%25").replace('&', "%26").replace(' ', "+")
        ));
    }
    let request = Request::post(path)
        .header("cookie", format!("mitai_session={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let (status, headers, body) = app.send(request).await;
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

fn location(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn the_pages_sell_and_show_billing(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    app.set_setting(&admin, "trial_days", json!(0)).await;
    // The admin sells the prices on /admin/billing.
    let (status, html, _) = page(&app, "/admin/billing", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"stripe_price_id\""), "{html}");
    let (status, html, _) = form(
        &app,
        "/admin/billing/prices",
        &admin,
        &[("stripe_price_id", "price_nobody"), ("tier", "premium")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Stripe does not know it"
    );
    assert!(html.contains("field-error"), "{html}");
    let (status, _, headers) = form(
        &app,
        "/admin/billing/prices",
        &admin,
        &[
            ("stripe_price_id", "price_premium_month"),
            ("tier", "premium"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/admin/billing?done=price_added");
    let (status, _, _) = form(
        &app,
        "/admin/billing/prices",
        &admin,
        &[
            ("stripe_price_id", "price_premium_pass"),
            ("tier", "premium"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // The public price list, signed out: buying first signs in.
    let (status, html, headers) = page(&app, "/pricing", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("9.99 EUR") && html.contains("per month"),
        "{html}"
    );
    assert!(html.contains("/login?next=/pricing"));
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {}", stand_in.base)),
        "{csp}"
    );

    // A person buys on /plan: the form goes to the stand-in's Checkout (303).
    let (token, _) = app.user("pages@example.org").await;
    let (status, html, headers) = page(&app, "/plan", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("action=\"/plan/checkout\""), "{html}");
    assert!(
        !html.contains("action=\"/plan/billing\""),
        "no Manage billing before buying"
    );
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains(&stand_in.base), "{csp}");
    let prices = mitai_server::service::billing::public_prices(&app.state)
        .await
        .unwrap();
    let monthly = prices
        .iter()
        .find(|p| p.kind == "subscription")
        .unwrap()
        .id
        .to_string();
    let (status, _, headers) =
        form(&app, "/plan/checkout", &token, &[("price_id", &monthly)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let url = location(&headers);
    assert!(
        url.starts_with(&format!("{}/checkout/cs_", stand_in.base)),
        "{url}"
    );
    let (_, html, _) = page(&app, "/plan?checkout=success", Some(&token)).await;
    assert!(html.contains("role=\"status\""), "{html}");
    assert!(html.contains("access follows in a moment"), "{html}");
    let session = url.rsplit('/').next().unwrap();
    deliver(&app, &stand_in.complete_checkout(session, now(&app))).await;
    let (_, html, _) = page(&app, "/plan", Some(&token)).await;
    assert!(html.contains("renews on"), "{html}");
    assert!(html.contains("bought"), "the grant's source: {html}");
    assert!(html.contains("action=\"/plan/billing\""));
    // Another subscription is refused in words; Manage billing goes to the portal.
    let (status, html, _) = form(&app, "/plan/checkout", &token, &[("price_id", &monthly)]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("A subscription runs already"), "{html}");
    let (status, _, headers) = form(&app, "/plan/billing", &token, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&headers).starts_with(&format!("{}/portal/cus_", stand_in.base)));
    // A failed renewal reads as such, with the way out.
    let sub = stand_in
        .world
        .lock()
        .unwrap()
        .subscriptions
        .keys()
        .next()
        .unwrap()
        .clone();
    app.advance(30 * 86_400).await;
    deliver(&app, &stand_in.renew(&sub, false, now(&app))).await;
    let token = app.login("pages@example.org", "password123").await;
    let (_, html, _) = page(&app, "/plan", Some(&token)).await;
    assert!(html.contains("payment for Premium failed"), "{html}");

    // The admin sees the subscription, the events, the person's billing; syncs it.
    let admin = app.login("admin@example.org", "adminpass1").await;
    let (status, html, _) = page(&app, "/admin/billing", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("pages@example.org"), "{html}");
    assert!(html.contains("invoice.paid"), "{html}");
    let (_, html, _) = page(&app, "/admin", Some(&admin)).await;
    assert!(html.contains("Monthly recurring revenue"), "{html}");
    let profile = app
        .db
        .store
        .credentials("pages@example.org")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    let (status, html, _) = page(&app, &format!("/admin/users/{profile}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/billing/sync"), "{html}");
    let (status, _, headers) = form(
        &app,
        &format!("/admin/users/{profile}/billing/sync"),
        &admin,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&headers).contains("done=billing_synced"));
    // A price off sale and on again.
    let pass = prices
        .iter()
        .find(|p| p.kind == "one_time")
        .unwrap()
        .id
        .to_string();
    let (status, _, _) = form(
        &app,
        &format!("/admin/billing/prices/{pass}"),
        &admin,
        &[("active", "false")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        mitai_server::service::billing::public_prices(&app.state)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn the_pages_without_payments(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (token, _) = app.user("free@example.org").await;
    let (_, html, headers) = page(&app, "/plan", Some(&token)).await;
    assert!(!html.contains("/plan/checkout"));
    assert!(!html.contains("id=\"billing\""));
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("form-action 'self';"), "{csp}");
    let (status, html, _) = page(&app, "/pricing", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Premium") && !html.contains("EUR"), "{html}");
    let (_, html, _) = page(&app, "/admin/billing", Some(&admin)).await;
    assert!(html.contains("MITAI_STRIPE_SECRET_KEY"), "{html}");
}

/// A burst: 1,100 signed webhooks (1,000 invoices of 100 subscriptions, and 100 of them
/// again) posted by 32 clients at once. Every one is answered 200; afterwards each invoice
/// counts once and each subscription has one grant to its latest paid period. (The time
/// each answer took is printed, not asserted: perf/webhook-burst.py measures it against
/// the release binary.)
async fn a_burst_of_webhooks_is_applied_once(backend: Backend) {
    let (app, _stand_in) = app(backend).await;
    let admin = app.admin().await;
    sell(&app, &admin).await;
    let start = now(&app);
    let mut profiles = Vec::new();
    for i in 0..100 {
        let p = mitai_server::service::accounts::create_user(
            &app.state,
            &format!("burst-{i}@example.org"),
            "password123",
            None,
            false,
        )
        .await
        .unwrap();
        profiles.push(p.id);
    }
    let mut events = Vec::new();
    for (i, profile) in profiles.iter().enumerate() {
        for n in 0..10i64 {
            let from = start + TimeDelta::days(30 * n);
            let invoice = json!({
                "id": format!("in_burst_{i}_{n}"), "object": "invoice", "status": "paid",
                "amount_paid": 999, "amount_due": 999, "currency": "eur",
                "created": from.timestamp(),
                "parent": {"subscription_details": {"subscription": format!("sub_burst_{i}"),
                    "metadata": {"profile_id": profile.to_string()}}},
                "lines": {"data": [{"period": {"start": from.timestamp(),
                    "end": (from + TimeDelta::days(30)).timestamp()},
                    "pricing": {"price_details": {"price": "price_premium_month"}}}]},
            });
            events.push(
                json!({"id": format!("evt_burst_{i}_{n}"), "object": "event",
                "type": "invoice.paid", "created": start.timestamp(),
                "data": {"object": invoice}}),
            );
        }
    }
    // Every tenth event once more, in between.
    let repeats: Vec<Value> = events.iter().step_by(10).cloned().collect();
    let mut all: Vec<Value> = events.clone();
    for (k, e) in repeats.into_iter().enumerate() {
        all.insert((k * 11 + 5).min(all.len()), e);
    }
    assert_eq!(all.len(), 1100);
    let queue = std::sync::Arc::new(std::sync::Mutex::new(all));
    let t = now(&app).timestamp();
    let mut clients = Vec::new();
    for _ in 0..32 {
        let (queue, router) = (queue.clone(), app.router.clone());
        clients.push(tokio::spawn(async move {
            let mut took = Vec::new();
            loop {
                let Some(event) = queue.lock().unwrap().pop() else {
                    return took;
                };
                let body = event.to_string();
                let started = std::time::Instant::now();
                let response = {
                    use tower::ServiceExt;
                    router
                        .clone()
                        .oneshot(webhook(&body, &signature(&body, t)))
                        .await
                        .unwrap()
                };
                assert_eq!(response.status(), StatusCode::OK);
                took.push(started.elapsed());
            }
        }));
    }
    let mut took = Vec::new();
    for c in clients {
        took.extend(c.await.unwrap());
    }
    took.sort();
    eprintln!(
        "{} webhooks: p50 {:?}, p99 {:?}, max {:?}",
        took.len(),
        took[took.len() / 2],
        took[took.len() * 99 / 100],
        took[took.len() - 1]
    );
    settle(&app).await;
    let recorded = app.db.store.billing_events(None, 5000).await.unwrap();
    assert_eq!(recorded.len(), 1000, "each event recorded once");
    assert!(
        recorded
            .iter()
            .all(|e| e.status == mitai_store::billing::EventStatus::Processed),
        "all applied"
    );
    for (i, profile) in profiles.iter().enumerate() {
        assert_eq!(
            app.db.store.payments_of(*profile, 100).await.unwrap().len(),
            10
        );
        let grants = app.db.store.grants(*profile).await.unwrap();
        assert_eq!(grants.len(), 1, "profile {i}");
        let sub = app
            .db
            .store
            .subscription(&format!("sub_burst_{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sub.paid_until, Some(start + TimeDelta::days(300)));
    }
    let figures = mitai_server::service::billing::figures(&app.state)
        .await
        .unwrap();
    assert_eq!(figures.revenue_since, vec![("eur".to_owned(), 999 * 1000)]);
}

/// Events that never arrived (a cancel in the portal, a renewal) are repaired by the daily
/// job, which re-reads each running subscription and its latest invoice from Stripe — once a
/// day.
async fn the_daily_reconciliation_repairs_missed_events(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, _) = sell(&app, &admin).await;
    let (token, _) = app.user("missed@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    let sub = sub_of(&events);
    app.advance(29 * 86_400).await;
    // Stripe renews and the person cancels at the period's end; no event reaches Mitai.
    let _lost = stand_in.renew(&sub, true, now(&app));
    let _lost = stand_in.cancel_at_period_end(&sub, now(&app));
    let before = billing_of(&app, "missed@example.org").await;
    assert_eq!(before["subscription"]["cancel_at_period_end"], false);
    assert_eq!(before["payments"].as_array().unwrap().len(), 1);
    let report = mitai_server::service::jobs::run_due(&app.state).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.subscriptions_reconciled, 1);
    let after = billing_of(&app, "missed@example.org").await;
    assert_eq!(
        after["subscription"]["cancel_at_period_end"], true,
        "{after}"
    );
    assert_eq!(after["payments"].as_array().unwrap().len(), 2, "{after}");
    // Once a day.
    let again = mitai_server::service::jobs::run_due(&app.state).await;
    assert_eq!(again.subscriptions_reconciled, 0);
    app.advance(10 * 86_400).await;
    assert_eq!(
        tier(&app, "missed@example.org").await,
        "premium",
        "the renewal's period"
    );
    let next_day = mitai_server::service::jobs::run_due(&app.state).await;
    assert_eq!(next_day.subscriptions_reconciled, 1);
}
