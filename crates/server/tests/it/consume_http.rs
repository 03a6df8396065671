//! Exact consumption through the HTTP API, on both backends.

use std::sync::Arc;

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mitai_store::Backend;
use serde_json::json;

/// Limits the user's `weight` to 50 through a restriction and returns (app, token, id).
async fn app_with_limit(backend: Backend, limit: i64) -> (Arc<TestApp>, String) {
    let app = TestApp::new(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("racer@example.org").await;
    let (status, body) = app
        .put(
            &format!("/api/admin/users/{id}/restrictions/weight"),
            Some(&admin),
            json!({"limit": limit, "reason": "race test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (Arc::new(app), token)
}

async fn two_hundred_racers_for_fifty_units(backend: Backend) {
    let (app, token) = app_with_limit(backend, 50).await;
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            app.post(
                "/api/me/access/weight/consume",
                Some(&token),
                json!({"amount": 1}),
            )
            .await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::FORBIDDEN => {
                assert_eq!(body["error"]["code"], "feature_limit_reached", "{body}");
                assert_eq!(body["error"]["limit"], 50);
                assert_eq!(body["error"]["used"], 50);
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, refused), (50, 150));
    let (_, access) = app.get("/api/me/access/weight", Some(&token)).await;
    assert_eq!(access["used"], 50);
    assert_eq!(access["remaining"], 0);
    assert_eq!(access["source"], "user_restriction");
}

async fn replayed_idempotency_key_counts_once(backend: Backend) {
    let (app, token) = app_with_limit(backend, 50).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let request = Request::post("/api/me/access/weight/consume")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header("Idempotency-Key", "entry-42")
                .body(Body::from(r#"{"amount": 2}"#))
                .unwrap();
            let (status, _, body) = app.send(request).await;
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(
            body, &answers[0].1,
            "every replay answers as the first call did"
        );
    }
    assert_eq!(answers[0].1["used"], 2);
    let (_, access) = app.get("/api/me/access/weight", Some(&token)).await;
    assert_eq!(access["used"], 2, "counted once");

    // The same key for a different request is refused and changes nothing.
    let request = Request::post("/api/me/access/weight/consume")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", "entry-42")
        .body(Body::from(r#"{"amount": 3}"#))
        .unwrap();
    let (status, _, _) = app.send(request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, access) = app.get("/api/me/access/weight", Some(&token)).await;
    assert_eq!(access["used"], 2);
}

async fn an_amount_over_the_limit_is_refused_whole(backend: Backend) {
    let (app, token) = app_with_limit(backend, 5).await;
    let (status, _) = app
        .post(
            "/api/me/access/weight/consume",
            Some(&token),
            json!({"amount": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            "/api/me/access/weight/consume",
            Some(&token),
            json!({"amount": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "feature_limit_reached");
    assert_eq!(body["error"]["used"], 3);
    let (status, body) = app
        .post(
            "/api/me/access/weight/consume",
            Some(&token),
            json!({"amount": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["used"], 5);
    assert_eq!(body["remaining"], 0);
}

on_both_backends!(
    two_hundred_racers_for_fifty_units,
    replayed_idempotency_key_counts_once,
    an_amount_over_the_limit_is_refused_whole,
);
