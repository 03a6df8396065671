//! Several `mitai serve` instances on one PostgreSQL database: registry changes made on one
//! reach the others' caches, and consumption stays exact across instances.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use mitai_server::AppState;
use mitai_server::config::{Config, ServeArgs};
use mitai_store::Backend;
use serde_json::json;
use tower::ServiceExt;

/// A second instance on the same database as `app`.
async fn second_instance(app: &TestApp) -> (AppState, axum::Router) {
    let store = mitai_store::connect(&app.db.url).await.unwrap();
    let args = ServeArgs {
        database_url: app.db.url.clone(),
        ..ServeArgs::default()
    };
    let state = AppState::new(store, Config::from_args(&args).unwrap())
        .await
        .unwrap();
    tokio::spawn(state.clone().follow_registry_changes());
    let router = mitai_server::app(state.clone());
    (state, router)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_changes_reach_other_instances() {
    let app = TestApp::new(Backend::Postgres).await;
    let admin = app.admin().await;
    let (other, _) = second_instance(&app).await;
    // The listener is connected once a first change arrives; make changes until one lands,
    // then check that the specific change below is seen.
    let before = other.registry();
    let f = before.feature_idx("weight").unwrap();
    let free = before.tier_idx("free").unwrap();
    assert_eq!(before.tier_limit(free, f), Some(Some(31)));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    let mut n = 0;
    while tokio::time::Instant::now() < deadline {
        n += 1;
        let (status, body) = app
            .put(
                "/api/admin/tier-limits/free/weight",
                Some(&admin),
                json!({"limit": 100 + n}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let wait_until = tokio::time::Instant::now() + Duration::from_millis(500);
        while tokio::time::Instant::now() < wait_until {
            let r = other.registry();
            if r.tier_limit(
                r.tier_idx("free").unwrap(),
                r.feature_idx("weight").unwrap(),
            ) == Some(Some(100 + n))
            {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if seen {
            break;
        }
    }
    assert!(seen, "the second instance never saw the change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumption_is_exact_across_instances() {
    let app = std::sync::Arc::new(TestApp::new(Backend::Postgres).await);
    let admin = app.admin().await;
    let (token, id) = app.user("two@example.org").await;
    let (status, _) = app
        .put(
            &format!("/api/admin/users/{id}/restrictions/activity"),
            Some(&admin),
            json!({"limit": 30, "reason": "two instances"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, other) = second_instance(&app).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let router = if i % 2 == 0 {
            app.router.clone()
        } else {
            other.clone()
        };
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let request = axum::http::Request::post("/api/me/access/activity/consume")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::FORBIDDEN => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 30);
    let (_, access) = app.get("/api/me/access/activity", Some(&token)).await;
    assert_eq!(access["used"], 30);
}
