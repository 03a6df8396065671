//! The tracked data through the HTTP API, on both backends: gated creates (exact under
//! concurrency, idempotent), ranges, caliper results, scoping to the owner, lists, updates
//! and deletes.

use std::sync::Arc;

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{Days, NaiveDate};
use mitai_store::Backend;
use serde_json::{Value, json};

/// An app, its admin's token, and a verified user (token, id).
async fn setup(backend: Backend) -> (Arc<TestApp>, String, String, String) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("tracker@example.org").await;
    (Arc::new(app), admin, token, id)
}

/// Today of the server's clock (the test clock, frozen at start).
fn today(app: &TestApp) -> NaiveDate {
    app.state.now().date_naive()
}

fn day(app: &TestApp, days_ago: u64) -> String {
    today(app)
        .checked_sub_days(Days::new(days_ago))
        .unwrap()
        .to_string()
}

async fn used(app: &TestApp, token: &str, feature: &str) -> i64 {
    let (status, body) = app
        .get(&format!("/api/me/access/{feature}"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["used"].as_i64().unwrap()
}

/// A valid body of each type, dated `date`.
fn bodies(date: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "weight",
            json!({"date": date, "weight_kg": 80.5, "note": "morning"}),
        ),
        (
            "circumference",
            json!({"date": date, "waist": 82.5, "hip": 99}),
        ),
        (
            "caliper",
            json!({"date": date, "method": "jp3", "sex": "male", "age": 30,
                   "sites": {"chest": 10, "abdomen": 20, "thigh": 15}}),
        ),
        (
            "nutrition",
            json!({"date": date, "kcal": 2150, "protein_g": 130.5, "carbs_g": 220, "fat_g": 71}),
        ),
        (
            "activity",
            json!({"date": date, "kind": "running", "minutes": 45, "kcal": 480}),
        ),
    ]
}

async fn create(app: &TestApp, token: &str, kind: &str, body: Value) -> Value {
    let (status, answer) = app.post(&format!("/api/{kind}"), Some(token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{kind}: {answer}");
    answer["entry"].clone()
}

fn keyed_post(token: &str, path: &str, key: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", key)
        .body(Body::from(body.to_string()))
        .unwrap()
}

// --- the gate -----------------------------------------------------------------------------

async fn eight_parallel_creates_against_a_limit_of_three(backend: Backend) {
    let (app, admin, token, id) = setup(backend).await;
    app.restrict(&admin, &id, "weight", json!(3)).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app, token) = (app.clone(), token.clone());
        let date = day(&app, i);
        tasks.push(tokio::spawn(async move {
            app.post(
                "/api/weight",
                Some(&token),
                json!({"date": date, "weight_kg": 70 + i}),
            )
            .await
        }));
    }
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::FORBIDDEN => {
                let e = &body["error"];
                assert_eq!(e["code"], "feature_limit_reached", "{body}");
                assert_eq!(
                    (e["feature"].as_str(), e["limit"].as_i64()),
                    (Some("weight"), Some(3))
                );
                assert_eq!(e["used"], 3);
                assert!(e["resets_at"].is_string(), "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (3, 5));
    let (_, list) = app.get("/api/weight", Some(&token)).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        3,
        "exactly 3 stored"
    );
    assert_eq!(used(&app, &token, "weight").await, 3);
}

async fn a_key_retried_in_parallel_creates_one_entry(backend: Backend) {
    let (app, _, token, _) = setup(backend).await;
    let body = json!({"date": day(&app, 0), "weight_kg": 80.5});
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, token, body) = (app.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let (status, _, bytes) = app
                .send(keyed_post(&token, "/api/weight", "weigh-in-1", &body))
                .await;
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer, &answers[0].1, "every retry answers as the first");
    }
    let (_, list) = app.get("/api/weight", Some(&token)).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0], answers[0].1["entry"]);
    assert_eq!(used(&app, &token, "weight").await, 1);

    // The same key with another body is refused and writes nothing.
    let other = json!({"date": day(&app, 0), "weight_kg": 81});
    let (status, _, bytes) = app
        .send(keyed_post(&token, "/api/weight", "weigh-in-1", &other))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(answer["error"]["code"], "idempotency_key_reused");
    // The same values in another layout are the same request.
    let same = json!({"weight_kg": 80.50, "date": day(&app, 0)});
    let (status, _, bytes) = app
        .send(keyed_post(&token, "/api/weight", "weigh-in-1", &same))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        answers[0].1
    );
    let (_, list) = app.get("/api/weight", Some(&token)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn refusals_write_nothing(backend: Backend) {
    let (app, admin, token, id) = setup(backend).await;
    for (kind, body) in bodies(&day(&app, 0)) {
        app.restrict(&admin, &id, kind, json!(0)).await;
        let (status, answer) = app.post(&format!("/api/{kind}"), Some(&token), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert_eq!(answer["error"]["code"], "feature_disabled");
        assert_eq!(answer["error"]["feature"], kind);
        let (_, list) = app.get(&format!("/api/{kind}"), Some(&token)).await;
        assert_eq!(list["items"], json!([]), "{kind}");
        assert_eq!(used(&app, &token, kind).await, 0);
    }
    // At the limit: refused with the numbers, and the key of the refused request stays
    // free, so once the limit is raised the retry creates the entry.
    app.restrict(&admin, &id, "nutrition", json!(1)).await;
    let (_, first) = bodies(&day(&app, 1)).remove(3);
    create(&app, &token, "nutrition", first).await;
    let (_, body) = bodies(&day(&app, 0)).remove(3);
    let (status, _, bytes) = app
        .send(keyed_post(&token, "/api/nutrition", "meal-2", &body))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(answer["error"]["code"], "feature_limit_reached");
    assert_eq!(
        (
            answer["error"]["limit"].as_i64(),
            answer["error"]["used"].as_i64()
        ),
        (Some(1), Some(1))
    );
    app.restrict(&admin, &id, "nutrition", json!(2)).await;
    let (status, _, _) = app
        .send(keyed_post(&token, "/api/nutrition", "meal-2", &body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(used(&app, &token, "nutrition").await, 2);
}

async fn an_unverified_profile_is_refused(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _) = app.unverified_user("late@example.org").await;
    let (status, body) = app
        .post(
            "/api/weight",
            Some(&token),
            json!({"date": day(&app, 0), "weight_kg": 80}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "email_not_verified");
    let (status, _) = app
        .post(
            "/api/weight",
            None,
            json!({"date": day(&app, 0), "weight_kg": 80}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// --- the owner only -----------------------------------------------------------------------

async fn another_profiles_entries_are_not_found(backend: Backend) {
    let (app, _, owner, _) = setup(backend).await;
    let (intruder, _) = app.user("intruder@example.org").await;
    for (kind, body) in bodies(&day(&app, 0)) {
        let entry = create(&app, &owner, kind, body.clone()).await;
        let path = format!("/api/{kind}/{}", entry["id"].as_str().unwrap());
        let (status, answer) = app.get(&path, Some(&intruder)).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("not_found")),
            "{kind}"
        );
        let (status, _) = app
            .patch(&path, Some(&intruder), json!({"note": "mine now"}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "PATCH {kind}");
        let (status, _) = app.delete(&path, Some(&intruder)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {kind}");
        let (_, list) = app.get(&format!("/api/{kind}"), Some(&intruder)).await;
        assert_eq!(list["items"], json!([]), "{kind}");
        // Without a session nothing at all.
        let (status, _) = app.get(&path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // The owner's entry is untouched.
        let (status, mine) = app.get(&path, Some(&owner)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(mine["entry"], entry, "{kind}");
    }
    // An id of another type, or one that is no id, is not found either.
    let weight = create(&app, &owner, "weight", bodies(&day(&app, 1)).remove(0).1).await;
    let id = weight["id"].as_str().unwrap();
    let (status, _) = app.get(&format!("/api/nutrition/{id}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/weight/not-an-id", Some(&owner)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// --- values -------------------------------------------------------------------------------

async fn invalid_values_name_their_field(backend: Backend) {
    let (app, _, token, _) = setup(backend).await;
    let today = day(&app, 0);
    let tomorrow = today_plus(&app, 1);
    let after_tomorrow = today_plus(&app, 2);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "weight",
            json!({"date": today, "weight_kg": 19.9}),
            "weight_kg",
        ),
        (
            "weight",
            json!({"date": today, "weight_kg": 500.1}),
            "weight_kg",
        ),
        (
            "weight",
            json!({"date": today, "weight_kg": "80"}),
            "weight_kg",
        ),
        ("weight", json!({"date": today}), "weight_kg"),
        (
            "weight",
            json!({"date": today, "weight_kg": 80, "bmi": 24}),
            "bmi",
        ),
        (
            "weight",
            json!({"date": "1899-12-31", "weight_kg": 80}),
            "date",
        ),
        (
            "weight",
            json!({"date": after_tomorrow, "weight_kg": 80}),
            "date",
        ),
        (
            "weight",
            json!({"date": "2025-13-01", "weight_kg": 80}),
            "date",
        ),
        (
            "weight",
            json!({"date": "14.03.2025", "weight_kg": 80}),
            "date",
        ),
        (
            "weight",
            json!({"date": today, "weight_kg": 80, "note": "x".repeat(1001)}),
            "note",
        ),
        ("circumference", json!({"date": today}), "body"),
        ("circumference", json!({"date": today, "waist": 4}), "waist"),
        (
            "caliper",
            json!({"date": today, "method": "jp3", "sex": "male", "age": 30,
                            "sites": {"chest": 10, "abdomen": 20}}),
            "sites",
        ),
        (
            "caliper",
            json!({"date": today, "method": "jp3", "sex": "female", "age": 30,
                            "sites": {"triceps": 10, "suprailiac": 20, "thigh": 12, "chest": 9}}),
            "sites",
        ),
        (
            "caliper",
            json!({"date": today, "method": "jp5", "sex": "male", "age": 30,
                            "sites": {}}),
            "method",
        ),
        (
            "caliper",
            json!({"date": today, "method": "jp3", "sex": "male", "age": 9,
                            "sites": {"chest": 10, "abdomen": 20, "thigh": 15}}),
            "age",
        ),
        (
            "caliper",
            json!({"date": today, "method": "jp3", "sex": "male", "age": 30,
                            "sites": {"chest": 0.5, "abdomen": 20, "thigh": 15}}),
            "sites.chest",
        ),
        (
            "nutrition",
            json!({"date": today, "kcal": -1, "protein_g": 1, "carbs_g": 1, "fat_g": 1}),
            "kcal",
        ),
        (
            "nutrition",
            json!({"date": today, "kcal": 1, "protein_g": 1, "carbs_g": 1, "fat_g": 2001}),
            "fat_g",
        ),
        (
            "activity",
            json!({"date": today, "kind": "  ", "minutes": 30}),
            "kind",
        ),
        (
            "activity",
            json!({"date": today, "kind": "yoga", "minutes": 0}),
            "minutes",
        ),
        (
            "activity",
            json!({"date": today, "kind": "yoga", "minutes": 1441}),
            "minutes",
        ),
    ];
    for (kind, body, field) in cases {
        let (status, answer) = app
            .post(&format!("/api/{kind}"), Some(&token), body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{kind} {body}: {answer}"
        );
        assert_eq!(answer["error"]["code"], "invalid_input");
        assert!(
            answer["error"]["fields"].get(field).is_some(),
            "{kind} {body}: expected field {field} in {answer}"
        );
    }
    for kind in [
        "weight",
        "circumference",
        "caliper",
        "nutrition",
        "activity",
    ] {
        assert_eq!(used(&app, &token, kind).await, 0, "a 422 spends nothing");
    }
    // The edges are accepted: 20 and 500 kg, 1900-01-01 and tomorrow.
    for (date, kg) in [("1900-01-01", 20.0), (tomorrow.as_str(), 500.0)] {
        create(
            &app,
            &token,
            "weight",
            json!({"date": date, "weight_kg": kg}),
        )
        .await;
    }
    // Not JSON at all.
    let request = Request::post("/api/weight")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"date\":"))
        .unwrap();
    let (status, _, _) = app.send(request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

fn today_plus(app: &TestApp, days: u64) -> String {
    today(app)
        .checked_add_days(Days::new(days))
        .unwrap()
        .to_string()
}

/// Body fat against values worked by hand from the published equations (see
/// `mitai_access::caliper` for the arithmetic).
async fn caliper_results_match_hand_computed_values(backend: Backend) {
    let (app, _, token, _) = setup(backend).await;
    let date = day(&app, 0);
    let cases = [
        (
            json!({"method": "jp3", "sex": "male", "age": 30,
                "sites": {"chest": 10, "abdomen": 20, "thigh": 15}}),
            1.0677,
            13.61,
        ),
        (
            json!({"method": "jp3", "sex": "female", "age": 28,
                "sites": {"triceps": 18, "suprailiac": 12, "thigh": 25}}),
            1.04794,
            22.35,
        ),
        (
            json!({"method": "jp7", "sex": "male", "age": 40,
                "sites": {"chest": 8, "midaxillary": 10, "triceps": 9, "subscapular": 12,
                          "abdomen": 18, "suprailiac": 11, "thigh": 14}}),
            1.0685,
            13.27,
        ),
        (
            json!({"method": "jp7", "sex": "female", "age": 35,
                "sites": {"chest": 10, "midaxillary": 12, "triceps": 16, "subscapular": 14,
                          "abdomen": 22, "suprailiac": 15, "thigh": 24}}),
            1.04658,
            22.97,
        ),
    ];
    for (mut body, density, fat) in cases {
        body["date"] = json!(date);
        let entry = create(&app, &token, "caliper", body.clone()).await;
        assert_eq!(entry["body_density"].as_f64(), Some(density), "{body}");
        assert_eq!(entry["body_fat_pct"].as_f64(), Some(fat), "{body}");
        assert_eq!(entry["method"], body["method"]);
        assert_eq!(
            entry["sites"].as_object().unwrap().len(),
            body["sites"].as_object().unwrap().len()
        );
    }
    // A PATCH of the sites computes again: jp3 male with 45 → 60 mm at 30 years.
    let entry = create(
        &app,
        &token,
        "caliper",
        json!({"date": date, "method": "jp3", "sex": "male",
        "age": 30, "sites": {"chest": 10, "abdomen": 20, "thigh": 15}}),
    )
    .await;
    let path = format!("/api/caliper/{}", entry["id"].as_str().unwrap());
    let (status, answer) = app
        .patch(
            &path,
            Some(&token),
            json!({"sites": {"chest": 15, "abdomen": 25, "thigh": 20}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // D = 1.10938 − 0.049602 + 0.00576 − 0.007722 = 1.057816 → 495 / D − 450 = 17.95 %
    assert_eq!(answer["entry"]["body_density"].as_f64(), Some(1.05782));
    assert_eq!(answer["entry"]["body_fat_pct"].as_f64(), Some(17.95));
    // Switching the method needs the new method's sites.
    let (status, answer) = app
        .patch(&path, Some(&token), json!({"method": "jp7"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer["error"]["fields"]["sites"].is_string(), "{answer}");
}

// --- lists, updates, deletes --------------------------------------------------------------

async fn lists_filter_by_date_and_page_with_a_cursor(backend: Backend) {
    let (app, _, token, _) = setup(backend).await;
    for days_ago in [5, 1, 3, 3, 0, 9] {
        create(
            &app,
            &token,
            "activity",
            json!({"date": day(&app, days_ago), "kind": "walk", "minutes": 10 + days_ago}),
        )
        .await;
    }
    let mut dates = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/activity?limit=2&cursor={c}"),
            None => "/api/activity?limit=2".to_owned(),
        };
        let (status, page) = app.get(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        dates.extend(items.iter().map(|i| i["date"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = [0, 1, 3, 3, 5, 9].iter().map(|d| day(&app, *d)).collect();
    assert_eq!(dates, expected, "newest first, every entry once");

    let (_, ranged) = app
        .get(
            &format!("/api/activity?from={}&to={}", day(&app, 5), day(&app, 1)),
            Some(&token),
        )
        .await;
    let got: Vec<&str> = ranged["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [day(&app, 1), day(&app, 3), day(&app, 3), day(&app, 5)]
    );
    assert_eq!(ranged["next_cursor"], Value::Null);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=nope", "cursor"),
        ("from=yesterday", "from"),
        ("to=2025-02-30", "to"),
    ] {
        let (status, answer) = app
            .get(&format!("/api/activity?{query}"), Some(&token))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            answer["error"]["fields"].get(field).is_some(),
            "{query}: {answer}"
        );
    }
}

async fn updates_change_fields_and_spend_nothing(backend: Backend) {
    let (app, _, token, _) = setup(backend).await;
    for (kind, body) in bodies(&day(&app, 2)) {
        let entry = create(&app, &token, kind, body).await;
        let path = format!("/api/{kind}/{}", entry["id"].as_str().unwrap());
        let (status, answer) = app
            .patch(
                &path,
                Some(&token),
                json!({"date": day(&app, 1), "note": "changed"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{kind}: {answer}");
        let updated = &answer["entry"];
        assert_eq!(updated["date"], day(&app, 1));
        assert_eq!(updated["note"], "changed");
        assert_eq!(updated["id"], entry["id"]);
        assert_eq!(updated["created_at"], entry["created_at"]);
        // null clears an optional field.
        let (_, cleared) = app.patch(&path, Some(&token), json!({"note": null})).await;
        assert_eq!(cleared["entry"]["note"], Value::Null, "{kind}");
        // What a create refuses, an update refuses; nothing changes.
        let (status, _) = app
            .patch(&path, Some(&token), json!({"date": "1800-01-01"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = app.patch(&path, Some(&token), json!({"id": "x"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = app.patch(&path, Some(&token), json!([1])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, now) = app.get(&path, Some(&token)).await;
        assert_eq!(now["entry"]["date"], day(&app, 1));
        assert_eq!(
            used(&app, &token, kind).await,
            1,
            "{kind}: updates spend nothing"
        );
    }
    let weight = create(
        &app,
        &token,
        "weight",
        json!({"date": day(&app, 0), "weight_kg": 80}),
    )
    .await;
    let path = format!("/api/weight/{}", weight["id"].as_str().unwrap());
    let (_, answer) = app
        .patch(&path, Some(&token), json!({"weight_kg": 79.4}))
        .await;
    assert_eq!(answer["entry"]["weight_kg"], 79.4);
    let (status, answer) = app
        .patch(&path, Some(&token), json!({"weight_kg": null}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["error"]["fields"]["weight_kg"].is_string(),
        "{answer}"
    );
}

async fn deletes_remove_one_entry(backend: Backend) {
    let (app, _, token, _) = setup(backend).await;
    for (kind, body) in bodies(&day(&app, 0)) {
        let keep = create(&app, &token, kind, body.clone()).await;
        let gone = create(&app, &token, kind, body).await;
        let path = format!("/api/{kind}/{}", gone["id"].as_str().unwrap());
        let (status, answer) = app.delete(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{kind}: {answer}");
        assert_eq!(answer, Value::Null, "no body");
        let (status, _) = app.get(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.delete(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, list) = app.get(&format!("/api/{kind}"), Some(&token)).await;
        assert_eq!(list["items"], json!([keep]), "{kind}");
        assert_eq!(
            used(&app, &token, kind).await,
            2,
            "a delete gives nothing back"
        );
    }
}

async fn every_type_answers_its_shape(backend: Backend) {
    let (app, _, token, _) = setup(backend).await;
    let date = day(&app, 0);
    let created: Vec<(&str, Value)> = {
        let mut out = Vec::new();
        for (kind, body) in bodies(&date) {
            out.push((kind, create(&app, &token, kind, body).await));
        }
        out
    };
    for (kind, entry) in &created {
        assert!(
            entry["id"].is_string()
                && entry["created_at"].is_string()
                && entry["updated_at"].is_string()
        );
        assert_eq!(entry["date"], date, "{kind}");
    }
    let find = |kind: &str| created.iter().find(|(k, _)| *k == kind).unwrap().1.clone();
    assert_eq!(
        (
            find("weight")["weight_kg"].as_f64(),
            find("weight")["note"].as_str()
        ),
        (Some(80.5), Some("morning"))
    );
    let c = find("circumference");
    assert_eq!(
        (c["waist"].as_f64(), c["hip"].as_f64(), &c["neck"]),
        (Some(82.5), Some(99.0), &Value::Null)
    );
    let n = find("nutrition");
    assert_eq!(
        (n["kcal"].as_f64(), n["protein_g"].as_f64()),
        (Some(2150.0), Some(130.5))
    );
    let a = find("activity");
    assert_eq!(
        (
            a["kind"].as_str(),
            a["minutes"].as_i64(),
            a["kcal"].as_f64()
        ),
        (Some("running"), Some(45), Some(480.0))
    );
    // The OpenAPI document describes every route.
    let (_, doc) = app.get("/api/openapi.json", None).await;
    for kind in [
        "weight",
        "circumference",
        "caliper",
        "nutrition",
        "activity",
    ] {
        let collection = &doc["paths"][format!("/api/{kind}")];
        let item = &doc["paths"][format!("/api/{kind}/{{id}}")];
        assert!(
            collection["post"].is_object() && collection["get"].is_object(),
            "{kind}"
        );
        for verb in ["get", "patch", "delete"] {
            assert!(item[verb].is_object(), "{verb} /api/{kind}/{{id}}");
        }
    }
}

on_both_backends!(
    eight_parallel_creates_against_a_limit_of_three,
    a_key_retried_in_parallel_creates_one_entry,
    refusals_write_nothing,
    an_unverified_profile_is_refused,
    another_profiles_entries_are_not_found,
    invalid_values_name_their_field,
    caliper_results_match_hand_computed_values,
    lists_filter_by_date_and_page_with_a_cursor,
    updates_change_fields_and_spend_nothing,
    deletes_remove_one_entry,
    every_type_answers_its_shape,
);
