//! Accounts over HTTP, on both backends: registration, the trial, login with bearer token
//! and cookie, logout, disabled accounts and how sessions are stored.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{DateTime, TimeDelta, Utc};
use mitai_server::config::ServeArgs;
use mitai_store::Backend;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const START: &str = "2027-02-01T09:00:00Z";

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

async fn register(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post("/api/auth/register", None, body).await
}

/// Logs in through `send`, returning status, headers and JSON.
async fn raw_login(app: &TestApp, email: &str, password: &str) -> (StatusCode, HeaderMap, Value) {
    let request = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "accounts-test/1.0")
        .body(Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .unwrap();
    let (status, headers, bytes) = app.send(request).await;
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

/// `GET /api/me` with only a cookie header.
async fn me_with_cookie(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    let request = Request::get("/api/me")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let (status, _, bytes) = app.send(request).await;
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn registration_gives_a_profile_and_a_trial(backend: Backend) {
    let app = app_at_start(backend).await;
    let (status, body) = register(
        &app,
        json!({"email": "  Anna@Example.org ", "password": "password123", "name": "Anna",
               "language": "de"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let p = &body["profile"];
    for field in [
        "id",
        "email",
        "name",
        "role",
        "tier",
        "effective_tier",
        "trial_ends_at",
        "email_verified",
        "language",
        "created_at",
    ] {
        assert!(p.get(field).is_some(), "{field} missing from {p}");
    }
    assert!(
        uuid::Uuid::parse_str(p["id"].as_str().unwrap()).is_ok(),
        "{p}"
    );
    assert_eq!(p["email"], "Anna@Example.org", "trimmed, case kept");
    assert_eq!(p["name"], "Anna");
    assert_eq!(p["role"], "user");
    assert_eq!(p["tier"], "free");
    assert_eq!(p["effective_tier"], "premium");
    assert_eq!(p["email_verified"], false);
    assert_eq!(p["language"], "de");
    let created = instant(&p["created_at"]);
    let start = instant(&json!(START));
    assert!(
        created >= start && created - start < TimeDelta::minutes(5),
        "created at {created}"
    );
    let trial_ends = instant(&p["trial_ends_at"]);
    assert_eq!(trial_ends - created, TimeDelta::days(14));

    // Defaults: no name, English.
    let (status, body) = register(
        &app,
        json!({"email": "bare@example.org", "password": "password123"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["profile"]["name"], "");
    assert_eq!(body["profile"]["language"], "en");

    // The trial holds until trial_ends_at, then the base tier is what is left.
    let token = app.login("anna@example.org", "password123").await;
    let (_, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(me["profile"]["effective_tier"], "premium");
    assert_eq!(me["profile"]["id"], p["id"]);
    let (_, access) = app.get("/api/me/access", Some(&token)).await;
    assert_eq!(access["effective_tier"], "premium");

    let until_end = trial_ends - instant(&app.advance(0).await["now"]);
    app.advance(until_end.num_seconds() - 120).await;
    let (_, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(me["profile"]["effective_tier"], "premium", "2 minutes left");
    app.clock_to(&trial_ends.to_rfc3339()).await;
    let (_, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(me["profile"]["effective_tier"], "free", "{me}");
    assert_eq!(me["profile"]["tier"], "free");
    assert_eq!(me["profile"]["trial_ends_at"], p["trial_ends_at"]);
    let (_, access) = app.get("/api/me/access", Some(&token)).await;
    assert_eq!(access["effective_tier"], "free");
    let weight = access["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["feature"] == "weight")
        .unwrap();
    assert_eq!(weight["limit"], 31, "the free tier's limit");
}

async fn registration_settings_shape_new_profiles(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    app.set_setting(&admin, "trial_days", json!(0)).await;
    let (status, body) = register(
        &app,
        json!({"email": "notrial@example.org", "password": "password123"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["profile"]["trial_ends_at"], Value::Null);
    assert_eq!(body["profile"]["effective_tier"], "free");

    app.set_setting(&admin, "default_tier", json!("basic"))
        .await;
    app.set_setting(&admin, "trial_days", json!(3)).await;
    app.set_setting(&admin, "trial_tier", json!("selfhosted"))
        .await;
    let (status, body) = register(
        &app,
        json!({"email": "basic@example.org", "password": "password123"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let p = &body["profile"];
    assert_eq!(p["tier"], "basic");
    assert_eq!(p["effective_tier"], "selfhosted");
    assert_eq!(
        instant(&p["trial_ends_at"]) - instant(&p["created_at"]),
        TimeDelta::days(3)
    );
}

async fn duplicates_and_bad_input_are_refused(backend: Backend) {
    let app = app_at_start(backend).await;
    let (status, _) = register(
        &app,
        json!({"email": "dup@example.org", "password": "password123"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    for email in ["DUP@example.org", "Dup@Example.ORG", " dup@example.org "] {
        let (status, body) =
            register(&app, json!({"email": email, "password": "password123"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{email}: {body}");
        assert_eq!(code(&body), "email_taken");
    }

    // Bad fields are all named at once.
    let (status, body) =
        register(&app, json!({"email": "not-an-email", "password": "short"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "invalid_input");
    assert!(body["error"]["fields"]["email"].is_string(), "{body}");
    assert!(body["error"]["fields"]["password"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string());

    for (bad, field) in [
        (json!({"email": "a@b", "password": "password123"}), "email"),
        (json!({"email": "", "password": "password123"}), "email"),
        (
            json!({"email": "x y@example.org", "password": "password123"}),
            "email",
        ),
        (
            json!({"email": "ok@example.org", "password": "1234567"}),
            "password",
        ),
        (
            json!({"email": "ok@example.org", "password": "p".repeat(129)}),
            "password",
        ),
        (
            json!({"email": "ok@example.org", "password": "password123", "language": "fr"}),
            "language",
        ),
        (
            json!({"email": "ok@example.org", "password": "password123", "name": "n".repeat(101)}),
            "name",
        ),
    ] {
        let (status, body) = register(&app, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(
            body["error"]["fields"][field].is_string(),
            "{field}: {body}"
        );
    }
    // Missing fields, wrong types and unknown fields: 422 too.
    for bad in [
        json!({"email": "ok@example.org"}),
        json!({"password": "password123"}),
        json!({"email": 5, "password": "password123"}),
        json!({"email": "ok@example.org", "password": "password123", "role": "admin"}),
    ] {
        let (status, body) = register(&app, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(code(&body), "invalid_input");
    }
    // Nothing of that created an account; the edges of the password length are fine.
    for (email, password) in [
        ("eight@example.org", "12345678".to_owned()),
        ("long@example.org", "p".repeat(128)),
    ] {
        let (status, body) = register(&app, json!({"email": email, "password": password})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _, _) = raw_login(&app, "ok@example.org", "password123").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn closed_and_invite_only_refuse_registration(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    for mode in ["closed", "invite_only"] {
        app.set_setting(&admin, "registration_mode", json!(mode))
            .await;
        let (status, body) = register(
            &app,
            json!({"email": "knock@example.org", "password": "password123"}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{mode}: {body}");
        assert_eq!(code(&body), "registration_closed");
    }
    // Logging in still works while registration is closed.
    let (status, _, _) = raw_login(&app, "admin@example.org", "adminpass1").await;
    assert_eq!(status, StatusCode::OK);
    app.set_setting(&admin, "registration_mode", json!("open"))
        .await;
    let (status, _) = register(
        &app,
        json!({"email": "knock@example.org", "password": "password123"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "the refusals created nothing");
}

async fn login_sets_an_http_only_cookie(backend: Backend) {
    let app = app_at_start(backend).await;
    let (status, registered) = register(
        &app,
        json!({"email": "cookie@example.org", "password": "password123", "name": "Keks"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, headers, body) = raw_login(&app, "Cookie@Example.org", "password123").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32, "{token}");
    assert_eq!(body["profile"], registered["profile"]);
    let cookies: Vec<&str> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = cookies[0];
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    let pair = attributes[0];
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(value, token, "the cookie carries the token");

    // The cookie alone authenticates.
    let (status, me) = me_with_cookie(&app, pair).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["profile"]["email"], "cookie@example.org");
    // Among other cookies too.
    let (status, _) = me_with_cookie(&app, &format!("theme=dark; {pair}; lang=de")).await;
    assert_eq!(status, StatusCode::OK);
    // A wrong cookie value is 401.
    let (status, body) = me_with_cookie(&app, &format!("{name}=0000")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    // The bearer token works as well.
    let (status, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["profile"]["name"], "Keks");

    // Two logins are two sessions.
    let (_, _, again) = raw_login(&app, "cookie@example.org", "password123").await;
    assert_ne!(again["token"], body["token"]);
}

async fn wrong_credentials_are_one_answer(backend: Backend) {
    let app = app_at_start(backend).await;
    app.user("known@example.org").await;

    let (status, _, wrong_password) = raw_login(&app, "known@example.org", "password124").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong_password}");
    assert_eq!(code(&wrong_password), "invalid_credentials");
    let (status, headers, unknown) = raw_login(&app, "unknown@example.org", "password123").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{unknown}");
    assert_eq!(code(&unknown), "invalid_credentials");
    assert_eq!(unknown, wrong_password, "no account enumeration");
    assert!(headers.get(header::SET_COOKIE).is_none());
    let (status, _, _) = raw_login(&app, "known@example.org", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Malformed bodies are 422, not 5xx.
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "known@example.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The right password still works.
    let (status, _, _) = raw_login(&app, "known@example.org", "password123").await;
    assert_eq!(status, StatusCode::OK);
}

async fn disabled_accounts_cannot_sign_in(backend: Backend) {
    let app = app_at_start(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("gone@example.org").await;
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = raw_login(&app, "gone@example.org", "password123").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "account_disabled");
    assert!(headers.get(header::SET_COOKIE).is_none());
    // A wrong password does not reveal that the account is disabled.
    let (status, _, body) = raw_login(&app, "gone@example.org", "wrongpass1").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    // The session from before is no longer accepted.
    let (status, body) = app.get("/api/me", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
}

async fn logout_ends_the_session(backend: Backend) {
    let app = app_at_start(backend).await;
    let (token, _) = app.user("bye@example.org").await;
    let other = app.login("bye@example.org", "password123").await;

    let request = Request::post("/api/auth/logout")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = app.send(request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    // The cookie is cleared.
    let cookie = headers
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");

    let (status, body) = app.get("/api/me", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (status, _) = app.post("/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logging out twice");
    // Other sessions of the profile stay.
    let (status, _) = app.get("/api/me", Some(&other)).await;
    assert_eq!(status, StatusCode::OK);

    // Logout by cookie.
    let (_, headers, body) = raw_login(&app, "bye@example.org", "password123").await;
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let request = Request::post("/api/auth/logout")
        .header(header::COOKIE, &pair)
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = app.send(request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = me_with_cookie(&app, &pair).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get("/api/me", body["token"].as_str()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Without a session: 401.
    let (status, body) = app.post("/api/auth/logout", None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
}

async fn me_needs_a_session(backend: Backend) {
    let app = app_at_start(backend).await;
    let (token, _) = app.user("me@example.org").await;
    let (status, body) = app.get("/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "unauthenticated");
    assert!(body["error"]["message"].is_string());
    let (status, _) = app.get("/api/me", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for authorization in [
        format!("Basic {token}"),
        format!("Bearer{token}"),
        "Bearer ".to_owned(),
        token.clone(),
    ] {
        let request = Request::get("/api/me")
            .header(header::AUTHORIZATION, &authorization)
            .body(Body::empty())
            .unwrap();
        let (status, _, _) = app.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization}");
    }
    // The scheme is case-insensitive.
    let request = Request::get("/api/me")
        .header(header::AUTHORIZATION, format!("bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = app.send(request).await;
    assert_eq!(status, StatusCode::OK);
    // /api/me/access needs one too.
    let (status, _) = app.get("/api/me/access", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn sessions_expire_after_30_days(backend: Backend) {
    let app = app_at_start(backend).await;
    let (_, headers, body) = {
        app.user("expiring@example.org").await;
        raw_login(&app, "expiring@example.org", "password123").await
    };
    let token = body["token"].as_str().unwrap().to_owned();
    let expires_at = instant(&body["expires_at"]);
    let now = instant(&app.advance(0).await["now"]);
    let left = expires_at - now;
    assert!(
        left > TimeDelta::days(30) - TimeDelta::minutes(5) && left <= TimeDelta::days(30),
        "{left}"
    );
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cookie.contains("Max-Age=2592000"), "{cookie}");

    // Used in the first half of its life, a session is not renewed (a use in the second
    // half would renew it: see `account_flows.rs`), so it ends 30 days after login.
    app.advance(14 * 86_400).await;
    let (status, _) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    app.clock_to(&expires_at.to_rfc3339()).await;
    let (status, body) = app.get("/api/me", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
}

async fn session_tokens_are_stored_hashed(backend: Backend) {
    let app = app_at_start(backend).await;
    let (token, id) = app.user("hashed@example.org").await;
    let now = instant(&app.advance(0).await["now"]);
    // The store does not know the token itself, only its SHA-256.
    let by_token = app.db.store.session_profile(&token, now).await.unwrap();
    assert!(by_token.is_none(), "the raw token is a session key");
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    assert_ne!(hash, token);
    let by_hash = app.db.store.session_profile(&hash, now).await.unwrap();
    assert_eq!(
        by_hash.map(|p| p.id.to_string()),
        Some(id),
        "sessions are keyed by the token's hash"
    );
    // And the hash is not a token: presented as one it is refused.
    let (status, _) = app.get("/api/me", Some(&hash)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn the_cookie_is_secure_behind_https(backend: Backend) {
    let args = ServeArgs {
        base_url: Some("https://mitai.example.org".into()),
        ..ServeArgs::default()
    };
    let app = TestApp::with_args(backend, args).await;
    app.user("secure@example.org").await;
    let (status, headers, _) = raw_login(&app, "secure@example.org", "password123").await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(attributes.contains(&attribute), "{attribute}: {cookie}");
    }
}

/// `PATCH /api/me` changes the fields named, metric; `null` clears a fact; a bad value is
/// 422 naming its field and changes nothing.
async fn people_change_their_own_facts(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _) = app.user("facts@example.org").await;
    let (status, body) = app
        .patch(
            "/api/me",
            Some(&token),
            json!({"height_cm": 181.5, "birth_date": "1980-05-17", "sex": "female",
                   "timezone": "Europe/Berlin", "units": "imperial", "goal_weight_kg": 72.5,
                   "name": " Anna "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let p = &body["profile"];
    assert_eq!(p["height_cm"], 181.5);
    assert_eq!(p["birth_date"], "1980-05-17");
    assert_eq!(p["sex"], "female");
    assert_eq!(p["timezone"], "Europe/Berlin");
    assert_eq!(p["units"], "imperial");
    assert_eq!(p["goal_weight_kg"], 72.5);
    assert_eq!(p["name"], "Anna");
    assert_eq!(p["show_rewards"], true);
    for (field, value) in [
        ("height_cm", json!(20)),
        ("height_cm", json!("tall")),
        ("birth_date", json!("2030-01-01")),
        ("birth_date", json!("1980-02-30")),
        ("sex", json!("other")),
        ("timezone", json!("Mars/Olympus")),
        ("units", json!("stones")),
        ("goal_weight_kg", json!(1000)),
        ("name", json!("a\u{1b}b")),
    ] {
        let (status, body) = app
            .patch("/api/me", Some(&token), json!({ field: value }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
    }
    let (_, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(me["profile"]["height_cm"], 181.5, "nothing changed");
    let (status, body) = app
        .patch(
            "/api/me",
            Some(&token),
            json!({"height_cm": null, "timezone": null, "units": "metric"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["height_cm"], Value::Null);
    assert_eq!(body["profile"]["timezone"], Value::Null);
    assert_eq!(body["profile"]["units"], "metric");
    assert_eq!(body["profile"]["sex"], "female", "not named, kept");
    let (status, _) = app.patch("/api/me", None, json!({"units": "metric"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

on_both_backends!(
    people_change_their_own_facts,
    registration_gives_a_profile_and_a_trial,
    registration_settings_shape_new_profiles,
    duplicates_and_bad_input_are_refused,
    closed_and_invite_only_refuse_registration,
    login_sets_an_http_only_cookie,
    wrong_credentials_are_one_answer,
    disabled_accounts_cannot_sign_in,
    logout_ends_the_session,
    me_needs_a_session,
    sessions_expire_after_30_days,
    session_tokens_are_stored_hashed,
    the_cookie_is_secure_behind_https,
);
