//! The activity log, statistics and the mail outbox through the HTTP API and the send
//! job, on both backends — including delivery to a real SMTP server on loopback that is
//! down at first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mitai_server::AppState;
use mitai_server::config::{Config, ServeArgs};
use mitai_server::mail::Transport;
use mitai_store::Backend;
use mitai_store::testing::TestDb;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

on_both_backends!(
    activity_records_the_flows,
    activity_filters_and_pages,
    activity_filters_are_validated,
    stats_count_profiles_activity_and_use,
    smtp_outage_loses_nothing_and_delivers_once,
    file_transport_writes_one_eml_per_message,
    mail_uses_the_settings_and_the_language,
);

// --- helpers ------------------------------------------------------------------------------

/// A fixed instant to start from, so days in the statistics are known.
const START: &str = "2031-03-14T10:00:00Z";

/// An app with an admin, e-mail verification off (gated use needs no verified address
/// here) and the clock at [`START`].
async fn setup(app: &TestApp) -> String {
    app.clock_to(START).await;
    let admin = app.admin().await;
    app.set_setting(&admin, "require_email_verification", json!(false))
        .await;
    // These tests count the messages of the outbox: the admin hears of failing mail only in
    // the list (its own mail is tested in `notifications`).
    let (status, _) = app
        .put(
            "/api/admin/notification-preferences",
            Some(&admin),
            json!({"mail_failing": "off", "job_failed": "off"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    admin
}

async fn activity(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/admin/activity?{query}"), Some(admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["items"].as_array().expect("items").clone()
}

fn actions(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|a| a["action"].as_str().expect("action"))
        .collect()
}

async fn consume(app: &TestApp, token: &str, feature: &str, amount: i64) -> (StatusCode, Value) {
    app.post(
        &format!("/api/me/access/{feature}/consume"),
        Some(token),
        json!({ "amount": amount }),
    )
    .await
}

async fn run_jobs(app: &TestApp) -> Value {
    let (status, report) = app.post("/api/test/jobs/run", None, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

fn test_args() -> ServeArgs {
    ServeArgs {
        test_clock: "1".into(),
        ..ServeArgs::default()
    }
}

async fn enqueue(app: &TestApp, to: &str, template: &str, language: &str, data: Value) -> String {
    let mail = mitai_server::service::mail::enqueue(&app.state, to, template, language, data)
        .await
        .expect("enqueue");
    mail.id.to_string()
}

async fn outbox(app: &TestApp, admin: &str) -> Vec<Value> {
    let (status, body) = app.get("/api/admin/mail", Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().expect("items").clone()
}

// --- activity -----------------------------------------------------------------------------

async fn activity_records_the_flows(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = setup(&app).await;

    // Register from a known address (behind a proxy).
    let request = Request::post("/api/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
        .body(Body::from(
            json!({"email": "Anna@Example.org", "password": "password123", "name": "Anna"})
                .to_string(),
        ))
        .unwrap();
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::CREATED);
    let anna_id = serde_json::from_slice::<Value>(&body).unwrap()["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A wrong password for Anna, and one for nobody.
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "anna@example.org", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "nobody@example.org", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = app.login("anna@example.org", "password123").await;

    // One use, then a limit of 1 on ai_calls: one use, one refusal.
    let (status, body) = consume(&app, &token, "weight", 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.restrict(&admin, &anna_id, "ai_calls", json!(1)).await;
    let (status, _) = consume(&app, &token, "ai_calls", 1).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = consume(&app, &token, "ai_calls", 1).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "feature_limit_reached");

    // Admin actions on Anna.
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{anna_id}"),
            Some(&admin),
            json!({"tier": "basic"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .delete(
            &format!("/api/admin/users/{anna_id}/restrictions/ai_calls"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, _) = app
        .call(
            axum::http::Method::POST,
            "/api/auth/logout",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let items = activity(&app, &admin, &format!("profile_id={anna_id}")).await;
    assert_eq!(
        actions(&items),
        [
            "logout",
            "restriction_cleared",
            "tier_changed",
            "limit_reached",
            "feature_used",
            "restriction_set",
            "feature_used",
            "login",
            "login_failed",
            "register",
        ]
    );
    let by_action =
        |action: &str| -> Vec<&Value> { items.iter().filter(|a| a["action"] == action).collect() };
    let admin_id = {
        let (_, me) = app.get("/api/me", Some(&admin)).await;
        me["profile"]["id"].as_str().unwrap().to_owned()
    };

    let register = by_action("register")[0];
    assert_eq!(register["profile_id"], anna_id.as_str());
    assert_eq!(register["actor_id"], anna_id.as_str());
    assert_eq!(
        register["ip"], "203.0.113.7",
        "the hop the trusted proxy appended, not what the client claimed"
    );
    assert_eq!(register["details"]["email"], "Anna@Example.org");
    assert_eq!(register["created_at"], "2031-03-14T10:00:00Z");

    let failed = by_action("login_failed")[0];
    assert_eq!(failed["actor_id"], Value::Null);
    assert_eq!(failed["details"]["reason"], "invalid_credentials");
    assert_eq!(failed["details"]["email"], "anna@example.org");
    assert_eq!(failed["ip"], Value::Null, "no address known in-process");

    let used = by_action("feature_used");
    assert_eq!(
        used.iter().map(|a| &a["details"]).collect::<Vec<_>>(),
        [
            &json!({"feature": "ai_calls", "amount": 1, "used": 1}),
            &json!({"feature": "weight", "amount": 1, "used": 1}),
        ]
    );
    let refused = by_action("limit_reached")[0];
    assert_eq!(refused["actor_id"], anna_id.as_str());
    assert_eq!(
        refused["details"],
        json!({"feature": "ai_calls", "amount": 1, "limit": 1, "used": 1})
    );

    let tier = by_action("tier_changed")[0];
    assert_eq!(tier["actor_id"], admin_id.as_str());
    assert_eq!(
        tier["details"],
        json!({"before": {"tier": "free"}, "after": {"tier": "basic"}})
    );
    let set = by_action("restriction_set")[0];
    assert_eq!(set["actor_id"], admin_id.as_str());
    assert_eq!(set["details"]["feature"], "ai_calls");
    assert_eq!(set["details"]["before"], Value::Null);
    assert_eq!(set["details"]["after"]["limit"], 1);
    assert_eq!(set["details"]["after"]["reason"], "test");
    let cleared = &by_action("restriction_cleared")[0]["details"];
    assert_eq!(cleared["feature"], "ai_calls");
    assert_eq!(cleared["before"]["limit"], 1);
    assert_eq!(cleared["after"], Value::Null);

    // The failed login for an unknown address is about nobody.
    let failed = activity(&app, &admin, "action=login_failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["profile_id"], Value::Null);
    assert_eq!(failed[0]["details"]["email"], "nobody@example.org");

    // Settings changes name the admin and are about nobody.
    let settings = activity(&app, &admin, "action=setting_changed").await;
    assert_eq!(settings.len(), 1);
    assert_eq!(settings[0]["actor_id"], admin_id.as_str());
    assert_eq!(settings[0]["profile_id"], Value::Null);
    assert_eq!(
        settings[0]["details"],
        json!({
            "key": "require_email_verification",
            "before": {"value": true},
            "after": {"value": false},
        })
    );

    // Only admins read the log.
    let other = app.user("other@example.org").await.0;
    for path in ["/api/admin/activity", "/api/admin/stats", "/api/admin/mail"] {
        let (status, _) = app.get(path, Some(&other)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, _) = app.get(path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

async fn activity_filters_and_pages(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = setup(&app).await;
    let (anna, anna_id) = app.user("anna@example.org").await;
    for _ in 0..3 {
        consume(&app, &anna, "weight", 1).await;
    }
    let after_an_hour = app.advance(3600).await["now"].as_str().unwrap().to_owned();
    let (bob, bob_id) = app.user("bob@example.org").await;
    consume(&app, &bob, "weight", 2).await;
    app.login("anna@example.org", "password123").await;

    // Everything, page by page (3 at a time): newest first, no gaps, no repeats.
    let all = activity(&app, &admin, "limit=500").await;
    assert!(all.len() >= 11, "{}", all.len());
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let (status, body) = app
            .get(&format!("/api/admin/activity?{query}"), Some(&admin))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        paged.extend(items.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    let ids: Vec<&str> = all.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest (largest UUIDv7) first");

    // Filters, alone and together.
    let anna_items = activity(&app, &admin, &format!("profile_id={anna_id}")).await;
    assert_eq!(
        actions(&anna_items),
        [
            "login",
            "feature_used",
            "feature_used",
            "feature_used",
            "login",
            "email_verified",
            "register"
        ]
    );
    let logins = activity(&app, &admin, "action=login").await;
    assert_eq!(logins.len(), 4, "admin, anna, bob, anna again");
    let anna_logins = activity(&app, &admin, &format!("profile_id={anna_id}&action=login")).await;
    assert_eq!(anna_logins.len(), 2);
    let since = activity(
        &app,
        &admin,
        &format!("since={}", after_an_hour.replace('+', "%2B")),
    )
    .await;
    assert_eq!(
        actions(&since),
        [
            "login",
            "feature_used",
            "login",
            "email_verified",
            "register"
        ]
    );
    assert!(
        since[1..]
            .iter()
            .all(|a| a["profile_id"] == bob_id.as_str())
    );
    let recent_bob = activity(
        &app,
        &admin,
        &format!("profile_id={bob_id}&action=feature_used&since={after_an_hour}"),
    )
    .await;
    assert_eq!(recent_bob.len(), 1);
    assert_eq!(recent_bob[0]["details"]["amount"], 2);
    // Empty values filter nothing.
    assert_eq!(
        activity(&app, &admin, "profile_id=&action=&since=&cursor=")
            .await
            .len(),
        all.len().min(50)
    );
    assert!(
        activity(&app, &admin, "action=coupon_redeemed")
            .await
            .is_empty()
    );
}

async fn activity_filters_are_validated(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = setup(&app).await;
    for (query, field) in [
        ("profile_id=not-a-uuid", "profile_id"),
        ("since=yesterday", "since"),
        ("since=2031-03-14", "since"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("cursor=nope", "cursor"),
        ("action=DROP%20TABLE", "action"),
    ] {
        let (status, body) = app
            .get(&format!("/api/admin/activity?{query}"), Some(&admin))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
        assert!(
            body["error"]["fields"][field].is_string(),
            "{query}: {body}"
        );
    }
    // Every bad field at once is named.
    let (status, body) = app
        .get(
            "/api/admin/activity?profile_id=x&since=y&limit=0",
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = body["error"]["fields"].as_object().unwrap();
    assert_eq!(fields.len(), 3, "{body}");
    let (status, body) = app.get("/api/admin/mail?status=lost", Some(&admin)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

// --- statistics ---------------------------------------------------------------------------

async fn stats_count_profiles_activity_and_use(backend: Backend) {
    let app = TestApp::new(backend).await;
    let admin = setup(&app).await;
    // Anna registers with the default 14-day premium trial; Bob without a trial.
    let (anna, anna_id) = app.user("anna@example.org").await;
    app.set_setting(&admin, "trial_days", json!(0)).await;
    let (bob, bob_id) = app.user("bob@example.org").await;
    let (_, carl_id) = app.user("carl@example.org").await;
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{carl_id}"),
            Some(&admin),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    app.restrict(&admin, &anna_id, "weight", json!(2)).await;
    for expected in [StatusCode::OK, StatusCode::OK, StatusCode::FORBIDDEN] {
        assert_eq!(consume(&app, &anna, "weight", 1).await.0, expected);
    }
    assert_eq!(consume(&app, &bob, "nutrition", 3).await.0, StatusCode::OK);
    // Three days later only Bob comes back.
    app.advance(3 * 86_400).await;
    assert_eq!(consume(&app, &bob, "nutrition", 1).await.0, StatusCode::OK);

    // Uses per day are counted by the jobs' roll-up of the log: nothing before it runs.
    let (_, stats) = app.get("/api/admin/stats", Some(&admin)).await;
    assert_eq!(stats["feature_usage_per_day"], json!([]));
    assert_eq!(stats["feature_usage_through"], Value::Null);
    let (_, done) = mitai_server::service::jobs::roll_up_usage(&app.state)
        .await
        .unwrap();
    assert!(done);
    let (status, stats) = app.get("/api/admin/stats", Some(&admin)).await;
    assert!(stats["feature_usage_through"].is_string(), "{stats}");
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["generated_at"], "2031-03-17T10:00:00Z");
    assert_eq!(stats["profiles"]["total"], 4);
    assert_eq!(stats["profiles"]["disabled"], 1);
    assert_eq!(
        stats["profiles"]["by_effective_tier"],
        json!({"free": 1, "basic": 0, "premium": 1, "selfhosted": 1}),
        "admin: selfhosted; Anna: premium trial; Bob: free; Carl: disabled"
    );
    assert_eq!(
        stats["active_profiles"],
        json!({"last_1_day": 1, "last_7_days": 4, "last_30_days": 4})
    );
    assert_eq!(stats["active_profiles_at"], "2031-03-17T10:00:00Z");
    // The jobs count the active profiles each round; the figures show that count while it
    // is at most two minutes old, and count again when it is older.
    mitai_server::service::activity_log::keep_active_profiles(&app.state)
        .await
        .unwrap();
    app.advance(60).await;
    // The admin signs in again: active today too.
    let admin = app.login("admin@example.org", "adminpass1").await;
    let (_, stats) = app.get("/api/admin/stats", Some(&admin)).await;
    assert_eq!(
        (
            &stats["active_profiles"]["last_1_day"],
            &stats["active_profiles_at"]
        ),
        (&json!(1), &json!("2031-03-17T10:00:00Z")),
        "the jobs' count of a minute ago"
    );
    app.advance(120).await;
    let (_, stats) = app.get("/api/admin/stats", Some(&admin)).await;
    assert_eq!(
        (
            &stats["active_profiles"]["last_1_day"],
            &stats["active_profiles_at"]
        ),
        (&json!(2), &json!("2031-03-17T10:03:00Z")),
        "counted again: the jobs' count is three minutes old"
    );
    assert_eq!(
        stats["feature_usage_per_day"],
        json!([
            {"day": "2031-03-14", "feature": "nutrition", "uses": 1, "amount": 3, "limit_reached": 0},
            {"day": "2031-03-14", "feature": "weight", "uses": 2, "amount": 2, "limit_reached": 1},
            {"day": "2031-03-17", "feature": "nutrition", "uses": 1, "amount": 1, "limit_reached": 0},
        ])
    );
    assert_eq!(stats["redemptions_per_coupon"], json!([]));
    assert_eq!(
        stats["mail"],
        json!({"pending": 3, "sending": 0, "sent": 0, "failed": 0}),
        "the verification mails of the three registrations, not sent yet"
    );

    // A month after Bob's last visit the first day has left the window, and nobody was
    // active.
    app.advance(30 * 86_400 - 180).await;
    // The admin's 30-day session has expired by now: sign in again.
    let admin = app.login("admin@example.org", "adminpass1").await;
    let (status, stats) = app.get("/api/admin/stats", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["feature_usage_per_day"], json!([]));
    assert_eq!(
        stats["active_profiles"],
        json!({"last_1_day": 1, "last_7_days": 1, "last_30_days": 2}),
        "the admin just signed in; Bob was here 30 days ago"
    );
    // Anna's trial has ended.
    assert_eq!(
        stats["profiles"]["by_effective_tier"],
        json!({"free": 2, "basic": 0, "premium": 0, "selfhosted": 1})
    );

    // Per profile.
    let (status, anna_stats) = app
        .get(&format!("/api/admin/users/{anna_id}/stats"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{anna_stats}");
    assert_eq!(anna_stats["logins"], 1);
    assert_eq!(anna_stats["last_login_at"], "2031-03-14T10:00:00Z");
    assert_eq!(anna_stats["last_active_at"], "2031-03-14T10:00:00Z");
    assert_eq!(anna_stats["feature_totals"], json!({"weight": 2}));
    assert_eq!(anna_stats["redemptions"], 0);
    let (_, bob_stats) = app
        .get(&format!("/api/admin/users/{bob_id}/stats"), Some(&admin))
        .await;
    assert_eq!(bob_stats["feature_totals"], json!({"nutrition": 4}));
    assert_eq!(bob_stats["last_active_at"], "2031-03-17T10:00:00Z");
    let (_, carl_stats) = app
        .get(&format!("/api/admin/users/{carl_id}/stats"), Some(&admin))
        .await;
    assert_eq!(carl_stats["logins"], 1);
    let (status, _) = app
        .get(
            &format!("/api/admin/users/{}/stats", uuid::Uuid::now_v7()),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// --- mail ---------------------------------------------------------------------------------

/// One message as an SMTP server received it.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A small SMTP server: enough of RFC 5321 for a client that sends mail without
/// extensions (no STARTTLS, no AUTH). While `up` is false it greets every connection with
/// `421` (service not available, a transient refusal) and closes it, as a server that is
/// shutting down does.
async fn smtp_server(listener: TcpListener, inbox: Arc<Mutex<Vec<Received>>>, up: Arc<AtomicBool>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let inbox = Arc::clone(&inbox);
        let up = up.load(Ordering::SeqCst);
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read);
            if !up {
                write.write_all(b"421 localhost unavailable\r\n").await.ok();
                return;
            }
            write.write_all(b"220 localhost test SMTP\r\n").await.ok();
            let (mut from, mut to) = (String::new(), Vec::new());
            let mut line = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let command = line.trim_end().to_owned();
                let verb = command
                    .split([' ', ':'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let answer: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 localhost\r\n",
                    "MAIL" => {
                        from = command["MAIL FROM:".len()..].trim().to_owned();
                        b"250 OK\r\n"
                    }
                    "RCPT" => {
                        to.push(command["RCPT TO:".len()..].trim().to_owned());
                        b"250 OK\r\n"
                    }
                    "DATA" => {
                        write.write_all(b"354 go ahead\r\n").await.ok();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" || line == ".\n" {
                                break;
                            }
                            // Undo dot-stuffing.
                            data.push_str(line.strip_prefix('.').unwrap_or(&line));
                        }
                        inbox.lock().unwrap().push(Received {
                            from: std::mem::take(&mut from),
                            to: std::mem::take(&mut to),
                            data,
                        });
                        b"250 queued\r\n"
                    }
                    "RSET" | "NOOP" => b"250 OK\r\n",
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.ok();
                        return;
                    }
                    _ => b"502 not implemented\r\n",
                };
                write.write_all(answer).await.ok();
            }
        });
    }
}

/// Undoes quoted-printable soft line breaks and `=3D`, enough to find a link.
fn unfold_qp(data: &str) -> String {
    data.replace("=\r\n", "").replace("=3D", "=")
}

async fn smtp_outage_loses_nothing_and_delivers_once(backend: Backend) {
    // The SMTP server is down: it refuses every connection with a transient 421. (Its port
    // stays bound throughout, so no other process can take it in between.)
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let up = Arc::new(AtomicBool::new(false));
    let server = tokio::spawn(smtp_server(listener, Arc::clone(&inbox), Arc::clone(&up)));
    let args = ServeArgs {
        // The default: STARTTLS only if offered, which this server does not.
        mail: format!("smtp://127.0.0.1:{port}"),
        ..test_args()
    };
    let app = TestApp::with_args(backend, args).await;
    let admin = setup(&app).await;
    let id = enqueue(
        &app,
        "anna@example.org",
        "verify_email",
        "en",
        json!({"name": "Anna", "token": "tok123"}),
    )
    .await;

    // Down: the attempt fails, the message stays, waiting for its retry.
    let report = run_jobs(&app).await;
    assert_eq!(
        (
            &report["mail_sent"],
            &report["mail_retrying"],
            &report["mail_failed"]
        ),
        (&json!(0), &json!(1), &json!(0)),
        "{report}"
    );
    let mail = outbox(&app, &admin).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["id"], id.as_str());
    assert_eq!(mail[0]["status"], "pending");
    assert_eq!(mail[0]["attempts"], 1);
    assert_eq!(mail[0]["next_attempt_at"], "2031-03-14T10:01:00Z");
    assert!(
        mail[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );

    // The server comes up. Before the backoff has passed nothing is sent.
    up.store(true, Ordering::SeqCst);
    let report = run_jobs(&app).await;
    assert_eq!(report["mail_sent"], 0, "{report}");
    assert!(inbox.lock().unwrap().is_empty());

    // After the backoff the next run delivers it.
    app.advance(60).await;
    let report = run_jobs(&app).await;
    assert_eq!(
        (&report["mail_sent"], &report["mail_retrying"]),
        (&json!(1), &json!(0)),
        "{report}"
    );
    // Later runs send nothing more: exactly once.
    app.advance(3600).await;
    assert_eq!(run_jobs(&app).await["mail_sent"], 0);
    run_jobs(&app).await;

    let received = inbox.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let message = &received[0];
    assert_eq!(message.to, ["<anna@example.org>"]);
    assert_eq!(message.from, "<noreply@localhost>");
    assert!(
        message
            .data
            .contains("Subject: Please confirm your e-mail address"),
        "{}",
        message.data
    );
    assert!(message.data.contains("To: anna@example.org"));
    assert!(
        message
            .data
            .contains(&format!("Message-ID: <{id}@localhost>"))
    );
    assert!(message.data.contains("multipart/alternative"));
    let body = unfold_qp(&message.data);
    assert!(
        body.contains("http://127.0.0.1:8080/verify-email?token=tok123"),
        "{body}"
    );
    assert!(body.contains("Hello Anna,"));

    let mail = outbox(&app, &admin).await;
    assert_eq!(mail[0]["status"], "sent");
    assert_eq!(mail[0]["attempts"], 2);
    assert_eq!(mail[0]["sent_at"], "2031-03-14T10:01:00Z");
    assert_eq!(mail[0]["last_error"], Value::Null);
    let (_, stats) = app.get("/api/admin/stats", Some(&admin)).await;
    assert_eq!(stats["mail"]["sent"], 1);
    server.abort();
}

async fn file_transport_writes_one_eml_per_message(backend: Backend) {
    let dir = std::env::temp_dir().join(format!("mitai-eml-{}", uuid::Uuid::now_v7().simple()));
    let args = ServeArgs {
        mail: format!("file:{}", dir.display()),
        ..test_args()
    };
    let app = TestApp::with_args(backend, args).await;
    let admin = setup(&app).await;
    let id = enqueue(
        &app,
        "bob@example.org",
        "password_reset",
        "de",
        json!({"name": "Bob", "token": "reset-1"}),
    )
    .await;
    // A message that cannot be built is given up at once, without retries.
    enqueue(&app, "bob@example.org", "no_such_template", "en", json!({})).await;

    let report = run_jobs(&app).await;
    assert_eq!(
        (
            &report["mail_sent"],
            &report["mail_failed"],
            &report["mail_retrying"]
        ),
        (&json!(1), &json!(1), &json!(0)),
        "{report}"
    );
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("the folder was created")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        files,
        [format!("{id}.eml")],
        "one file, no temporary leftovers"
    );
    let eml = std::fs::read_to_string(dir.join(&files[0])).unwrap();
    assert!(eml.contains("To: bob@example.org"), "{eml}");
    assert!(eml.contains("From: Mitai <noreply@localhost>"), "{eml}");
    assert!(eml.contains("multipart/alternative"));
    assert!(eml.contains("text/html"));
    assert!(unfold_qp(&eml).contains("http://127.0.0.1:8080/reset-password?token=reset-1"));

    let mail = outbox(&app, &admin).await;
    let failed = mail
        .iter()
        .find(|m| m["status"] == "failed")
        .expect("failed");
    assert_eq!(failed["attempts"], 1);
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("no_such_template")
    );
    // Nothing is left to do.
    app.advance(86_400).await;
    let report = run_jobs(&app).await;
    assert_eq!(
        (&report["mail_sent"], &report["mail_failed"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    // The outbox page shows each message itself — with its token hidden — and offers to
    // send a given-up one again.
    let (status, page) = app.get_html("/admin/mail", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("reset-1"), "no sign-in secret on the page");
    // Sent, it keeps no data: its text is there with the values named, not filled in.
    assert!(
        page.contains("<summary>Passwort zurücksetzen</summary>"),
        "{page}"
    );
    assert!(page.contains("[link]"), "{page}");
    assert!(
        page.contains("/resend"),
        "a given-up message can be sent again"
    );
    let failed_id = failed["id"].as_str().unwrap();
    let uri = format!("/api/admin/mail/{failed_id}/resend");
    let (status, _) = app.post(&uri, Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let again = outbox(&app, &admin).await;
    let again = again.iter().find(|m| m["id"] == failed_id).unwrap();
    assert_eq!(
        (&again["status"], &again["attempts"]),
        (&json!("pending"), &json!(0))
    );
    let (status, body) = app.post(&uri, Some(&admin), json!({})).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only a given-up message: {body}"
    );
    let (_, log) = app
        .get("/api/admin/activity?action=mail_resent", Some(&admin))
        .await;
    assert_eq!(log["items"][0]["details"]["mail_id"], failed_id);
    // It fails again (the template still does not exist) and is given up again.
    let report = run_jobs(&app).await;
    assert_eq!(report["mail_failed"], 1);
    std::fs::remove_dir_all(&dir).ok();
}

async fn mail_uses_the_settings_and_the_language(backend: Backend) {
    // The memory transport, so the rendered parts can be read directly.
    let db = TestDb::new(backend).await;
    let args = ServeArgs {
        database_url: db.url.clone(),
        ..test_args()
    };
    let (transport, sent) = Transport::memory();
    let state = AppState::with_mailer(
        db.store.clone(),
        Config::from_args(&args).unwrap(),
        transport,
    )
    .await
    .unwrap();
    let router = mitai_server::app(state.clone());
    let app = TestApp { db, state, router };
    let admin = setup(&app).await;
    app.set_setting(&admin, "base_url", json!("https://mitai.example.org"))
        .await;
    app.set_setting(&admin, "mail_from", json!("Mitai Team <team@example.org>"))
        .await;
    enqueue(
        &app,
        "carla@example.org",
        "invitation",
        "de",
        json!({"inviter": "Anna <Admin>", "token": "inv-42"}),
    )
    .await;
    assert_eq!(run_jobs(&app).await["mail_sent"], 1);

    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let m = &sent[0];
    assert_eq!(m.to, "carla@example.org");
    assert_eq!(m.from, "Mitai Team <team@example.org>");
    assert_eq!(m.subject, "Anna <Admin> lädt dich zu Mitai ein");
    assert!(
        m.text
            .contains("https://mitai.example.org/invitation?token=inv-42"),
        "{}",
        m.text
    );
    assert!(m.html.contains("<html lang=\"de\">"));
    assert!(m.html.contains("Anna &lt;Admin&gt;"), "escaped in HTML");
    assert!(!m.html.contains("Anna <Admin>"));
    assert!(
        m.html
            .contains("href=\"https://mitai.example.org/invitation?token=inv-42\"")
    );
}

/// `mitai jobs run` sends through `MITAI_MAIL` (not the log) with `MITAI_BASE_URL` links.
#[tokio::test]
async fn jobs_run_cli_sends_mail_through_the_configured_transport() {
    let db = TestDb::sqlite().await;
    let out = std::env::temp_dir().join(format!("mitai-cli-eml-{}", uuid::Uuid::now_v7().simple()));
    let mail = mitai_store::NewMail::new(
        "dora@example.org",
        "verify_email",
        "en",
        json!({"name": "Dora", "token": "cli-token"}),
        chrono::Utc::now(),
    );
    db.store.enqueue_mail(&mail).await.unwrap();

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mitai"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MITAI_") {
            cmd.env_remove(key);
        }
    }
    let done = cmd
        .args(["jobs", "run"])
        .env("MITAI_DATABASE_URL", &db.url)
        .env("MITAI_MAIL", format!("file:{}", out.display()))
        .env("MITAI_BASE_URL", "https://mitai.example.org/")
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report: Value = serde_json::from_slice(&done.stdout).expect("a JSON report");
    assert_eq!(report["mail_sent"], 1, "{report}");
    let eml = std::fs::read_to_string(out.join(format!("{}.eml", mail.id))).expect("the .eml");
    assert!(unfold_qp(&eml).contains("https://mitai.example.org/verify-email?token=cli-token"));
    std::fs::remove_dir_all(&out).ok();
}
