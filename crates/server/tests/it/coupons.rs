//! Coupons and grants end to end, on both backends: stacking scenarios with the test
//! clock, admin pause/resume/revoke, Wellpass months, refusals, races and rate limits.

use std::sync::Arc;

use crate::common::TestApp;
use axum::http::StatusCode;
use mitai_store::Backend;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// An app whose clock starts at `start`, without trials, and its admin token.
async fn setup(backend: Backend, start: &str) -> (Arc<TestApp>, String) {
    let app = TestApp::new(backend).await;
    let (status, body) = app
        .post("/api/test/clock", None, json!({"now": start}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin = app.admin().await;
    let (status, body) = app
        .put(
            "/api/admin/settings/trial_days",
            Some(&admin),
            json!({"value": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (Arc::new(app), admin)
}

async fn coupon(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, coupon) = app.post("/api/admin/coupons", Some(admin), body).await;
    assert_eq!(status, StatusCode::CREATED, "{coupon}");
    coupon
}

async fn single_use(app: &TestApp, admin: &str, tier: &str, days: i64) -> String {
    let c = coupon(
        app,
        admin,
        json!({"kind": "single_use", "tier": tier, "duration_days": days}),
    )
    .await;
    c["code"].as_str().unwrap().to_owned()
}

async fn redeem(app: &TestApp, token: &str, code: &str) -> (StatusCode, Value) {
    app.post("/api/coupons/redeem", Some(token), json!({"code": code}))
        .await
}

async fn tier_of(app: &TestApp, token: &str) -> String {
    let (_, me) = app.get("/api/me", Some(token)).await;
    me["profile"]["effective_tier"].as_str().unwrap().to_owned()
}

/// The user's grants, oldest first.
async fn grants(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app.get("/api/me/grants", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut items = body["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

async fn two_premium_codes_give_sixty_days_in_a_row(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (token, _) = app.user("stack@example.org").await;
    assert_eq!(tier_of(&app, &token).await, "free");
    let a = single_use(&app, &admin, "premium", 30).await;
    let b = single_use(&app, &admin, "premium", 30).await;
    let (status, body) = redeem(&app, &token, &a).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["effective_tier"], "premium");
    assert_eq!(body["grant"]["status"], "running");
    let (status, body) = redeem(&app, &token, &b.to_lowercase()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grant"]["status"], "waiting");
    let g = grants(&app, &token).await;
    assert_eq!(g[0]["ends_at"], "2027-02-09T12:00:00Z");
    assert_eq!(
        g[1]["starts_at"], "2027-02-09T12:00:00Z",
        "the second starts when the first ends"
    );
    assert_eq!(g[1]["ends_at"], "2027-03-11T12:00:00Z");

    app.advance(45 * DAY).await;
    let token = app.login("stack@example.org", "password123").await;
    assert_eq!(tier_of(&app, &token).await, "premium");
    let g = grants(&app, &token).await;
    assert_eq!(g[0]["status"], "expired");
    assert_eq!(g[0]["remaining_seconds"], 0);
    assert_eq!(g[1]["status"], "running");
    assert_eq!(g[1]["remaining_seconds"], 15 * DAY);

    app.advance(15 * DAY).await;
    assert_eq!(tier_of(&app, &token).await, "free", "60 days, not more");
    let g = grants(&app, &token).await;
    assert_eq!(g[1]["status"], "expired");
}

async fn a_duration_code_waits_for_a_running_period_coupon(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (token, _) = app.user("period@example.org").await;
    let period = coupon(
        &app,
        &admin,
        json!({"kind": "period", "tier": "premium", "period_ends_at": "2027-02-01T00:00:00Z", "code": "Spring-Promo"}),
    )
    .await;
    assert_eq!(period["code"], "Spring-Promo");
    let (status, body) = redeem(&app, &token, "spring promo").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grant"]["kind"], "fixed");
    let code = single_use(&app, &admin, "premium", 10).await;
    let (status, body) = redeem(&app, &token, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grant"]["status"], "waiting");
    assert_eq!(body["grant"]["starts_at"], "2027-02-01T00:00:00Z");
    assert_eq!(body["grant"]["ends_at"], "2027-02-11T00:00:00Z");

    app.post(
        "/api/test/clock",
        None,
        json!({"now": "2027-02-05T00:00:00Z"}),
    )
    .await;
    let g = grants(&app, &token).await;
    assert_eq!(g[0]["status"], "expired");
    assert_eq!(g[1]["status"], "running");
    assert_eq!(g[1]["remaining_seconds"], 6 * DAY);
    assert_eq!(tier_of(&app, &token).await, "premium");
}

async fn a_basic_code_waits_behind_a_running_premium_code(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (token, _) = app.user("basic@example.org").await;
    let premium = single_use(&app, &admin, "premium", 5).await;
    let basic = single_use(&app, &admin, "basic", 5).await;
    redeem(&app, &token, &premium).await;
    let (status, body) = redeem(&app, &token, &basic).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["grant"]["status"], "waiting");
    assert_eq!(body["effective_tier"], "premium");
    app.advance(3 * DAY).await;
    let g = grants(&app, &token).await;
    assert_eq!(g[1]["status"], "waiting");
    assert_eq!(g[1]["remaining_seconds"], 5 * DAY, "waiting loses no time");
    app.advance(3 * DAY).await;
    assert_eq!(tier_of(&app, &token).await, "basic");
    let g = grants(&app, &token).await;
    assert_eq!(g[1]["status"], "running");
    assert_eq!(g[1]["remaining_seconds"], 4 * DAY);
}

async fn an_admin_pause_keeps_the_remaining_time(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (token, id) = app.user("pause@example.org").await;
    let (status, grant) = app
        .post(
            &format!("/api/admin/users/{id}/grants"),
            Some(&admin),
            json!({"tier": "premium", "days": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert_eq!(grant["source"], "admin");
    let gid = grant["id"].as_str().unwrap().to_owned();
    app.advance(10 * DAY).await;
    let (status, body) = app
        .post(
            &format!("/api/admin/grants/{gid}/pause"),
            Some(&admin),
            json!({"reason": "chargeback"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "paused_admin");
    assert_eq!(body["pause_reason"], "chargeback");
    assert_eq!(tier_of(&app, &token).await, "free");
    let (status, body) = app
        .post(
            &format!("/api/admin/grants/{gid}/pause"),
            Some(&admin),
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    app.advance(20 * DAY).await;
    // Sessions last 30 days: sign in again.
    let token = app.login("pause@example.org", "password123").await;
    let admin = app.login("admin@example.org", "adminpass1").await;
    let g = grants(&app, &token).await;
    assert_eq!(
        g[0]["remaining_seconds"],
        20 * DAY,
        "no time lost while paused"
    );
    let (status, body) = app
        .post(
            &format!("/api/admin/grants/{gid}/resume"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "running");
    assert_eq!(body["remaining_seconds"], 20 * DAY);
    assert_eq!(tier_of(&app, &token).await, "premium");
    let (status, _) = app
        .post(
            &format!("/api/admin/grants/{gid}/resume"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn revoking_ends_access(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (token, id) = app.user("revoke@example.org").await;
    let (_, grant) = app
        .post(
            &format!("/api/admin/users/{id}/grants"),
            Some(&admin),
            json!({"tier": "basic", "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-12-31T00:00:00Z"}),
        )
        .await;
    assert_eq!(tier_of(&app, &token).await, "basic");
    let gid = grant["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&format!("/api/admin/grants/{gid}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(tier_of(&app, &token).await, "free");
    assert_eq!(grants(&app, &token).await[0]["status"], "revoked");
    let (_, listed) = app
        .get(&format!("/api/admin/users/{id}/grants"), Some(&admin))
        .await;
    assert_eq!(listed["items"][0]["status"], "revoked");
    let (status, _) = app
        .delete(
            &format!("/api/admin/grants/{}", uuid::Uuid::now_v7()),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn wellpass_extends_month_by_month(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-20T12:00:00Z").await;
    let (token, _) = app.user("wellpass@example.org").await;
    coupon(
        &app,
        &admin,
        json!({"kind": "wellpass", "tier": "premium", "code": "WELLPASS"}),
    )
    .await;
    let (status, body) = redeem(&app, &token, "wellpass").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // End of January (UTC) plus the default 3 grace days.
    assert_eq!(body["grant"]["ends_at"], "2027-02-04T00:00:00Z");
    let (status, body) = redeem(&app, &token, "WELL-PASS").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "coupon_already_redeemed");

    app.post(
        "/api/test/clock",
        None,
        json!({"now": "2027-02-02T09:00:00Z"}),
    )
    .await;
    let (status, body) = redeem(&app, &token, "wellpass").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grant"]["ends_at"], "2027-03-04T00:00:00Z");
    app.post(
        "/api/test/clock",
        None,
        json!({"now": "2027-03-01T00:00:00Z"}),
    )
    .await;
    let token = app.login("wellpass@example.org", "password123").await;
    assert_eq!(tier_of(&app, &token).await, "premium");
    app.post(
        "/api/test/clock",
        None,
        json!({"now": "2027-03-04T00:00:00Z"}),
    )
    .await;
    assert_eq!(tier_of(&app, &token).await, "free");
}

async fn refusals_have_their_codes(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (token, _) = app.user("refused@example.org").await;
    let (status, body) = redeem(&app, &token, "NOPE-NOPE").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("invalid_coupon"))
    );
    let inactive = coupon(
        &app,
        &admin,
        json!({"kind": "period", "tier": "basic", "period_ends_at": "2027-06-01T00:00:00Z"}),
    )
    .await;
    let (status, _) = app
        .patch(
            &format!("/api/admin/coupons/{}", inactive["id"].as_str().unwrap()),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status2, body2) = redeem(&app, &token, inactive["code"].as_str().unwrap()).await;
    assert_eq!(
        (status2, &body2),
        (status_of(&body), &body),
        "inactive looks like unknown"
    );
    let later = coupon(
        &app,
        &admin,
        json!({"kind": "single_use", "tier": "basic", "duration_days": 3, "valid_from": "2027-02-01T00:00:00Z"}),
    )
    .await;
    let (status, body) = redeem(&app, &token, later["code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::GONE, Some("coupon_expired"))
    );
    let (status, body) = app
        .post("/api/admin/coupons", Some(&admin), json!({"kind": "period", "tier": "basic", "code": "spring-promo", "period_ends_at": "2027-06-01T00:00:00Z"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post("/api/admin/coupons", Some(&admin), json!({"kind": "period", "tier": "basic", "code": "SPRING PROMO", "period_ends_at": "2027-06-01T00:00:00Z"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("code_taken"))
    );
    let (status, _) = app
        .post(
            "/api/admin/coupons",
            Some(&admin),
            json!({"kind": "single_use", "tier": "basic"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "single_use needs a duration"
    );
}

fn status_of(body: &Value) -> StatusCode {
    match body["error"]["code"].as_str() {
        Some("invalid_coupon") => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

async fn unknown_codes_are_rate_limited_per_profile(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (token, _) = app.user("guesser@example.org").await;
    let good = single_use(&app, &admin, "basic", 3).await;
    for i in 0..10 {
        let (status, _) = redeem(&app, &token, &format!("GUESS{i}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let request = axum::http::Request::post("/api/coupons/redeem")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"code": good}).to_string()))
        .unwrap();
    let (status, headers, _) = app.send(request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry));
    // Another profile is not affected, and other refusals did not count.
    let (other, _) = app.user("honest@example.org").await;
    let (status, body) = redeem(&app, &other, &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.advance(15 * 60).await;
    let (status, _) = redeem(&app, &token, &good).await;
    assert_eq!(
        status,
        StatusCode::GONE,
        "after the window: the code is used up, not rate limited"
    );
}

async fn twenty_profiles_race_for_one_single_use_code(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let code = single_use(&app, &admin, "premium", 30).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(app.user(&format!("racer{i}@example.org")).await.0);
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (app, code) = (app.clone(), code.clone());
            tokio::spawn(async move { redeem(&app, &token, &code).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::GONE => assert_eq!(body["error"]["code"], "coupon_exhausted"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
}

async fn a_capped_period_code_is_never_over_redeemed(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let c = coupon(
        &app,
        &admin,
        json!({"kind": "period", "tier": "basic", "period_ends_at": "2027-03-01T00:00:00Z", "max_redemptions": 5}),
    )
    .await;
    let code = c["code"].as_str().unwrap().to_owned();
    let mut tokens = Vec::new();
    for i in 0..15 {
        tokens.push(app.user(&format!("cap{i}@example.org")).await.0);
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (app, code) = (app.clone(), code.clone());
            tokio::spawn(async move { redeem(&app, &token, &code).await.0 })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    let (_, coupon) = app
        .get(
            &format!("/api/admin/coupons/{}", c["id"].as_str().unwrap()),
            Some(&admin),
        )
        .await;
    assert_eq!(coupon["redeemed_count"], 5);
    let (_, redemptions) = app
        .get(
            &format!(
                "/api/admin/coupons/{}/redemptions",
                c["id"].as_str().unwrap()
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(redemptions["items"].as_array().unwrap().len(), 5);
}

async fn one_profile_firing_ten_times_gets_one_grant(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let c = coupon(
        &app,
        &admin,
        json!({"kind": "period", "tier": "basic", "period_ends_at": "2027-03-01T00:00:00Z"}),
    )
    .await;
    let code = c["code"].as_str().unwrap().to_owned();
    let (token, _) = app.user("eager@example.org").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, code, token) = (app.clone(), code.clone(), token.clone());
            tokio::spawn(async move { redeem(&app, &token, &code).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "coupon_already_redeemed"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(grants(&app, &token).await.len(), 1);
    let (_, coupon) = app
        .get(
            &format!("/api/admin/coupons/{}", c["id"].as_str().unwrap()),
            Some(&admin),
        )
        .await;
    assert_eq!(coupon["redeemed_count"], 1);
}

async fn a_batch_of_codes_and_its_csv(backend: Backend) {
    let (app, admin) = setup(backend, "2027-01-10T12:00:00Z").await;
    let (status, body) = app
        .post(
            "/api/admin/coupons/batch",
            Some(&admin),
            json!({"count": 250, "kind": "single_use", "tier": "premium", "duration_days": 30, "campaign": "fair 2027"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 250);
    let codes: std::collections::HashSet<&str> =
        items.iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 250);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 14 && c.chars().filter(|&ch| ch == '-').count() == 2)
    );
    let csv_url = body["csv"].as_str().unwrap();
    let request = axum::http::Request::get(csv_url)
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, headers, csv) = app.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = String::from_utf8(csv.to_vec()).unwrap();
    assert_eq!(csv.lines().count(), 251);
    let (token, _) = app.user("fair@example.org").await;
    let first = items[0]["code"].as_str().unwrap();
    let (status, _) = redeem(&app, &token, first).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            "/api/admin/coupons/batch",
            Some(&admin),
            json!({"count": 10001, "kind": "single_use", "tier": "premium", "duration_days": 30, "campaign": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

on_both_backends!(
    two_premium_codes_give_sixty_days_in_a_row,
    a_duration_code_waits_for_a_running_period_coupon,
    a_basic_code_waits_behind_a_running_premium_code,
    an_admin_pause_keeps_the_remaining_time,
    revoking_ends_access,
    wellpass_extends_month_by_month,
    refusals_have_their_codes,
    unknown_codes_are_rate_limited_per_profile,
    twenty_profiles_race_for_one_single_use_code,
    a_capped_period_code_is_never_over_redeemed,
    one_profile_firing_ten_times_gets_one_grant,
    a_batch_of_codes_and_its_csv,
);
