//! The account flows over HTTP, on both backends: e-mail verification and its gate,
//! invitations, password reset and change, sliding sessions, logout everywhere, disabled
//! accounts, login rate limits, the pages of the e-mailed links, and their activity log.
//! Expiry is shown with the test clock (frozen; it moves only when advanced).

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{DateTime, TimeDelta, Utc};
use mitai_store::Backend;
use serde_json::{Value, json};

on_both_backends!(
    registration_mails_a_hashed_single_use_verification_link,
    unverified_users_are_refused_at_the_gate_and_redemption,
    with_verification_off_unverified_users_pass,
    verification_links_are_single_use_and_expire,
    resending_the_verification_mail,
    only_admins_invite_unless_users_can_invite,
    an_invitation_opens_invite_only_and_counts_as_verified,
    unusable_invitations_are_refused,
    password_reset_sets_a_new_password_and_ends_every_session,
    password_reset_links_are_single_use_and_expire,
    password_reset_answers_alike_and_is_rate_limited,
    a_link_used_by_ten_requests_at_once_works_once,
    password_change_needs_the_old_password_and_ends_other_sessions,
    sessions_slide_and_are_renewed_rarely,
    logout_all_ends_every_session,
    disabling_an_account_ends_its_sessions,
    failed_logins_are_limited_per_account,
    failed_logins_are_limited_per_ip,
    the_mailed_links_open_working_pages,
    pages_refuse_unusable_links_and_stay_out_of_the_api_doc,
    the_flows_are_in_the_activity_log,
);

// --- helpers ------------------------------------------------------------------------------

const START: &str = "2030-06-03T08:00:00Z";
const PASSWORD: &str = "password123";

async fn app_at_start(backend: Backend) -> TestApp {
    let app = TestApp::new(backend).await;
    app.clock_to(START).await;
    app
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

async fn now(app: &TestApp) -> DateTime<Utc> {
    instant(&app.advance(0).await["now"])
}

/// POSTs JSON with optional bearer token and `X-Forwarded-For`; returns status, headers
/// and JSON (`null` for an empty body).
async fn post_from(
    app: &TestApp,
    uri: &str,
    token: Option<&str>,
    ip: Option<&str>,
    body: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(ip) = ip {
        request = request.header("x-forwarded-for", ip);
    }
    let (status, headers, bytes) = app
        .send(request.body(Body::from(body.to_string())).unwrap())
        .await;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, json)
}

async fn login_from(
    app: &TestApp,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let body = json!({"email": email, "password": password});
    post_from(app, "/api/auth/login", None, ip, body).await
}

/// GET with headers; returns status, headers and the body as text.
async fn get_page(
    app: &TestApp,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, headers, bytes) = app.send(request.body(Body::empty()).unwrap()).await;
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn retry_after(headers: &HeaderMap) -> u64 {
    headers
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn consume(app: &TestApp, token: &str) -> (StatusCode, Value) {
    app.post("/api/me/access/weight/consume", Some(token), json!({}))
        .await
}

async fn single_use_coupon(app: &TestApp, admin: &str) -> String {
    let body = json!({"kind": "single_use", "tier": "basic", "duration_days": 30});
    let (status, coupon) = app.post("/api/admin/coupons", Some(admin), body).await;
    assert_eq!(status, StatusCode::CREATED, "{coupon}");
    coupon["code"].as_str().unwrap().to_owned()
}

async fn redeem(app: &TestApp, token: &str, code: &str) -> (StatusCode, Value) {
    app.post("/api/coupons/redeem", Some(token), json!({"code": code}))
        .await
}

/// Actions logged about a profile, oldest first.
async fn actions_of(app: &TestApp, admin: &str, profile: &str) -> Vec<String> {
    let (status, body) = app
        .get(
            &format!("/api/admin/activity?profile_id={profile}&limit=500"),
            Some(admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut actions: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect();
    actions.reverse();
    actions
}

async fn activity(app: &TestApp, admin: &str, profile: &str, action: &str) -> Vec<Value> {
    let (status, body) = app
        .get(
            &format!("/api/admin/activity?profile_id={profile}&action={action}"),
            Some(admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// All mail of a template to an address, oldest first.
async fn mails_to(app: &TestApp, email: &str, template: &str) -> Vec<mitai_store::OutboxMail> {
    app.db
        .store
        .outbox(None, None, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.template == template && m.to.eq_ignore_ascii_case(email))
        .collect()
}

async fn token_of(app: &TestApp, email: &str, template: &str) -> String {
    app.mailed_token(email, template)
        .await
        .unwrap_or_else(|| panic!("no {template} mail to {email}"))
}

async fn invite(app: &TestApp, token: &str, email: &str) -> (StatusCode, Value) {
    app.post(
        "/api/me/invitations",
        Some(token),
        json!({ "email": email }),
    )
    .await
}

async fn register_invited(app: &TestApp, email: &str, invitation: &str) -> (StatusCode, Value) {
    let body = json!({"email": email, "password": PASSWORD, "name": "Guest",
                      "invitation_token": invitation});
    app.post("/api/auth/register", None, body).await
}

/// The stored expiry of the session of a bearer token.
async fn session_expiry(app: &TestApp, token: &str) -> DateTime<Utc> {
    let hash = mitai_server::service::credentials::token_hash(token);
    let now = now(app).await;
    app.db
        .store
        .session(&hash, now)
        .await
        .unwrap()
        .expect("live session")
        .expires_at
}

// --- verification -------------------------------------------------------------------------

async fn registration_mails_a_hashed_single_use_verification_link(backend: Backend) {
    let app = app_at_start(backend).await;
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "Vera@Example.org", "password": PASSWORD, "name": "Vera",
                   "language": "de"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["profile"]["email_verified"], false);
    let mails = mails_to(&app, "vera@example.org", "verify_email").await;
    assert_eq!(
        mails.len(),
        1,
        "one verification mail, with the registration"
    );
    let mail = &mails[0];
    assert_eq!(mail.language, "de");
    assert_eq!(mail.data["name"], "Vera");
    assert_eq!(mail.created_at, instant(&json!(START)));
    let token = mail.data["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    // Only the token's hash is stored.
    let stored = app
        .db
        .store
        .account_token(
            &mitai_server::service::credentials::token_hash(token),
            mitai_store::TokenKind::VerifyEmail,
            now(&app).await,
        )
        .await
        .unwrap()
        .expect("stored by hash");
    assert_eq!(stored.expires_at - stored.created_at, TimeDelta::hours(48));
    let raw = app
        .db
        .store
        .account_token(token, mitai_store::TokenKind::VerifyEmail, now(&app).await)
        .await
        .unwrap();
    assert!(raw.is_none(), "the raw token is not a key");

    let (status, body) = app
        .post("/api/auth/verify-email", None, json!({ "token": token }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["email"], "Vera@Example.org");
    assert_eq!(body["profile"]["email_verified"], true);
    // Reused: refused.
    let (status, body) = app
        .post("/api/auth/verify-email", None, json!({ "token": token }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );
    let token = app.login("vera@example.org", PASSWORD).await;
    let (_, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(me["profile"]["email_verified"], true);
}

async fn unverified_users_are_refused_at_the_gate_and_redemption(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let code_1 = single_use_coupon(&app, &admin).await;
    let (token, _) = app.unverified_user("new@example.org").await;

    let (status, body) = consume(&app, &token).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified"),
        "{body}"
    );
    let (status, body) = redeem(&app, &token, &code_1).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified"),
        "{body}"
    );
    // Refusals change nothing: no usage, the coupon is still unredeemed.
    let (status, access) = app.get("/api/me/access/weight", Some(&token)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "reading access needs no verification"
    );
    assert_eq!(access["used"], 0);
    let (status, body) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["profile"]["email_verified"], false);

    // Verified, the gate opens for the same session.
    app.verify("new@example.org").await;
    let (status, body) = consume(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["used"], 1);
    let (status, body) = redeem(&app, &token, &code_1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grant"]["tier"], "basic");
}

async fn with_verification_off_unverified_users_pass(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    app.set_setting(&admin, "require_email_verification", json!(false))
        .await;
    let code_1 = single_use_coupon(&app, &admin).await;
    let (token, _) = app.unverified_user("relaxed@example.org").await;
    let (status, body) = consume(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = redeem(&app, &token, &code_1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A verification mail was sent all the same.
    assert_eq!(
        mails_to(&app, "relaxed@example.org", "verify_email")
            .await
            .len(),
        1
    );
    // On again: the gate closes for the unverified profile.
    app.set_setting(&admin, "require_email_verification", json!(true))
        .await;
    let (status, body) = consume(&app, &token).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified")
    );
}

async fn verification_links_are_single_use_and_expire(backend: Backend) {
    let app = app_at_start(backend).await;
    app.register_user("late@example.org").await;
    let token = token_of(&app, "late@example.org", "verify_email").await;
    for bad in [
        json!({"token": "0".repeat(64)}),
        json!({"token": ""}),
        json!({"token": "x".repeat(5000)}),
    ] {
        let (status, body) = app.post("/api/auth/verify-email", None, bad).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_token")
        );
    }
    let (status, _) = app
        .post("/api/auth/verify-email", None, json!({"code": token}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Just before 48 hours it works; this one waits until the 48 hours are over.
    app.advance(48 * 3600).await;
    let (status, body) = app
        .post("/api/auth/verify-email", None, json!({ "token": token }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );

    app.register_user("early@example.org").await;
    let token = token_of(&app, "early@example.org", "verify_email").await;
    app.advance(48 * 3600 - 1).await;
    let (status, body) = app
        .post("/api/auth/verify-email", None, json!({ "token": token }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn resending_the_verification_mail(backend: Backend) {
    let app = app_at_start(backend).await;
    let (token, _) = app.unverified_user("again@example.org").await;
    let first = token_of(&app, "again@example.org", "verify_email").await;
    let (status, body) = app
        .post("/api/auth/resend-verification", None, json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );

    let (status, body) = app
        .post("/api/auth/resend-verification", Some(&token), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let second = token_of(&app, "again@example.org", "verify_email").await;
    assert_ne!(first, second, "a new link");
    assert_eq!(
        mails_to(&app, "again@example.org", "verify_email")
            .await
            .len(),
        2
    );
    // Four more are allowed within the hour, then 429.
    for _ in 0..4 {
        let (status, _) = app
            .post("/api/auth/resend-verification", Some(&token), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, headers, body) = post_from(
        &app,
        "/api/auth/resend-verification",
        Some(&token),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(retry_after(&headers) >= 1);

    // Any of the links verifies; then all are spent and resending has nothing to do.
    let (status, _) = app
        .post("/api/auth/verify-email", None, json!({ "token": first }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post("/api/auth/verify-email", None, json!({ "token": second }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );
    app.advance(3600).await;
    let (status, body) = app
        .post("/api/auth/resend-verification", Some(&token), json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "already_verified")
    );
}

// --- invitations --------------------------------------------------------------------------

async fn only_admins_invite_unless_users_can_invite(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let admin_id = {
        let (_, me) = app.get("/api/me", Some(&admin)).await;
        me["profile"]["id"].as_str().unwrap().to_owned()
    };
    let (user, user_id) = app.user("member@example.org").await;
    let (status, body) = invite(&app, &user, "friend@example.org").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{body}"
    );
    let (status, _) = invite(&app, "not-a-session", "friend@example.org").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        mails_to(&app, "friend@example.org", "invitation")
            .await
            .is_empty()
    );

    let (status, body) = invite(&app, &admin, " Friend@Example.org ").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let inv = &body["invitation"];
    assert!(uuid::Uuid::parse_str(inv["id"].as_str().unwrap()).is_ok());
    assert_eq!(inv["email"], "Friend@Example.org");
    assert_eq!(inv["invited_by"], admin_id.as_str());
    assert_eq!(instant(&inv["created_at"]), instant(&json!(START)));
    assert_eq!(
        instant(&inv["expires_at"]) - instant(&inv["created_at"]),
        TimeDelta::days(7)
    );
    let mails = mails_to(&app, "friend@example.org", "invitation").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].data["inviter"], "Admin");
    assert_eq!(mails[0].data["token"].as_str().unwrap().len(), 64);
    for bad in [
        json!({"email": "nope"}),
        json!({"email": "a@b.org", "language": "fr"}),
        json!({}),
    ] {
        let (status, body) = app.post("/api/me/invitations", Some(&admin), bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }

    // With users_can_invite, verified users invite too (in the language they choose) …
    app.set_setting(&admin, "users_can_invite", json!(true))
        .await;
    let (status, body) = app
        .post(
            "/api/me/invitations",
            Some(&user),
            json!({"email": "pal@example.org", "language": "de"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["invitation"]["invited_by"], user_id.as_str());
    let mails = mails_to(&app, "pal@example.org", "invitation").await;
    assert_eq!(
        (mails[0].language.as_str(), &mails[0].data["inviter"]),
        ("de", &json!("Test"))
    );
    // … unverified ones do not …
    let (unverified, _) = app.unverified_user("fresh@example.org").await;
    let (status, body) = invite(&app, &unverified, "x@example.org").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified")
    );
    // … and users send at most 10 an hour (admins are not limited).
    for i in 1..10 {
        let (status, body) = invite(&app, &user, &format!("pal{i}@example.org")).await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {body}");
    }
    let (status, headers, body) = post_from(
        &app,
        "/api/me/invitations",
        Some(&user),
        None,
        json!({"email": "one-too-many@example.org"}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(retry_after(&headers) >= 1);
    for i in 0..12 {
        let (status, _) = invite(&app, &admin, &format!("bulk{i}@example.org")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
}

async fn an_invitation_opens_invite_only_and_counts_as_verified(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let admin_id = {
        let (_, me) = app.get("/api/me", Some(&admin)).await;
        me["profile"]["id"].as_str().unwrap().to_owned()
    };
    app.set_setting(&admin, "registration_mode", json!("invite_only"))
        .await;
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "guest@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "registration_closed")
    );

    let (status, _) = invite(&app, &admin, "Guest@Example.org").await;
    assert_eq!(status, StatusCode::CREATED);
    let invitation = token_of(&app, "guest@example.org", "invitation").await;
    // Another address than the invited one: refused, and the invitation stays usable.
    let (status, body) = register_invited(&app, "stranger@example.org", &invitation).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token"),
        "{body}"
    );

    // The invited address, in any case: registered, verified, invited by the admin.
    let (status, body) = register_invited(&app, "GUEST@example.org", &invitation).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let profile = &body["profile"];
    assert_eq!(profile["email_verified"], true);
    assert_eq!(
        profile["effective_tier"], "premium",
        "the trial applies as usual"
    );
    let id = uuid::Uuid::parse_str(profile["id"].as_str().unwrap()).unwrap();
    let stored = app.db.store.profile(id).await.unwrap().unwrap();
    assert_eq!(stored.invited_by.map(|u| u.to_string()), Some(admin_id));
    assert!(
        mails_to(&app, "guest@example.org", "verify_email")
            .await
            .is_empty(),
        "no verification mail for an invited account"
    );
    // Verified: gated features are open at once.
    let token = app.login("guest@example.org", PASSWORD).await;
    let (status, body) = consume(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let registered = activity(&app, &admin, &id.to_string(), "register").await;
    assert_eq!(registered[0]["details"]["invited"], true);

    // Single use.
    let (status, body) = register_invited(&app, "guest@example.org", &invitation).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );
}

async fn unusable_invitations_are_refused(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    // Open registration: a bad invitation is still refused, not ignored.
    let (status, body) = register_invited(&app, "a@example.org", &"f".repeat(64)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );
    assert!(
        app.db
            .store
            .credentials("a@example.org")
            .await
            .unwrap()
            .is_none()
    );

    // Expired after 7 days.
    invite(&app, &admin, "slow@example.org").await;
    let slow = token_of(&app, "slow@example.org", "invitation").await;
    invite(&app, &admin, "quick@example.org").await;
    let quick = token_of(&app, "quick@example.org", "invitation").await;
    app.advance(7 * 86_400 - 1).await;
    let (status, body) = register_invited(&app, "quick@example.org", &quick).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.advance(1).await;
    let (status, body) = register_invited(&app, "slow@example.org", &slow).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );

    // `closed` is closed, invitation or not.
    invite(&app, &admin, "closed@example.org").await;
    let closed = token_of(&app, "closed@example.org", "invitation").await;
    app.set_setting(&admin, "registration_mode", json!("closed"))
        .await;
    let (status, body) = register_invited(&app, "closed@example.org", &closed).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "registration_closed")
    );
    // A taken address: 409, and the invitation is not used up.
    app.set_setting(&admin, "registration_mode", json!("open"))
        .await;
    app.user("taken@example.org").await;
    invite(&app, &admin, "taken@example.org").await;
    let taken = token_of(&app, "taken@example.org", "invitation").await;
    let (status, body) = register_invited(&app, "taken@example.org", &taken).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "email_taken"));
    let hash = mitai_server::service::credentials::token_hash(&taken);
    let still = app
        .db
        .store
        .invitation(&hash, now(&app).await)
        .await
        .unwrap();
    assert!(still.is_some());
    // Bad input is 422 before the invitation is looked at.
    let (status, _) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "closed@example.org", "password": "short", "invitation_token": closed}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

// --- passwords ----------------------------------------------------------------------------

async fn password_reset_sets_a_new_password_and_ends_every_session(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let (first, id) = app.user("forgot@example.org").await;
    let second = app.login("forgot@example.org", PASSWORD).await;

    let (status, headers, body) = post_from(
        &app,
        "/api/auth/password-reset",
        None,
        None,
        json!({"email": "Forgot@Example.org"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(headers.get(header::SET_COOKIE).is_none());
    let mails = mails_to(&app, "forgot@example.org", "password_reset").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].data["name"], "Test");
    let token = mails[0].data["token"].as_str().unwrap().to_owned();

    // A bad new password: 422, and the link is not used up.
    let (status, body) = app
        .post(
            "/api/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["password"].is_string());
    let (status, body) = app
        .post(
            "/api/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "brand-new-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["id"], id.as_str());

    // Every session ended, the old password is gone, the new one works.
    for token in [&first, &second] {
        let (status, _) = app.get("/api/me", Some(token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = login_from(&app, "forgot@example.org", PASSWORD, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("forgot@example.org", "brand-new-pass").await;
    let changed = activity(&app, &admin, &id, "password_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["details"], json!({"via": "reset"}));
    assert_eq!(changed[0]["actor_id"], id.as_str());
    assert_eq!(
        activity(&app, &admin, &id, "password_reset_requested")
            .await
            .len(),
        1
    );
}

async fn password_reset_links_are_single_use_and_expire(backend: Backend) {
    let app = app_at_start(backend).await;
    app.user("twice@example.org").await;
    let ask = |email: &'static str| {
        let app = &app;
        async move {
            let (status, _) = app
                .post("/api/auth/password-reset", None, json!({ "email": email }))
                .await;
            assert_eq!(status, StatusCode::ACCEPTED);
            token_of(app, email, "password_reset").await
        }
    };
    let confirm = |token: String, password: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/auth/password-reset/confirm",
                None,
                json!({"token": token, "password": password}),
            )
            .await
        }
    };
    let older = ask("twice@example.org").await;
    let newer = ask("twice@example.org").await;
    assert_ne!(older, newer);
    let (status, _) = confirm(newer.clone(), "first-new-pass").await;
    assert_eq!(status, StatusCode::OK);
    // The same link again, and the older link of the account: both spent.
    for token in [newer, older] {
        let (status, body) = confirm(token, "second-new-pass").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_token")
        );
    }
    app.login("twice@example.org", "first-new-pass").await;
    let (status, body) = confirm("0".repeat(64), "second-new-pass").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );

    // A link works for one hour.
    let token = ask("twice@example.org").await;
    app.advance(3600 - 1).await;
    let late = ask("twice@example.org").await;
    let (status, _) = confirm(token, "third-new-pass").await;
    assert_eq!(status, StatusCode::OK, "one second before the hour");
    app.advance(3600).await;
    let _ = late;
    let token = ask("twice@example.org").await;
    app.advance(3600).await;
    let (status, body) = confirm(token, "fourth-new-pass").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );
    app.login("twice@example.org", "third-new-pass").await;
}

async fn password_reset_answers_alike_and_is_rate_limited(backend: Backend) {
    let app = app_at_start(backend).await;
    app.user("known@example.org").await;
    let ask = |email: &'static str, ip: &'static str| {
        let app = &app;
        async move {
            post_from(
                app,
                "/api/auth/password-reset",
                None,
                Some(ip),
                json!({ "email": email }),
            )
            .await
        }
    };
    // Known and unknown addresses get the same answer; only the known one gets mail.
    let (known_status, _, known_body) = ask("known@example.org", "192.0.2.1").await;
    let (unknown_status, _, unknown_body) = ask("unknown@example.org", "192.0.2.1").await;
    assert_eq!(known_status, StatusCode::ACCEPTED);
    assert_eq!((unknown_status, &unknown_body), (known_status, &known_body));
    assert_eq!(
        mails_to(&app, "known@example.org", "password_reset")
            .await
            .len(),
        1
    );
    assert!(
        mails_to(&app, "unknown@example.org", "password_reset")
            .await
            .is_empty()
    );

    // Five per address in 15 minutes, from any address; the sixth is 429, known or not.
    for _ in 0..4 {
        let (status, _, _) = ask("known@example.org", "192.0.2.2").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, _, _) = ask("unknown@example.org", "192.0.2.3").await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    for email in ["known@example.org", "UNKNOWN@example.org"] {
        let (status, headers, body) = post_from(
            &app,
            "/api/auth/password-reset",
            None,
            Some("192.0.2.4"),
            json!({ "email": email }),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        assert!((1..=900).contains(&retry_after(&headers)));
    }
    assert_eq!(
        mails_to(&app, "known@example.org", "password_reset")
            .await
            .len(),
        5
    );

    // Twenty per IP: the IP that asked for many addresses is stopped.
    for i in 0..20 {
        let email = format!("nobody{i}@example.org");
        let (status, _, _) = post_from(
            &app,
            "/api/auth/password-reset",
            None,
            Some("198.51.100.9"),
            json!({ "email": email }),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{i}");
    }
    let (status, _, body) = ask("someone@example.org", "198.51.100.9").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let (status, _, _) = ask("someone@example.org", "198.51.100.10").await;
    assert_eq!(status, StatusCode::ACCEPTED, "another IP is not limited");
    // The window passes.
    app.advance(15 * 60).await;
    let (status, _, _) = ask("known@example.org", "192.0.2.4").await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

async fn a_link_used_by_ten_requests_at_once_works_once(backend: Backend) {
    let app = app_at_start(backend).await;
    app.user("racer@example.org").await;
    app.post(
        "/api/auth/password-reset",
        None,
        json!({"email": "racer@example.org"}),
    )
    .await;
    let token = token_of(&app, "racer@example.org", "password_reset").await;
    let attempts = (0..10).map(|i| {
        let body = json!({"token": token, "password": format!("racing-pass-{i}")});
        app.post("/api/auth/password-reset/confirm", None, body)
    });
    let answers = futures::future::join_all(attempts).await;
    let won: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, (status, _))| *status == StatusCode::OK)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::OK {
            assert_eq!(
                (*status, code(body)),
                (StatusCode::BAD_REQUEST, "invalid_token")
            );
        }
    }
    // The winner's password is the one that counts.
    app.login("racer@example.org", &format!("racing-pass-{}", won[0]))
        .await;

    // The same for a verification link.
    app.register_user("racer2@example.org").await;
    let token = token_of(&app, "racer2@example.org", "verify_email").await;
    let attempts =
        (0..10).map(|_| app.post("/api/auth/verify-email", None, json!({ "token": token })));
    let answers = futures::future::join_all(attempts).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
}

async fn password_change_needs_the_old_password_and_ends_other_sessions(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let (current, id) = app.user("change@example.org").await;
    let other = app.login("change@example.org", PASSWORD).await;
    // A reset link asked for before the change stops working with it.
    app.post(
        "/api/auth/password-reset",
        None,
        json!({"email": "change@example.org"}),
    )
    .await;
    let reset = token_of(&app, "change@example.org", "password_reset").await;

    let change = |old: &'static str, new: &'static str| {
        let (app, current) = (&app, current.clone());
        async move {
            app.post(
                "/api/me/password",
                Some(&current),
                json!({"old_password": old, "new_password": new}),
            )
            .await
        }
    };
    let (status, body) = change("wrong-password", "changed-pass-1").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "wrong_password")
    );
    let (status, body) = change(PASSWORD, "short").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["new_password"].is_string());
    let (status, _) = app
        .post(
            "/api/me/password",
            None,
            json!({"old_password": PASSWORD, "new_password": "changed-pass-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing changed so far.
    let (status, _) = app.get("/api/me", Some(&other)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = change(PASSWORD, "changed-pass-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["id"], id.as_str());
    let (status, _) = app.get("/api/me", Some(&current)).await;
    assert_eq!(status, StatusCode::OK, "this session stays");
    let (status, _) = app.get("/api/me", Some(&other)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the others end");
    let (status, _, _) = login_from(&app, "change@example.org", PASSWORD, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("change@example.org", "changed-pass-1").await;
    let (status, body) = app
        .post(
            "/api/auth/password-reset/confirm",
            None,
            json!({"token": reset, "password": "reset-pass-1"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_token")
    );
    let changed = activity(&app, &admin, &id, "password_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["details"], json!({"via": "change"}));

    // Wrong old passwords count against the account's login limit (with the failed
    // login above, two failures so far: eight more reach the limit of ten).
    for _ in 0..8 {
        let (status, _) = change("wrong-password", "changed-pass-2").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, body) = change("changed-pass-1", "changed-pass-2").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let (status, _, _) = login_from(&app, "change@example.org", "changed-pass-1", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

// --- sessions -----------------------------------------------------------------------------

async fn sessions_slide_and_are_renewed_rarely(backend: Backend) {
    let app = app_at_start(backend).await;
    app.user("slide@example.org").await;
    let (_, headers, body) = login_from(&app, "slide@example.org", PASSWORD, None).await;
    let token = body["token"].as_str().unwrap().to_owned();
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let login_expiry = session_expiry(&app, &token).await;
    assert_eq!(login_expiry - now(&app).await, TimeDelta::days(30));

    // In the first half of its life a session is used without any write.
    app.advance(14 * 86_400).await;
    let (status, headers, _) = get_page(&app, "/api/me", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert_eq!(
        session_expiry(&app, &token).await,
        login_expiry,
        "not renewed"
    );

    // In the second half, a use renews it to 30 days from now — and the cookie too.
    app.advance(2 * 86_400).await;
    let (status, headers, _) = get_page(&app, "/api/me", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::OK);
    let renewed = session_expiry(&app, &token).await;
    assert_eq!(renewed - now(&app).await, TimeDelta::days(30));
    let set = headers.get(header::SET_COOKIE).expect("cookie renewed");
    let set = set.to_str().unwrap();
    assert!(set.starts_with(&pair), "{set}");
    assert!(
        set.contains("Max-Age=2592000") && set.contains("HttpOnly"),
        "{set}"
    );
    // Right after, nothing is due again.
    let (_, headers, _) = get_page(&app, "/api/me", &[("cookie", &pair)]).await;
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert_eq!(session_expiry(&app, &token).await, renewed);

    // So a session in use lives past its first 30 days: 45 days after login it works.
    app.advance(29 * 86_400).await;
    let (status, _) = app.get("/api/me", Some(&token)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "45 days after login, used on day 16"
    );
    // With a bearer token the renewal happens without a cookie.
    let (status, headers, _) = get_page(
        &app,
        "/api/me",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::SET_COOKIE).is_none());
    // Unused for 30 days, it ends.
    let expiry = session_expiry(&app, &token).await;
    app.clock_to(&expiry.to_rfc3339()).await;
    let (status, body) = app.get("/api/me", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
}

async fn logout_all_ends_every_session(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let (first, id) = app.user("everywhere@example.org").await;
    let second = app.login("everywhere@example.org", PASSWORD).await;
    let third = app.login("everywhere@example.org", PASSWORD).await;
    let (other, _) = app.user("bystander@example.org").await;

    let (status, headers, body) =
        post_from(&app, "/api/auth/logout-all", Some(&second), None, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    for token in [&first, &second, &third] {
        let (status, _) = app.get("/api/me", Some(token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app.get("/api/me", Some(&other)).await;
    assert_eq!(status, StatusCode::OK, "other profiles keep theirs");
    let (status, _) = app
        .post("/api/auth/logout-all", Some(&second), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let logouts = activity(&app, &admin, &id, "logout").await;
    assert_eq!(logouts[0]["details"], json!({"all": true, "sessions": 3}));
    // Signing in again works.
    app.login("everywhere@example.org", PASSWORD).await;
}

async fn disabling_an_account_ends_its_sessions(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("gone@example.org").await;
    app.login("gone@example.org", PASSWORD).await;
    let hash = mitai_server::service::credentials::token_hash(&token);
    let (status, body) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The sessions are gone from the store, not only refused.
    let profile_id = uuid::Uuid::parse_str(&id).unwrap();
    assert!(
        app.db
            .store
            .session(&hash, now(&app).await)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.db
            .store
            .delete_sessions(profile_id, None)
            .await
            .unwrap(),
        0
    );
    let (status, _, body) = login_from(&app, "gone@example.org", PASSWORD, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "account_disabled")
    );
    // Enabled again, the old sessions stay ended; a new login works.
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("gone@example.org", PASSWORD).await;
}

// --- login rate limits --------------------------------------------------------------------

async fn failed_logins_are_limited_per_account(backend: Backend) {
    let app = app_at_start(backend).await;
    app.user("victim@example.org").await;
    app.user("neighbour@example.org").await;
    let ip = Some("203.0.113.50");
    let mut first_429 = None;
    for attempt in 1..=30 {
        let (status, headers, body) =
            login_from(&app, "victim@example.org", "wrong-password", ip).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code(&body), "rate_limited");
            assert!((1..=900).contains(&retry_after(&headers)));
            first_429.get_or_insert(attempt);
        } else {
            assert!(first_429.is_none(), "429 stays until the window ends");
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(
        first_429,
        Some(11),
        "ten failures are allowed, the 11th is refused"
    );
    // Locked: even the right password waits (no guessing through the lock) …
    let (status, _, _) = login_from(&app, "victim@example.org", PASSWORD, ip).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // … another account from the same IP signs in, again and again (successes never count).
    for _ in 0..12 {
        let (status, _, body) = login_from(&app, "neighbour@example.org", PASSWORD, ip).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Unknown addresses are limited alike (no enumeration through the limit).
    for _ in 0..10 {
        let (status, _, _) = login_from(&app, "ghost@example.org", "wrong-password", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = login_from(&app, "ghost@example.org", "wrong-password", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // After the window the account signs in.
    app.advance(15 * 60).await;
    let (status, _, _) = login_from(&app, "victim@example.org", PASSWORD, ip).await;
    assert_eq!(status, StatusCode::OK);
}

async fn failed_logins_are_limited_per_ip(backend: Backend) {
    let app = app_at_start(backend).await;
    app.user("someone@example.org").await;
    let ip = Some("203.0.113.99");
    // 100 failures spread over many accounts from one IP (under each account's limit).
    for i in 0..100 {
        let email = format!("target{}@example.org", i % 20);
        let (status, _, _) = login_from(&app, &email, "wrong-password", ip).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (status, headers, body) = login_from(&app, "someone@example.org", PASSWORD, ip).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(retry_after(&headers) >= 1);
    let (status, _, _) =
        login_from(&app, "someone@example.org", PASSWORD, Some("203.0.113.100")).await;
    assert_eq!(status, StatusCode::OK, "another IP");
}

// --- pages --------------------------------------------------------------------------------

/// The path and query of the link in a rendered mail (`<base>/<page>?token=…`).
fn link_in(app: &TestApp, mail: &mitai_store::OutboxMail) -> String {
    let base = app.state.config.base_url.clone();
    let rendered = mitai_server::mail::templates::render(
        &mail.template,
        &mail.language,
        &mail.data,
        &base,
        chrono_tz::Tz::UTC,
    )
    .unwrap();
    let start = rendered.text.find(&base).expect("a link") + base.len();
    rendered.text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn assert_is_page(headers: &HeaderMap, page: &str) {
    let content_type = headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
    assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(!page.contains("{{"), "unfilled placeholder: {page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "external: {page}"
    );
}

async fn the_mailed_links_open_working_pages(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    app.register_user("pages@example.org").await;
    let mail = &mails_to(&app, "pages@example.org", "verify_email").await[0];
    let link = link_in(&app, mail);
    assert!(link.starts_with("/verify-email?token="), "{link}");
    let (status, headers, page) = get_page(&app, &link, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_is_page(&headers, &page);
    assert!(
        page.contains("action=\"/verify-email\"") && page.contains("name=\"token\""),
        "the page posts the token: {page}"
    );
    assert!(page.contains("<html lang=\"en\">"));

    app.post(
        "/api/auth/password-reset",
        None,
        json!({"email": "pages@example.org"}),
    )
    .await;
    let mail = &mails_to(&app, "pages@example.org", "password_reset").await[0];
    let link = link_in(&app, mail);
    assert!(link.starts_with("/reset-password?token="), "{link}");
    let (status, headers, page) =
        get_page(&app, &link, &[("accept-language", "de-DE,de;q=0.9")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_is_page(&headers, &page);
    assert!(page.contains("<html lang=\"de\">") && page.contains("Passwort setzen"));
    assert!(page.contains("action=\"/reset-password\""));
    assert!(page.contains("type=\"password\""));

    invite(&app, &admin, "o'neil&co@example.org").await;
    let mail = &mails_to(&app, "o'neil&co@example.org", "invitation").await[0];
    let link = link_in(&app, mail);
    assert!(link.starts_with("/invitation?token="), "{link}");
    let (status, headers, page) = get_page(&app, &link, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_is_page(&headers, &page);
    assert!(
        [
            "o&#39;neil&amp;co",
            "o&#x27;neil&amp;co",
            "o&#39;neil&#38;co"
        ]
        .iter()
        .any(|escaped| page.contains(&format!("value=\"{escaped}@example.org\""))),
        "{page}"
    );
    assert!(page.contains("action=\"/register\"") && page.contains("name=\"invitation\""));
}

async fn pages_refuse_unusable_links_and_stay_out_of_the_api_doc(backend: Backend) {
    let app = app_at_start(backend).await;
    for uri in [
        "/reset-password",
        "/reset-password?token=",
        "/reset-password?token=nope",
        "/invitation?token=nope",
        "/invitation",
    ] {
        let (status, headers, page) = get_page(&app, uri, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_is_page(&headers, &page);
        assert!(
            !page.contains("type=\"password\""),
            "{uri}: no form to fill"
        );
    }
    // A verification link without a token offers nothing to confirm; any token gets the
    // page with its button (the store decides when it is pressed).
    let (status, _, _) = get_page(&app, "/verify-email", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get_page(&app, "/verify-email?token=anything", &[]).await;
    assert_eq!(status, StatusCode::OK);
    // An expired reset link: the page says so.
    app.user("expired@example.org").await;
    app.post(
        "/api/auth/password-reset",
        None,
        json!({"email": "expired@example.org"}),
    )
    .await;
    let token = token_of(&app, "expired@example.org", "password_reset").await;
    app.advance(3600).await;
    let (status, _, _) = get_page(&app, &format!("/reset-password?token={token}"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The confirm button posts a form; anything else is not a form.
    let request = Request::post("/verify-email")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(app.send(request).await.0, StatusCode::BAD_REQUEST);

    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for page in ["/verify-email", "/invitation", "/reset-password"] {
        assert!(!paths.contains_key(page), "{page} is not API");
    }
    for route in [
        "/api/auth/verify-email",
        "/api/auth/resend-verification",
        "/api/auth/password-reset",
        "/api/auth/password-reset/confirm",
        "/api/auth/logout-all",
        "/api/me/password",
        "/api/me/invitations",
    ] {
        assert!(paths.contains_key(route), "{route} is documented");
    }
}

// --- activity -----------------------------------------------------------------------------

async fn the_flows_are_in_the_activity_log(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("logged@example.org").await;
    let (status, _, _) = login_from(&app, "logged@example.org", "wrong-password", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post(
            "/api/me/password",
            Some(&token),
            json!({"old_password": PASSWORD, "new_password": "another-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        actions_of(&app, &admin, &id).await,
        [
            "register",
            "email_verified",
            "login",
            "login_failed",
            "password_changed",
            "logout"
        ]
    );
    let verified = activity(&app, &admin, &id, "email_verified").await;
    assert_eq!(verified[0]["actor_id"], id.as_str());
    assert_eq!(verified[0]["profile_id"], id.as_str());
}
