//! Admin notifications (issue 27, first part): events raised where they happen — each
//! once, one notification per subject within an hour —, read per admin, the preferences, the
//! bell on every admin page; on both backends.

use std::time::Duration;

use axum::http::StatusCode;
use mitai_server::config::ServeArgs;
use mitai_store::Backend;
use serde_json::{Value, json};

use crate::billing::{app, buy, deliver, put_on_sale};
use crate::common::TestApp;

on_both_backends!(
    a_registration_is_one_notification_read_per_admin,
    preferences_default_merge_and_refuse_the_unknown,
    a_burst_of_one_event_is_one_notification,
    payment_events_are_raised_once_each,
    failing_mail_and_a_used_up_coupon_are_raised,
    the_bell_and_the_page,
    immediate_events_mail_the_admins_who_want_them_once,
    the_daily_digest_goes_out_once_a_day_and_never_empty,
    webhooks_are_signed_retried_and_delivered_once,
    webhooks_speak_slack_and_ntfy_and_refuse_bad_input,
);

/// The notifications of `event` the admin holding `token` sees, waiting up to two seconds
/// for `n` of them (raising runs in a task of its own).
async fn of_event(app: &TestApp, token: &str, event: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (status, list) = app.get("/api/admin/notifications", Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let found: Vec<Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["event"] == event)
            .cloned()
            .collect();
        if found.len() >= n || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_registration_is_one_notification_read_per_admin(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    mitai_server::service::accounts::create_user(
        &app.state,
        "second@example.org",
        "adminpass2",
        None,
        true,
    )
    .await
    .unwrap();
    let second = app.login("second@example.org", "adminpass2").await;
    let id = app.register_user("new@example.org").await;
    let found = of_event(&app, &admin, "user_registered", 1).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let n = &found[0];
    assert_eq!(n["title"], "New person: new@example.org");
    assert_eq!(n["count"], 1);
    assert_eq!(n["link"], format!("/admin/users/{id}"));
    assert_eq!(n["read_at"], Value::Null);
    let (_, list) = app
        .get("/api/admin/notifications?unread=true", Some(&admin))
        .await;
    assert_eq!(list["unread"], 1);
    let (status, _) = app
        .post(
            &format!(
                "/api/admin/notifications/{}/read",
                n["id"].as_str().unwrap()
            ),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app
        .get("/api/admin/notifications?unread=true", Some(&admin))
        .await;
    assert_eq!(
        (list["unread"].clone(), list["items"].clone()),
        (json!(0), json!([]))
    );
    // The other admin has not read it; in German it reads in German.
    let (status, _) = app
        .patch("/api/me", Some(&second), json!({"language": "de"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, theirs) = app.get("/api/admin/notifications", Some(&second)).await;
    assert_eq!(theirs["unread"], 1);
    assert_eq!(theirs["items"][0]["title"], "Neue Person: new@example.org");
    let (status, _) = app
        .post(
            "/api/admin/notifications/read-all",
            Some(&second),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, theirs) = app.get("/api/admin/notifications", Some(&second)).await;
    assert_eq!(theirs["unread"], 0);
    let (status, _) = app
        .post(
            &format!("/api/admin/notifications/{}/read", uuid::Uuid::now_v7()),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Not for people who are no admins.
    let (user, _) = app.user("plain@example.org").await;
    let (status, _) = app.get("/api/admin/notifications", Some(&user)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn preferences_default_merge_and_refuse_the_unknown(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (status, prefs) = app
        .get("/api/admin/notification-preferences", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(prefs["payment_failed"], "immediate");
    assert_eq!(prefs["job_failed"], "immediate");
    assert_eq!(prefs["user_registered"], "digest");
    assert_eq!(prefs.as_object().unwrap().len(), 11);
    let (status, after) = app
        .put(
            "/api/admin/notification-preferences",
            Some(&admin),
            json!({"user_registered": "off", "job_failed": "digest"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["user_registered"], "off");
    assert_eq!(after["job_failed"], "digest");
    assert_eq!(
        after["payment_failed"], "immediate",
        "the others keep theirs"
    );
    let (status, body) = app
        .put(
            "/api/admin/notification-preferences",
            Some(&admin),
            json!({"nonsense": "off", "job_failed": "loud"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["nonsense"].is_string());
    assert!(body["error"]["fields"]["job_failed"].is_string());
    let (_, unchanged) = app
        .get("/api/admin/notification-preferences", Some(&admin))
        .await;
    assert_eq!(unchanged["job_failed"], "digest", "nothing changed");
}

async fn a_burst_of_one_event_is_one_notification(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let mut raises = Vec::new();
    for i in 0..50 {
        let state = app.state.clone();
        raises.push(tokio::spawn(async move {
            mitai_server::service::notifications::raise_now(
                &state,
                "job_failed",
                "send_mail".into(),
                json!({"job": "send_mail", "error": format!("attempt {i}")}),
                "/admin".into(),
            )
            .await
        }));
    }
    for r in raises {
        r.await.unwrap();
    }
    let found = of_event(&app, &admin, "job_failed", 1).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["count"], 50);
    // An hour later: a new one.
    app.advance(3601).await;
    mitai_server::service::notifications::raise_now(
        &app.state,
        "job_failed",
        "send_mail".into(),
        json!({"job": "send_mail"}),
        "/admin".into(),
    )
    .await;
    assert_eq!(of_event(&app, &admin, "job_failed", 2).await.len(), 2);
}

async fn payment_events_are_raised_once_each(backend: Backend) {
    let (app, stand_in) = app(backend).await;
    let admin = app.admin().await;
    let (month, _, pass) = put_on_sale(&app, &admin).await;
    let (token, _) = app.user("payer@example.org").await;
    let events = buy(&app, &stand_in, &token, &month).await;
    deliver(&app, &events).await;
    deliver(&app, &events).await;
    let started = of_event(&app, &admin, "subscription_started", 1).await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["count"], 1, "repeats raise nothing");
    assert!(
        started[0]["body"]
            .as_str()
            .unwrap()
            .contains("payer@example.org")
    );
    let sub = events
        .iter()
        .find(|e| e["type"] == "customer.subscription.created")
        .map(|e| e["data"]["object"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    let now = app.state.now();
    let failed = stand_in.renew(&sub, false, now);
    deliver(&app, &failed).await;
    deliver(&app, &failed).await;
    let found = of_event(&app, &admin, "payment_failed", 1).await;
    assert_eq!((found.len(), found[0]["count"].clone()), (1, json!(1)));
    assert!(
        found[0]["body"].as_str().unwrap().contains("9.99 EUR"),
        "{found:?}"
    );
    let ending = stand_in.cancel_at_period_end(&sub, now);
    deliver(&app, &ending).await;
    deliver(&app, &ending).await;
    assert_eq!(
        of_event(&app, &admin, "subscription_canceled", 1).await[0]["count"],
        1
    );
    let pass_events = buy(&app, &stand_in, &token, &pass).await;
    deliver(&app, &pass_events).await;
    let intent = pass_events[0]["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let dispute = stand_in.dispute(&intent, "won", now);
    deliver(&app, &dispute[..1]).await;
    deliver(&app, &dispute[..1]).await;
    assert_eq!(
        of_event(&app, &admin, "dispute_opened", 1).await[0]["count"],
        1
    );
    let refund = stand_in.refund(&intent, 1500, 1500, now);
    deliver(&app, &refund).await;
    deliver(&app, &refund).await;
    assert_eq!(
        of_event(&app, &admin, "payment_refunded", 1).await[0]["count"],
        1
    );
    // A Stripe event that cannot be applied.
    deliver(&app, &stand_in.refund("pi_nobody", 100, 100, now)).await;
    let failed = of_event(&app, &admin, "webhook_failed", 1).await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["body"].as_str().unwrap().contains("pi_nobody"));
}

async fn failing_mail_and_a_used_up_coupon_are_raised(backend: Backend) {
    let app = TestApp::with_args(
        backend,
        ServeArgs {
            test_clock: "1".into(),
            mail: "smtp://127.0.0.1:9".into(),
            ..ServeArgs::default()
        },
    )
    .await;
    let admin = app.admin().await;
    // The registration's verification mail cannot be sent.
    let id = app.register_user("unsent@example.org").await;
    let report = mitai_server::service::jobs::run_due(&app.state).await;
    assert!(report.mail_retrying >= 1, "{report:?}");
    let found = of_event(&app, &admin, "mail_failing", 1).await;
    assert_eq!(found.len(), 1);
    assert!(
        found[0]["body"].as_str().unwrap().contains("wait"),
        "{found:?}"
    );
    // A coupon with a cap of one, redeemed once.
    let (status, body) = app
        .post("/api/admin/coupons", Some(&admin), json!({"code": "ONLY-ONE", "kind": "single_use", "tier": "premium", "duration_days": 7, "max_redemptions": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    mitai_server::service::accounts::create_user(
        &app.state,
        "redeemer@example.org",
        "password123",
        None,
        false,
    )
    .await
    .unwrap();
    let token = app.login("redeemer@example.org", "password123").await;
    let (status, body) = app
        .post(
            "/api/coupons/redeem",
            Some(&token),
            json!({"code": "ONLY-ONE"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = of_event(&app, &admin, "coupon_exhausted", 1).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["title"], "Coupon used up: ONLY-ONE");
    let _ = id;
}

async fn the_bell_and_the_page(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    app.register_user("bell@example.org").await;
    of_event(&app, &admin, "user_registered", 1).await;
    let (status, html) = app.get_html("/admin", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Notifications: 1 unread"), "{html}");
    assert!(html.contains("href=\"/admin/notifications\""));
    let (status, html) = app.get_html("/admin/notifications", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("New person: bell@example.org"), "{html}");
    assert!(
        html.contains("name=\"user_registered\""),
        "the preferences form"
    );
    let (_, list) = app.get("/api/admin/notifications", Some(&admin)).await;
    assert_eq!(list["unread"], 1);
    // A webhook added on the page: its secret shown once; a test; removed.
    let (receiver, url) = Receiver::start().await;
    let csrf =
        mitai_server::ui::csrf_token(&mitai_server::service::credentials::token_hash(&admin));
    let post = |path: String, body: String| {
        axum::http::Request::post(path)
            .header("cookie", format!("mitai_session={admin}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(format!("_csrf={csrf}&{body}")))
            .unwrap()
    };
    let encoded = url.replace(':', "%3A").replace('/', "%2F");
    let (status, _, html) = app
        .send(post(
            "/admin/notifications/webhooks".into(),
            format!("url={encoded}&format=json&event_job_failed=1"),
        ))
        .await;
    let html = String::from_utf8_lossy(&html).into_owned();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("shown only now") && html.contains("mitai_"),
        "{html}"
    );
    let (_, hooks) = app
        .get("/api/admin/notification-webhooks", Some(&admin))
        .await;
    assert_eq!(hooks["items"][0]["events"], json!(["job_failed"]));
    let id = hooks["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, html) = app
        .send(post(
            format!("/admin/notifications/webhooks/{id}/test"),
            String::new(),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&html).contains("The test arrived."));
    assert_eq!(receiver.got().len(), 1);
    let (status, _, _) = app
        .send(post(
            "/admin/notifications/webhooks".into(),
            "url=ftp%3A%2F%2Fx&format=json".into(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = app
        .send(post(
            format!("/admin/notifications/webhooks/{id}/delete"),
            String::new(),
        ))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, hooks) = app
        .get("/api/admin/notification-webhooks", Some(&admin))
        .await;
    assert_eq!(hooks["items"], json!([]));
}

async fn immediate_events_mail_the_admins_who_want_them_once(backend: Backend) {
    let mail_dir = crate::common::process::fresh_dir();
    let app = TestApp::with_args(
        backend,
        ServeArgs {
            test_clock: "1".into(),
            mail: format!("file:{}", mail_dir.display()),
            ..ServeArgs::default()
        },
    )
    .await;
    // Before the digest hour, so that the jobs round below sends no digest.
    app.clock_to("2030-03-04T05:00:00Z").await;
    let admin = app.admin().await;
    mitai_server::service::accounts::create_user(
        &app.state,
        "quiet@example.org",
        "adminpass2",
        None,
        true,
    )
    .await
    .unwrap();
    let quiet = app.login("quiet@example.org", "adminpass2").await;
    let (status, _) = app
        .put(
            "/api/admin/notification-preferences",
            Some(&quiet),
            json!({"job_failed": "off"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A job fails three times within the hour: one notification, one mail (to the admin who
    // wants it at once), which says how often by the time it is sent.
    for i in 0..3 {
        mitai_server::service::notifications::raise_now(
            &app.state,
            "job_failed",
            "purge".into(),
            json!({"job": "purge", "error": format!("disk full {i}")}),
            "/admin".into(),
        )
        .await;
    }
    let queued: Vec<_> = app
        .db
        .store
        .outbox(None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.template == "notification")
        .collect();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].to, "admin@example.org");
    // A digest event mails nobody at once.
    app.register_user("someone@example.org").await;
    of_event(&app, &admin, "user_registered", 1).await;
    let report = mitai_server::service::jobs::run_due(&app.state).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let texts: Vec<String> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    let notices: Vec<&String> = texts
        .iter()
        .filter(|t| t.contains("A job failed: purge"))
        .collect();
    assert_eq!(notices.len(), 1, "{texts:?}");
    let text = notices[0].replace("=\r\n", "").replace("=3D", "=");
    assert!(text.contains("Happened 3 times"), "{text}");
    assert!(text.contains("/admin"), "{text}");
    assert!(
        !texts.iter().any(|t| t.contains("New person")),
        "digest events wait"
    );
    std::fs::remove_dir_all(mail_dir).ok();
}

async fn the_daily_digest_goes_out_once_a_day_and_never_empty(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.clock_to("2030-03-04T05:00:00Z").await;
    let admin = app.admin().await;
    // Digest events (sign-ups) before the digest hour (8:00 UTC by default).
    app.register_user("first@example.org").await;
    app.register_user("second@example.org").await;
    of_event(&app, &admin, "user_registered", 2).await;
    let digests = |app: &TestApp| {
        let store = app.db.store.clone();
        async move {
            store
                .outbox(None, None, 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.template == "notification_digest")
                .collect::<Vec<_>>()
        }
    };
    let report = mitai_server::service::jobs::run_due(&app.state).await;
    assert_eq!(report.notification_digests, 0, "not before the hour");
    app.clock_to("2030-03-04T08:00:01Z").await;
    // (The job runs the digest, then the mail job sends it; here the digest alone, so that
    // the queued message can be read before it is sent and emptied.)
    let digest = || mitai_server::service::notifications::send_digests(&app.state, app.state.now());
    assert_eq!(digest().await.unwrap(), 1);
    let sent = digests(&app).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "admin@example.org");
    assert_eq!(sent[0].data["count"], 2);
    // Never twice a day.
    app.advance(600).await;
    app.register_user("third@example.org").await;
    of_event(&app, &admin, "user_registered", 3).await;
    assert_eq!(digest().await.unwrap(), 0);
    // The next day: only what came since the previous digest.
    app.clock_to("2030-03-05T09:00:00Z").await;
    assert_eq!(digest().await.unwrap(), 1);
    let sent = digests(&app).await;
    assert_eq!(sent.len(), 2);
    let newest = sent.iter().max_by_key(|m| m.created_at).unwrap();
    assert_eq!(newest.data["count"], 1, "{:?}", newest.data);
    assert!(
        newest.data["items"]
            .as_str()
            .unwrap()
            .contains("third@example.org")
    );
    // A day with nothing: no digest.
    app.clock_to("2030-03-06T09:00:00Z").await;
    assert_eq!(digest().await.unwrap(), 0, "never an empty one");
    // An admin who turned an event off gets no digest of it.
    let (status, _) = app
        .put(
            "/api/admin/notification-preferences",
            Some(&admin),
            json!({"user_registered": "off"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.register_user("fourth@example.org").await;
    of_event(&app, &admin, "user_registered", 4).await;
    app.clock_to("2030-03-07T09:00:00Z").await;
    assert_eq!(digest().await.unwrap(), 0);
    // Through the job, the digest is queued and sent in the same round.
    let (status, _) = app
        .put(
            "/api/admin/notification-preferences",
            Some(&admin),
            json!({"user_registered": "digest"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.register_user("fifth@example.org").await;
    of_event(&app, &admin, "user_registered", 5).await;
    app.clock_to("2030-03-08T09:00:00Z").await;
    let report = mitai_server::service::jobs::run_due(&app.state).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.notification_digests, 1);
    assert!(report.mail_sent >= 1);
}

/// A webhook receiver for the tests: keeps what it gets; answers 500 while `failing`.
#[derive(Clone, Default)]
struct Receiver {
    got: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        use std::sync::atomic::Ordering;
        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let r = r.clone();
                async move {
                    if r.failing.load(Ordering::SeqCst) {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    r.got.lock().unwrap().push((headers, body));
                    StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn got(&self) -> Vec<(axum::http::HeaderMap, String)> {
        self.got.lock().unwrap().clone()
    }
}

/// Checks `Mitai-Signature: t=…,v1=…` over `t.body` with `secret`.
fn signed(headers: &axum::http::HeaderMap, body: &str, secret: &str) -> bool {
    let header = headers
        .get("mitai-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let t = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    mitai_server::stripe::sign(body.as_bytes(), secret, t) == header
}

async fn webhooks_are_signed_retried_and_delivered_once(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (receiver, url) = Receiver::start().await;
    let (status, made) = app
        .post(
            "/api/admin/notification-webhooks",
            Some(&admin),
            json!({"url": url, "events": ["job_failed", "mail_failing"], "format": "json"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    let (_, list) = app
        .get("/api/admin/notification-webhooks", Some(&admin))
        .await;
    assert_eq!(list["items"][0]["url"], url.as_str());
    assert!(
        list["items"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    // The test button.
    let id = made["id"].as_str().unwrap();
    let (status, tested) = app
        .post(
            &format!("/api/admin/notification-webhooks/{id}/test"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tested["delivered"], true, "{tested}");
    assert_eq!(receiver.got().len(), 1);
    // The receiver is down for an hour while a job fails three times, then another event.
    receiver
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..3 {
        mitai_server::service::notifications::raise_now(
            &app.state,
            "job_failed",
            "purge".into(),
            json!({"job": "purge", "error": "disk full"}),
            "/admin".into(),
        )
        .await;
    }
    mitai_server::service::notifications::raise_now(
        &app.state,
        "user_registered",
        "x".into(),
        json!({"email": "x@example.org"}),
        "/admin/users".into(),
    )
    .await;
    let mut attempts = 0;
    for _ in 0..7 {
        let (_, failed) = mitai_server::service::notifications::deliver_due(&app.state)
            .await
            .unwrap();
        attempts += failed;
        app.advance(10 * 60).await;
    }
    assert!(
        attempts >= 4,
        "at least four attempts within the hour: {attempts}"
    );
    receiver
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    app.advance(3600).await;
    let (sent, _) = mitai_server::service::notifications::deliver_due(&app.state)
        .await
        .unwrap();
    assert_eq!(sent, 1);
    // Delivered once, counted, signed; the event it does not want never came.
    let (sent, failed) = mitai_server::service::notifications::deliver_due(&app.state)
        .await
        .unwrap();
    assert_eq!((sent, failed), (0, 0));
    let got = receiver.got();
    assert_eq!(got.len(), 2, "the test and the notification");
    let (headers, body) = &got[1];
    assert!(signed(headers, body, &secret), "{headers:?}");
    let n: Value = serde_json::from_str(body).unwrap();
    assert_eq!(n["event"], "job_failed");
    assert_eq!(n["count"], 3);
    assert_eq!(n["title"], "A job failed: purge");
    assert!(n["link"].as_str().unwrap().ends_with("/admin"));
    for key in ["id", "body", "first_at", "last_at"] {
        assert!(!n[key].is_null(), "{key}: {n}");
    }
    assert!(!signed(headers, body, "another secret"));
    // Deleted: nothing more.
    let (status, _) = app
        .delete(
            &format!("/api/admin/notification-webhooks/{id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .delete(
            &format!("/api/admin/notification-webhooks/{id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn webhooks_speak_slack_and_ntfy_and_refuse_bad_input(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (receiver, url) = Receiver::start().await;
    for format in ["slack", "ntfy"] {
        let (status, made) = app
            .post(
                "/api/admin/notification-webhooks",
                Some(&admin),
                json!({"url": url, "events": ["coupon_exhausted"], "format": format}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
    }
    mitai_server::service::notifications::raise_now(
        &app.state,
        "coupon_exhausted",
        "c1".into(),
        json!({"code": "SPRING", "campaign": "spring", "cap": 10}),
        "/admin/coupons".into(),
    )
    .await;
    let (sent, _) = mitai_server::service::notifications::deliver_due(&app.state)
        .await
        .unwrap();
    assert_eq!(sent, 2);
    let got = receiver.got();
    let slack = got.iter().find(|(_, b)| b.starts_with('{')).unwrap();
    let text: Value = serde_json::from_str(&slack.1).unwrap();
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .starts_with("*Coupon used up: SPRING*"),
        "{text}"
    );
    let ntfy = got.iter().find(|(_, b)| !b.starts_with('{')).unwrap();
    assert_eq!(ntfy.0.get("title").unwrap(), "Coupon used up: SPRING");
    assert!(
        ntfy.0
            .get("click")
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("/admin/coupons")
    );
    assert!(ntfy.1.contains("reached its cap of 10"));
    for (body, field) in [
        (
            json!({"url": "ftp://x", "events": ["job_failed"], "format": "json"}),
            "url",
        ),
        (
            json!({"url": url, "events": [], "format": "json"}),
            "events",
        ),
        (
            json!({"url": url, "events": ["nonsense"], "format": "json"}),
            "events",
        ),
        (
            json!({"url": url, "events": ["job_failed"], "format": "xml"}),
            "format",
        ),
    ] {
        let (status, answer) = app
            .post("/api/admin/notification-webhooks", Some(&admin), body)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer["error"]["fields"][field].is_string(), "{answer}");
    }
}

/// Two instances on one PostgreSQL deliver each notification to a webhook once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_each_notification_once() {
    let app = TestApp::new(Backend::Postgres).await;
    let admin = app.admin().await;
    let (receiver, url) = Receiver::start().await;
    let (status, _) = app
        .post(
            "/api/admin/notification-webhooks",
            Some(&admin),
            json!({"url": url, "events": ["job_failed"], "format": "json"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for i in 0..20 {
        mitai_server::service::notifications::raise_now(
            &app.state,
            "job_failed",
            format!("job-{i}"),
            json!({"job": format!("job-{i}"), "error": "x"}),
            "/admin".into(),
        )
        .await;
    }
    let other = mitai_server::AppState::new(
        mitai_store::connect(&app.db.url).await.unwrap(),
        mitai_server::config::Config::from_args(&ServeArgs {
            test_clock: "1".into(),
            database_url: app.db.url.clone(),
            ..ServeArgs::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let (a, b) = tokio::join!(
        mitai_server::service::notifications::deliver_due(&app.state),
        mitai_server::service::notifications::deliver_due(&other)
    );
    assert_eq!(a.unwrap().0 + b.unwrap().0, 20);
    let got = receiver.got();
    let ids: std::collections::BTreeSet<String> = got
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<Value>(body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!((got.len(), ids.len()), (20, 20), "each once");
}
