//! Usage resets on the server's clock, in the `usage_timezone`, on both backends:
//! daily and monthly buckets end at local midnight (also on 23- and 25-hour DST days),
//! `never` never ends, and the test clock itself behaves as documented.
//!
//! The clock only moves forward, so each test first jumps to a fixed instant in the
//! future and works from there. "Just before" a boundary is two minutes before it, which
//! leaves room for the real time that passes while the test runs.

use crate::common::TestApp;
use axum::http::StatusCode;
use mitai_server::config::ServeArgs;
use mitai_store::Backend;
use serde_json::{Value, json};

/// An app in Europe/Berlin at `start`, with an admin and a user; returns (app, admin,
/// user token, user id). The instance has always been in Berlin: a zone an admin changes
/// keeps the running period's start (DESIGN §18, tested in `changing_the_timezone_…`).
async fn berlin_app(backend: Backend, start: &str) -> (TestApp, String, String, String) {
    let app = TestApp::new(backend).await;
    app.clock_to(start).await;
    app.zone_from_the_start("Europe/Berlin").await;
    let admin = app.admin().await;
    // These tests are about periods, not about e-mail verification.
    app.set_setting(&admin, "require_email_verification", json!(false))
        .await;
    let (token, id) = app.user("resetter@example.org").await;
    (app, admin, token, id)
}

async fn consume(app: &TestApp, token: &str, feature: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/api/me/access/{feature}/consume"),
        Some(token),
        json!({"amount": 1}),
    )
    .await
}

/// Spends one unit and asserts it was granted; returns the `<access>` after it.
async fn spend(app: &TestApp, token: &str, feature: &str) -> Value {
    let (status, body) = consume(app, token, feature).await;
    assert_eq!(status, StatusCode::OK, "consume {feature}: {body}");
    body
}

/// Asserts that the next unit is refused because the limit is reached.
async fn refused(app: &TestApp, token: &str, feature: &str, resets_at: Value) {
    let (status, body) = consume(app, token, feature).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "feature_limit_reached", "{body}");
    assert_eq!(body["error"]["feature"], feature);
    assert_eq!(body["error"]["resets_at"], resets_at, "{body}");
}

async fn access(app: &TestApp, token: &str, feature: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/me/access/{feature}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Asserts the bucket and the usage of one feature.
async fn assert_bucket(
    app: &TestApp,
    token: &str,
    feature: &str,
    period_start: &str,
    resets_at: Value,
    used: i64,
) {
    let a = access(app, token, feature).await;
    assert_eq!(a["period_start"], period_start, "{a}");
    assert_eq!(a["resets_at"], resets_at, "{a}");
    assert_eq!(a["used"], used, "{a}");
}

async fn daily_resets_at_berlin_midnight_in_winter(backend: Backend) {
    let (app, admin, token, id) = berlin_app(backend, "2027-01-14T12:00:00Z").await;
    app.restrict(&admin, &id, "nutrition", json!(2)).await;

    let a = access(&app, &token, "nutrition").await;
    assert_eq!(a["reset_period"], "daily");
    assert_eq!(a["source"], "user_restriction");
    // 2027-01-14 in Berlin (CET, UTC+1) runs from 13 Jan 23:00Z to 14 Jan 23:00Z.
    assert_eq!(a["period_start"], "2027-01-13T23:00:00Z");
    assert_eq!(a["resets_at"], "2027-01-14T23:00:00Z");

    spend(&app, &token, "nutrition").await;
    let a = spend(&app, &token, "nutrition").await;
    assert_eq!(a["used"], 2);
    assert_eq!(a["remaining"], 0);
    refused(&app, &token, "nutrition", json!("2027-01-14T23:00:00Z")).await;

    // 23:58 in Berlin: still the same day.
    app.clock_to("2027-01-14T22:58:00Z").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-01-13T23:00:00Z",
        json!("2027-01-14T23:00:00Z"),
        2,
    )
    .await;
    refused(&app, &token, "nutrition", json!("2027-01-14T23:00:00Z")).await;

    // Midnight in Berlin, while it is still 14 January in UTC: a new day.
    app.clock_to("2027-01-14T23:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-01-14T23:00:00Z",
        json!("2027-01-15T23:00:00Z"),
        0,
    )
    .await;
    let a = spend(&app, &token, "nutrition").await;
    assert_eq!(a["used"], 1);
    assert_eq!(a["remaining"], 1);
    assert_eq!(a["period_start"], "2027-01-14T23:00:00Z");

    // The admin sees the same bucket.
    let (status, list) = app
        .get(&format!("/api/admin/users/{id}/access"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK);
    let nutrition = list["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "nutrition")
        .unwrap();
    assert_eq!(nutrition["used"], 1);
}

async fn daily_resets_at_berlin_midnight_in_summer(backend: Backend) {
    let (app, admin, token, id) = berlin_app(backend, "2027-07-15T08:00:00Z").await;
    app.restrict(&admin, &id, "activity", json!(1)).await;

    // CEST is UTC+2: the local day starts at 22:00Z the day before.
    let a = spend(&app, &token, "activity").await;
    assert_eq!(a["period_start"], "2027-07-14T22:00:00Z");
    assert_eq!(a["resets_at"], "2027-07-15T22:00:00Z");
    refused(&app, &token, "activity", json!("2027-07-15T22:00:00Z")).await;

    app.clock_to("2027-07-15T21:58:00Z").await;
    refused(&app, &token, "activity", json!("2027-07-15T22:00:00Z")).await;

    app.clock_to("2027-07-15T22:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "activity",
        "2027-07-15T22:00:00Z",
        json!("2027-07-16T22:00:00Z"),
        0,
    )
    .await;
    let a = spend(&app, &token, "activity").await;
    assert_eq!(a["used"], 1);
    refused(&app, &token, "activity", json!("2027-07-16T22:00:00Z")).await;
}

async fn utc_is_the_default_timezone(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.clock_to("2027-01-14T22:58:00Z").await;
    let admin = app.admin().await;
    app.set_setting(&admin, "require_email_verification", json!(false))
        .await;
    let (token, _) = app.user("utc@example.org").await;
    spend(&app, &token, "nutrition").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-01-14T00:00:00Z",
        json!("2027-01-15T00:00:00Z"),
        1,
    )
    .await;
    // Berlin's midnight means nothing here.
    app.clock_to("2027-01-14T23:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-01-14T00:00:00Z",
        json!("2027-01-15T00:00:00Z"),
        1,
    )
    .await;
    app.clock_to("2027-01-15T00:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-01-15T00:00:00Z",
        json!("2027-01-16T00:00:00Z"),
        0,
    )
    .await;
}

async fn monthly_resets_when_the_month_turns_locally(backend: Backend) {
    let (app, admin, token, id) = berlin_app(backend, "2027-01-31T12:00:00Z").await;
    app.restrict(&admin, &id, "weight", json!(3)).await;

    for _ in 0..3 {
        spend(&app, &token, "weight").await;
    }
    assert_bucket(
        &app,
        &token,
        "weight",
        "2026-12-31T23:00:00Z",
        json!("2027-01-31T23:00:00Z"),
        3,
    )
    .await;
    refused(&app, &token, "weight", json!("2027-01-31T23:00:00Z")).await;

    // 31 January, 23:58 in Berlin.
    app.clock_to("2027-01-31T22:58:00Z").await;
    refused(&app, &token, "weight", json!("2027-01-31T23:00:00Z")).await;

    // 1 February in Berlin (still January in UTC).
    app.clock_to("2027-01-31T23:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "weight",
        "2027-01-31T23:00:00Z",
        json!("2027-02-28T23:00:00Z"),
        0,
    )
    .await;
    spend(&app, &token, "weight").await;

    // A day later: the February bucket keeps its count.
    app.clock_to("2027-02-01T23:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "weight",
        "2027-01-31T23:00:00Z",
        json!("2027-02-28T23:00:00Z"),
        1,
    )
    .await;

    // March contains the spring-forward day: it starts in CET and ends in CEST.
    // (Sessions last 30 days: sign in again.)
    app.clock_to("2027-03-10T12:00:00Z").await;
    let token = app.login("resetter@example.org", "password123").await;
    assert_bucket(
        &app,
        &token,
        "weight",
        "2027-02-28T23:00:00Z",
        json!("2027-03-31T22:00:00Z"),
        0,
    )
    .await;
    for _ in 0..3 {
        spend(&app, &token, "weight").await;
    }
    app.clock_to("2027-03-31T21:58:00Z").await;
    refused(&app, &token, "weight", json!("2027-03-31T22:00:00Z")).await;
    app.clock_to("2027-03-31T22:00:00Z").await;
    let a = spend(&app, &token, "weight").await;
    assert_eq!(a["used"], 1);
    assert_eq!(a["period_start"], "2027-03-31T22:00:00Z");
    assert_eq!(a["resets_at"], "2027-04-30T22:00:00Z");
}

/// A feature of the admin's own making with the given reset period and default limit.
async fn own_feature(app: &TestApp, admin: &str, id: &str, period: &str, limit: i64) {
    let (status, body) = app
        .post(
            "/api/admin/features",
            Some(admin),
            json!({"id": id, "name": id, "kind": "count", "reset_period": period,
                   "default_limit": limit}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn never_resets(backend: Backend) {
    let (app, admin, token, _) = berlin_app(backend, "2027-02-10T10:00:00Z").await;
    own_feature(&app, &admin, "lifetime_reports", "never", 2).await;

    spend(&app, &token, "lifetime_reports").await;
    let a = spend(&app, &token, "lifetime_reports").await;
    assert_eq!(a["reset_period"], "never");
    assert_eq!(a["source"], "feature_default");
    assert_eq!(a["resets_at"], Value::Null);
    assert_eq!(a["used"], 2);
    let period_start = a["period_start"].clone();
    refused(&app, &token, "lifetime_reports", Value::Null).await;

    // A year and a day later (with a new month, a new year and two DST switches between).
    app.advance(366 * 86_400).await;
    let token = app.login("resetter@example.org", "password123").await;
    let a = access(&app, &token, "lifetime_reports").await;
    assert_eq!(a["used"], 2, "{a}");
    assert_eq!(a["remaining"], 0);
    assert_eq!(a["resets_at"], Value::Null);
    assert_eq!(a["period_start"], period_start);
    refused(&app, &token, "lifetime_reports", Value::Null).await;
}

async fn weekly_and_yearly_follow_local_boundaries(backend: Backend) {
    // 2027-12-31 is a Friday; the ISO week began on Monday 27 December.
    let (app, admin, token, _) = berlin_app(backend, "2027-12-31T12:00:00Z").await;
    own_feature(&app, &admin, "weekly_digest", "weekly", 1).await;
    own_feature(&app, &admin, "yearly_review", "yearly", 1).await;

    let w = spend(&app, &token, "weekly_digest").await;
    assert_eq!(w["period_start"], "2027-12-26T23:00:00Z");
    assert_eq!(w["resets_at"], "2028-01-02T23:00:00Z");
    let y = spend(&app, &token, "yearly_review").await;
    assert_eq!(y["period_start"], "2026-12-31T23:00:00Z");
    assert_eq!(y["resets_at"], "2027-12-31T23:00:00Z");

    // New Year in Berlin: the year resets, the week does not.
    app.clock_to("2027-12-31T23:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "yearly_review",
        "2027-12-31T23:00:00Z",
        json!("2028-12-31T23:00:00Z"),
        0,
    )
    .await;
    refused(&app, &token, "weekly_digest", json!("2028-01-02T23:00:00Z")).await;

    // Sunday 23:58 in Berlin, then Monday 00:00.
    app.clock_to("2028-01-02T22:58:00Z").await;
    refused(&app, &token, "weekly_digest", json!("2028-01-02T23:00:00Z")).await;
    app.clock_to("2028-01-02T23:00:00Z").await;
    let w = spend(&app, &token, "weekly_digest").await;
    assert_eq!(w["used"], 1);
    assert_eq!(w["period_start"], "2028-01-02T23:00:00Z");
    assert_eq!(w["resets_at"], "2028-01-09T23:00:00Z");
}

async fn spring_forward_day_has_23_hours(backend: Backend) {
    // 2027-03-28: at 02:00 CET the clocks jump to 03:00 CEST.
    let (app, admin, token, id) = berlin_app(backend, "2027-03-27T22:58:00Z").await;
    app.restrict(&admin, &id, "nutrition", json!(1)).await;

    // Saturday 27 March, 23:58 CET: a normal 24-hour day.
    let a = spend(&app, &token, "nutrition").await;
    assert_eq!(a["period_start"], "2027-03-26T23:00:00Z");
    assert_eq!(a["resets_at"], "2027-03-27T23:00:00Z");
    refused(&app, &token, "nutrition", json!("2027-03-27T23:00:00Z")).await;

    // Sunday 28 March begins at local midnight, 23:00Z, and ends 23 hours later.
    app.clock_to("2027-03-27T23:00:00Z").await;
    let a = spend(&app, &token, "nutrition").await;
    assert_eq!(a["used"], 1);
    assert_eq!(a["period_start"], "2027-03-27T23:00:00Z");
    assert_eq!(a["resets_at"], "2027-03-28T22:00:00Z");

    // Across the jump (01:30 CET → 03:30 CEST) and late in the day: the same bucket.
    for instant in [
        "2027-03-28T00:30:00Z",
        "2027-03-28T01:30:00Z",
        "2027-03-28T21:58:00Z",
    ] {
        app.clock_to(instant).await;
        assert_bucket(
            &app,
            &token,
            "nutrition",
            "2027-03-27T23:00:00Z",
            json!("2027-03-28T22:00:00Z"),
            1,
        )
        .await;
        refused(&app, &token, "nutrition", json!("2027-03-28T22:00:00Z")).await;
    }

    // Monday 00:00 CEST = 22:00Z: the day has lasted 23 hours and usage starts again.
    app.clock_to("2027-03-28T22:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-03-28T22:00:00Z",
        json!("2027-03-29T22:00:00Z"),
        0,
    )
    .await;
    spend(&app, &token, "nutrition").await;
}

async fn fall_back_day_has_25_hours(backend: Backend) {
    // 2027-10-31: at 03:00 CEST the clocks go back to 02:00 CET.
    let (app, admin, token, id) = berlin_app(backend, "2027-10-30T21:58:00Z").await;
    app.restrict(&admin, &id, "nutrition", json!(1)).await;

    // Saturday 30 October, 23:58 CEST.
    let a = spend(&app, &token, "nutrition").await;
    assert_eq!(a["period_start"], "2027-10-29T22:00:00Z");
    assert_eq!(a["resets_at"], "2027-10-30T22:00:00Z");
    refused(&app, &token, "nutrition", json!("2027-10-30T22:00:00Z")).await;

    // Sunday 31 October begins at 22:00Z and ends 25 hours later, at 23:00Z.
    app.clock_to("2027-10-30T22:00:00Z").await;
    let a = spend(&app, &token, "nutrition").await;
    assert_eq!(a["used"], 1);
    assert_eq!(a["period_start"], "2027-10-30T22:00:00Z");
    assert_eq!(a["resets_at"], "2027-10-31T23:00:00Z");

    // Both readings of the repeated hour 02:00–03:00 (00:30Z CEST, 01:30Z CET), and
    // 23:58 CET, which a 24-hour day would already have put into Monday: the same bucket.
    for instant in [
        "2027-10-31T00:30:00Z",
        "2027-10-31T01:30:00Z",
        "2027-10-31T22:00:00Z",
        "2027-10-31T22:58:00Z",
    ] {
        app.clock_to(instant).await;
        assert_bucket(
            &app,
            &token,
            "nutrition",
            "2027-10-30T22:00:00Z",
            json!("2027-10-31T23:00:00Z"),
            1,
        )
        .await;
        refused(&app, &token, "nutrition", json!("2027-10-31T23:00:00Z")).await;
    }

    // Monday 00:00 CET = 23:00Z.
    app.clock_to("2027-10-31T23:00:00Z").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-10-31T23:00:00Z",
        json!("2027-11-01T23:00:00Z"),
        0,
    )
    .await;
    spend(&app, &token, "nutrition").await;
}

/// DESIGN §18: a change of zone never makes counted usage disappear or reappear. The
/// period running at the change keeps its start and its count and ends at the new zone's
/// next boundary; later periods follow the new zone. Switching back changes nothing either.
async fn changing_the_timezone_moves_the_buckets(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.clock_to("2027-05-05T12:00:00Z").await;
    let admin = app.admin().await;
    app.set_setting(&admin, "require_email_verification", json!(false))
        .await;
    let (token, _) = app.user("tokyo@example.org").await;
    for _ in 0..3 {
        spend(&app, &token, "nutrition").await;
        spend(&app, &token, "weight").await;
    }
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-05-05T00:00:00Z",
        json!("2027-05-06T00:00:00Z"),
        3,
    )
    .await;
    app.set_setting(&admin, "usage_timezone", json!("Asia/Tokyo"))
        .await;
    // Tokyo is UTC+9 without DST: it is 21:00 on 5 May there. Today keeps its start and
    // its three uses, and ends at Tokyo's midnight.
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-05-05T00:00:00Z",
        json!("2027-05-05T15:00:00Z"),
        3,
    )
    .await;
    // The month too: May keeps its count until Tokyo's June begins.
    assert_bucket(
        &app,
        &token,
        "weight",
        "2027-05-01T00:00:00Z",
        json!("2027-05-31T15:00:00Z"),
        3,
    )
    .await;
    // Switching back restores nothing and loses nothing.
    app.set_setting(&admin, "usage_timezone", json!("UTC"))
        .await;
    let a = access(&app, &token, "weight").await;
    assert_eq!(
        (&a["period_start"], &a["used"]),
        (&json!("2027-05-01T00:00:00Z"), &json!(3)),
        "{a}"
    );
    app.set_setting(&admin, "usage_timezone", json!("Asia/Tokyo"))
        .await;
    spend(&app, &token, "nutrition").await;
    assert_eq!(access(&app, &token, "nutrition").await["used"], 4);
    // After Tokyo's midnight, Tokyo's days.
    app.clock_to("2027-05-05T15:00:30Z").await;
    assert_bucket(
        &app,
        &token,
        "nutrition",
        "2027-05-05T15:00:00Z",
        json!("2027-05-06T15:00:00Z"),
        0,
    )
    .await;
    // A bad zone is refused and the good one kept.
    let (status, body) = app
        .put(
            "/api/admin/settings/usage_timezone",
            Some(&admin),
            json!({"value": "Europe/Atlantis"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input");
    assert_eq!(
        access(&app, &token, "nutrition").await["period_start"],
        "2027-05-05T15:00:00Z"
    );
    // The history of zones is internal: not a setting admins see.
    let (_, list) = app.get("/api/admin/settings", Some(&admin)).await;
    assert!(
        !list.to_string().contains("usage_timezone_history"),
        "{list}"
    );
}

async fn the_test_clock_only_moves_forward(backend: Backend) {
    let app = TestApp::new(backend).await;
    let body = app.clock_to("2027-06-01T00:00:00Z").await;
    let now = body["now"].as_str().unwrap().to_owned();
    assert!(now.starts_with("2027-06-01T00:00:"), "{now}");

    let body = app.advance(3600).await;
    assert!(
        body["now"]
            .as_str()
            .unwrap()
            .starts_with("2027-06-01T01:00:"),
        "{body}"
    );

    // Backwards, by instant or by a negative step: 422, and the clock stays.
    let (status, body) = app
        .post(
            "/api/test/clock",
            None,
            json!({"now": "2027-05-31T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input");
    assert!(body["error"]["fields"]["now"].is_string(), "{body}");
    let (status, body) = app
        .post("/api/test/clock", None, json!({"advance_seconds": -1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["advance_seconds"].is_string());

    // Neither or both fields, and a malformed instant: 422 too.
    for bad in [
        json!({}),
        json!({"now": "2028-01-01T00:00:00Z", "advance_seconds": 5}),
        json!({"now": "next tuesday"}),
    ] {
        let (status, body) = app.post("/api/test/clock", None, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
    }

    // The clock was not moved by any of that.
    let body = app.advance(0).await;
    assert!(
        body["now"]
            .as_str()
            .unwrap()
            .starts_with("2027-06-01T01:00:"),
        "{body}"
    );
    // Jobs can run under the same flag.
    let (status, _) = app.post("/api/test/jobs/run", None, json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

async fn without_the_flag_the_test_routes_do_not_exist(backend: Backend) {
    let app = TestApp::with_args(backend, ServeArgs::default()).await;
    for (uri, body) in [
        ("/api/test/clock", json!({"advance_seconds": 86_400})),
        ("/api/test/clock", json!({"now": "2030-01-01T00:00:00Z"})),
        ("/api/test/jobs/run", json!({})),
    ] {
        let (status, answer) = app.post(uri, None, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
    }
    // Nor are they in the OpenAPI document.
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"].get("/api/test/clock").is_none());
    assert!(doc["paths"].get("/api/test/jobs/run").is_none());
    // And "now" is real time: a new profile is created today, not in 2030.
    let (token, _) = app.user("realtime@example.org").await;
    let (_, me) = app.get("/api/me", Some(&token)).await;
    let created = me["profile"]["created_at"].as_str().unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(created).unwrap();
    let age = chrono::Utc::now().signed_duration_since(created);
    assert!(age.num_minutes().abs() < 10, "created at {created}");
}

on_both_backends!(
    daily_resets_at_berlin_midnight_in_winter,
    daily_resets_at_berlin_midnight_in_summer,
    utc_is_the_default_timezone,
    monthly_resets_when_the_month_turns_locally,
    never_resets,
    weekly_and_yearly_follow_local_boundaries,
    spring_forward_day_has_23_hours,
    fall_back_day_has_25_hours,
    changing_the_timezone_moves_the_buckets,
    the_test_clock_only_moves_forward,
    without_the_flag_the_test_routes_do_not_exist,
);
