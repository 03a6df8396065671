//! A Stripe stand-in for the tests: an HTTP server speaking the endpoints Mitai calls
//! (shared/API.md "Payments"), holding prices, customers, checkout sessions, subscriptions
//! and invoices, and making the events Stripe would send — signed by the caller, delivered
//! in any order, as often as a test likes.
//!
//! It checks what Stripe checks of every call (the key, the pinned version, an
//! `Idempotency-Key` on every POST) and answers a repeated key with the first answer, as
//! Stripe does. `down` makes every call fail with 500.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

pub const KEY: &str = "sk_test_standin";
pub const WEBHOOK_SECRET: &str = "whsec_standin";

/// What the stand-in holds.
#[derive(Default)]
pub struct World {
    pub prices: BTreeMap<String, Value>,
    pub customers: BTreeMap<String, Value>,
    pub sessions: BTreeMap<String, Value>,
    pub subscriptions: BTreeMap<String, Value>,
    pub invoices: BTreeMap<String, Value>,
    /// Idempotency key → the first answer.
    replies: BTreeMap<String, Value>,
    /// Every call: method and path.
    pub calls: Vec<String>,
}

#[derive(Clone)]
pub struct StandIn {
    pub base: String,
    pub world: Arc<Mutex<World>>,
    down: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
}

impl StandIn {
    pub async fn start() -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let stand_in = StandIn {
            base: format!("http://{addr}"),
            world: Arc::default(),
            down: Arc::default(),
            next: Arc::new(AtomicU64::new(1)),
        };
        let app = Router::new()
            .route("/v1/prices/{id}", get(price))
            .route("/v1/customers", post(customer))
            .route("/v1/checkout/sessions", post(checkout))
            .route("/v1/billing_portal/sessions", post(portal))
            .route("/v1/subscriptions/{id}", get(subscription).delete(cancel))
            .route("/v1/invoices/{id}", get(invoice))
            .route("/checkout/{id}", get(checkout_page))
            .route("/portal/{id}", get(portal_page))
            .with_state(stand_in.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        stand_in
    }

    /// Every call fails (500) while `down`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn id(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.next.fetch_add(1, Ordering::SeqCst))
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    /// A recurring price.
    pub fn add_recurring(&self, id: &str, amount: i64, interval: &str) {
        self.world().prices.insert(
            id.into(),
            json!({"id": id, "object": "price", "active": true, "currency": "eur",
                   "unit_amount": amount, "type": "recurring", "nickname": null,
                   "recurring": {"interval": interval, "interval_count": 1}}),
        );
    }

    /// A one-time price.
    pub fn add_one_time(&self, id: &str, amount: i64) {
        self.world().prices.insert(
            id.into(),
            json!({"id": id, "object": "price", "active": true, "currency": "eur",
                   "unit_amount": amount, "type": "one_time", "nickname": "A pass",
                   "recurring": null}),
        );
    }

    /// The checkout sessions made so far, oldest first.
    pub fn sessions(&self) -> Vec<Value> {
        self.world().sessions.values().cloned().collect()
    }

    /// The customer paid at Checkout: for a subscription, the subscription and its first
    /// invoice (paid, for `days` from `now`); for a pass, the payment. Answers the events
    /// Stripe sends then, in Stripe's usual order.
    pub fn complete_checkout(&self, session_id: &str, now: DateTime<Utc>) -> Vec<Value> {
        let session = self.world().sessions[session_id].clone();
        let price = session["line_items"][0]["price"]
            .as_str()
            .unwrap()
            .to_owned();
        let customer = session["customer"].as_str().unwrap().to_owned();
        let profile = session["metadata"]["profile_id"].clone();
        let mut completed = session.clone();
        completed["status"] = json!("complete");
        completed["payment_status"] = json!("paid");
        if session["mode"] == "subscription" {
            let sub = self.id("sub");
            completed["subscription"] = json!(sub);
            let object = json!({
                "id": sub, "object": "subscription", "customer": customer,
                "status": "active", "cancel_at_period_end": false, "ended_at": null,
                "metadata": {"profile_id": profile},
                "items": {"data": [{"price": {"id": price},
                    "current_period_start": now.timestamp(),
                    "current_period_end": (now + TimeDelta::days(30)).timestamp()}]},
                "latest_invoice": null,
            });
            self.world()
                .subscriptions
                .insert(sub.clone(), object.clone());
            let invoice = self.invoice_for(&sub, now, now + TimeDelta::days(30), true);
            vec![
                self.event("checkout.session.completed", &completed, now),
                self.event("customer.subscription.created", &object, now),
                self.event("invoice.paid", &invoice, now),
                self.event("invoice.payment_succeeded", &invoice, now),
            ]
        } else {
            let intent = self.id("pi");
            completed["payment_intent"] = json!(intent);
            completed["amount_total"] = self.world().prices[&price]["unit_amount"].clone();
            completed["currency"] = json!("eur");
            self.world()
                .sessions
                .insert(session_id.into(), completed.clone());
            vec![self.event("checkout.session.completed", &completed, now)]
        }
    }

    /// A new invoice of `sub` for `[from, to)`, paid or failed; the subscription's period
    /// moves on with a paid one and is `past_due` after a failed one.
    pub fn invoice_for(
        &self,
        sub: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        paid: bool,
    ) -> Value {
        let id = self.id("in");
        let mut world = self.world();
        let object = world.subscriptions.get_mut(sub).unwrap();
        let price = object["items"]["data"][0]["price"]["id"].clone();
        let amount = world.prices[price.as_str().unwrap()]["unit_amount"].clone();
        let object = world.subscriptions.get_mut(sub).unwrap();
        let invoice = json!({
            "id": id, "object": "invoice", "customer": object["customer"],
            "status": if paid { "paid" } else { "open" },
            "amount_due": amount, "amount_paid": if paid { amount.clone() } else { json!(0) },
            "currency": "eur", "created": from.timestamp(),
            "parent": {"type": "subscription_details", "subscription_details": {
                "subscription": sub, "metadata": object["metadata"]}},
            "lines": {"data": [{"period": {"start": from.timestamp(), "end": to.timestamp()},
                "pricing": {"price_details": {"price": price}}}]},
            "payments": {"data": [{"payment": {"payment_intent": format!("pi_{id}")}}]},
        });
        if paid {
            object["items"]["data"][0]["current_period_start"] = json!(from.timestamp());
            object["items"]["data"][0]["current_period_end"] = json!(to.timestamp());
            object["status"] = json!("active");
        } else {
            object["status"] = json!("past_due");
        }
        object["latest_invoice"] = json!(id);
        world.invoices.insert(id, invoice.clone());
        invoice
    }

    /// The renewal of `sub` for its next 30 days: the events of a paid or a failed one.
    pub fn renew(&self, sub: &str, paid: bool, now: DateTime<Utc>) -> Vec<Value> {
        let end = self.world().subscriptions[sub]["items"]["data"][0]["current_period_end"]
            .as_i64()
            .unwrap();
        let from = DateTime::from_timestamp(end, 0).unwrap();
        let invoice = self.invoice_for(sub, from, from + TimeDelta::days(30), paid);
        let object = self.world().subscriptions[sub].clone();
        if paid {
            vec![
                self.event("invoice.paid", &invoice, now),
                self.event("customer.subscription.updated", &object, now),
            ]
        } else {
            vec![
                self.event("invoice.payment_failed", &invoice, now),
                self.event("customer.subscription.updated", &object, now),
            ]
        }
    }

    /// Cancel at period end (through the portal).
    pub fn cancel_at_period_end(&self, sub: &str, now: DateTime<Utc>) -> Vec<Value> {
        let object = {
            let mut world = self.world();
            let object = world.subscriptions.get_mut(sub).unwrap();
            object["cancel_at_period_end"] = json!(true);
            object.clone()
        };
        vec![self.event("customer.subscription.updated", &object, now)]
    }

    /// The subscription ends at `at` (the period's end, or now for an immediate end).
    pub fn end(&self, sub: &str, at: DateTime<Utc>) -> Vec<Value> {
        let object = {
            let mut world = self.world();
            let object = world.subscriptions.get_mut(sub).unwrap();
            object["status"] = json!("canceled");
            object["ended_at"] = json!(at.timestamp());
            object.clone()
        };
        vec![self.event("customer.subscription.deleted", &object, at)]
    }

    /// A change of plan (through the portal).
    pub fn change_price(&self, sub: &str, price: &str, now: DateTime<Utc>) -> Vec<Value> {
        let object = {
            let mut world = self.world();
            let object = world.subscriptions.get_mut(sub).unwrap();
            object["items"]["data"][0]["price"] = json!({"id": price});
            object.clone()
        };
        vec![self.event("customer.subscription.updated", &object, now)]
    }

    /// A refund of the payment `intent` (all of `amount`, or part).
    pub fn refund(
        &self,
        intent: &str,
        amount: i64,
        refunded: i64,
        now: DateTime<Utc>,
    ) -> Vec<Value> {
        let charge = json!({"id": self.id("ch"), "object": "charge", "payment_intent": intent,
            "amount": amount, "amount_refunded": refunded, "refunded": refunded >= amount});
        vec![self.event("charge.refunded", &charge, now)]
    }

    /// A dispute of the payment `intent` opened, then closed `won` or `lost`.
    pub fn dispute(&self, intent: &str, outcome: &str, now: DateTime<Utc>) -> Vec<Value> {
        let id = self.id("dp");
        let open = json!({"id": id, "object": "dispute", "payment_intent": intent,
            "status": "needs_response"});
        let mut closed = open.clone();
        closed["status"] = json!(outcome);
        vec![
            self.event("charge.dispute.created", &open, now),
            self.event(
                "charge.dispute.closed",
                &closed,
                now + TimeDelta::seconds(1),
            ),
        ]
    }

    /// An event of `kind` about `object`.
    pub fn event(&self, kind: &str, object: &Value, created: DateTime<Utc>) -> Value {
        json!({"id": self.id("evt"), "object": "event", "type": kind,
               "created": created.timestamp(), "api_version": "2025-03-31.basil",
               "data": {"object": object}})
    }
}

/// The `Stripe-Signature` of `body` at `t` with the stand-in's webhook secret.
pub fn signature(body: &str, t: i64) -> String {
    mitai_server::stripe::sign(body.as_bytes(), WEBHOOK_SECRET, t)
}

/// A refusal unless the call is one Stripe would take: the key, the version, and an
/// `Idempotency-Key` on a POST. `Err` answers it; `Ok(Some)` is the first answer to a
/// repeated key.
fn checked(
    s: &StandIn,
    headers: &HeaderMap,
    what: &str,
    post: bool,
) -> Result<Option<Value>, Box<Response>> {
    s.world().calls.push(what.to_owned());
    if s.down.load(Ordering::SeqCst) {
        return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, "down"));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if header("authorization") != format!("Bearer {KEY}") {
        return Err(refuse(StatusCode::UNAUTHORIZED, "bad key"));
    }
    if header("stripe-version") != "2025-03-31.basil" {
        return Err(refuse(StatusCode::BAD_REQUEST, "version"));
    }
    if post {
        let key = header("idempotency-key");
        if key.is_empty() {
            return Err(refuse(StatusCode::BAD_REQUEST, "no Idempotency-Key"));
        }
        return Ok(s.world().replies.get(key).cloned());
    }
    Ok(None)
}

fn refuse(status: StatusCode, message: &str) -> Box<Response> {
    Box::new((status, axum::Json(json!({"error": {"message": message}}))).into_response())
}

fn remember(s: &StandIn, headers: &HeaderMap, reply: &Value) {
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        s.world().replies.insert(key.to_owned(), reply.clone());
    }
}

fn form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"message": "No such object"}})),
    )
        .into_response()
}

async fn price(State(s): State<StandIn>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(refused) = checked(&s, &headers, &format!("GET /v1/prices/{id}"), false) {
        return *refused;
    }
    match s.world().prices.get(&id) {
        Some(price) => axum::Json(price.clone()).into_response(),
        None => not_found(),
    }
}

async fn customer(State(s): State<StandIn>, headers: HeaderMap, body: String) -> Response {
    match checked(&s, &headers, "POST /v1/customers", true) {
        Err(refused) => return *refused,
        Ok(Some(first)) => return axum::Json(first).into_response(),
        Ok(None) => {}
    }
    let f = form(&body);
    let id = s.id("cus");
    let object = json!({"id": id, "object": "customer", "email": f.get("email"),
        "name": f.get("name"), "metadata": {"profile_id": f.get("metadata[profile_id]")}});
    s.world().customers.insert(id, object.clone());
    remember(&s, &headers, &object);
    axum::Json(object).into_response()
}

async fn checkout(State(s): State<StandIn>, headers: HeaderMap, body: String) -> Response {
    match checked(&s, &headers, "POST /v1/checkout/sessions", true) {
        Err(refused) => return *refused,
        Ok(Some(first)) => return axum::Json(first).into_response(),
        Ok(None) => {}
    }
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let price = get("line_items[0][price]");
    if !s.world().prices.contains_key(&price) || !s.world().customers.contains_key(&get("customer"))
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"message": "unknown price or customer"}})),
        )
            .into_response();
    }
    let id = s.id("cs");
    let object = json!({
        "id": id, "object": "checkout.session", "mode": get("mode"),
        "customer": get("customer"), "client_reference_id": get("client_reference_id"),
        "line_items": [{"price": price, "quantity": get("line_items[0][quantity]")}],
        "success_url": get("success_url"), "cancel_url": get("cancel_url"),
        "metadata": {"profile_id": get("metadata[profile_id]"), "price_id": get("metadata[price_id]")},
        "subscription_data": {"metadata": {"profile_id": f.get("subscription_data[metadata][profile_id]")}},
        "status": "open", "payment_status": "unpaid",
        "url": format!("{}/checkout/{id}", s.base),
    });
    s.world().sessions.insert(id, object.clone());
    remember(&s, &headers, &object);
    axum::Json(object).into_response()
}

async fn portal(State(s): State<StandIn>, headers: HeaderMap, body: String) -> Response {
    match checked(&s, &headers, "POST /v1/billing_portal/sessions", true) {
        Err(refused) => return *refused,
        Ok(Some(first)) => return axum::Json(first).into_response(),
        Ok(None) => {}
    }
    let f = form(&body);
    let customer = f.get("customer").cloned().unwrap_or_default();
    if !s.world().customers.contains_key(&customer) {
        return not_found();
    }
    let object = json!({"id": s.id("bps"), "object": "billing_portal.session",
        "customer": customer, "return_url": f.get("return_url"),
        "url": format!("{}/portal/{customer}", s.base)});
    remember(&s, &headers, &object);
    axum::Json(object).into_response()
}

async fn subscription(
    State(s): State<StandIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(refused) = checked(&s, &headers, &format!("GET /v1/subscriptions/{id}"), false) {
        return *refused;
    }
    let world = s.world();
    let Some(mut object) = world.subscriptions.get(&id).cloned() else {
        return not_found();
    };
    let expand = query
        .iter()
        .any(|(k, v)| k == "expand[]" && v == "latest_invoice");
    if expand
        && let Some(invoice) = object["latest_invoice"]
            .as_str()
            .and_then(|i| world.invoices.get(i))
    {
        object["latest_invoice"] = invoice.clone();
    }
    axum::Json(object).into_response()
}

async fn invoice(State(s): State<StandIn>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(refused) = checked(&s, &headers, &format!("GET /v1/invoices/{id}"), false) {
        return *refused;
    }
    match s.world().invoices.get(&id) {
        Some(invoice) => axum::Json(invoice.clone()).into_response(),
        None => not_found(),
    }
}

async fn cancel(State(s): State<StandIn>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(refused) = checked(
        &s,
        &headers,
        &format!("DELETE /v1/subscriptions/{id}"),
        false,
    ) {
        return *refused;
    }
    let mut world = s.world();
    let Some(object) = world.subscriptions.get_mut(&id) else {
        return not_found();
    };
    object["status"] = json!("canceled");
    object["ended_at"] = json!(Utc::now().timestamp());
    axum::Json(object.clone()).into_response()
}

async fn checkout_page(Path(id): Path<String>) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><title>Stand-in Checkout</title><h1>Checkout {id}</h1>"
    ))
}

async fn portal_page(Path(id): Path<String>) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><title>Stand-in portal</title><h1>Billing of {id}</h1>"
    ))
}
