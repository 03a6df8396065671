//! Several `mitai serve` instances on one PostgreSQL database: registry changes made on one
//! reach the others' caches, and consumption stays exact across instances.

use std::time::Duration;

use crate::common::TestApp;
use axum::http::StatusCode;
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

/// `GET uri` with a bearer token on `router`.
async fn get_on(router: &axum::Router, uri: &str, token: &str) -> (StatusCode, serde_json::Value) {
    let request = axum::http::Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// Polls `check` until it holds; fails when that takes a second or more.
async fn within_a_second(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = tokio::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what}: the other instance still answers from its cache after a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cached_sessions_and_access_end_within_a_second_on_other_instances() {
    let app = TestApp::new(Backend::Postgres).await;
    let admin = app.admin().await;
    let (token, id) = app.user("cached@example.org").await;
    let (_, other) = second_instance(&app).await;

    // The other instance caches the session and the access facts.
    for _ in 0..3 {
        assert_eq!(get_on(&other, "/api/me", &token).await.0, StatusCode::OK);
        let (status, access) = get_on(&other, "/api/me/access/weight", &token).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(access["limit"], json!(3));
    }

    // A restriction set on the first instance reaches the other's cached access facts.
    let (status, _) = app
        .put(
            &format!("/api/admin/users/{id}/restrictions/weight"),
            Some(&admin),
            json!({"limit": 3, "reason": "cache"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    within_a_second("restriction", async || {
        get_on(&other, "/api/me/access/weight", &token).await.1["limit"] == json!(3)
    })
    .await;

    // A tier change (the profile inside the cached session) too.
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"tier": "premium"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    within_a_second("tier", async || {
        get_on(&other, "/api/me", &token).await.1["profile"]["tier"] == json!("premium")
    })
    .await;

    // Logout: at once on the instance that made it, within a second on the other.
    assert_eq!(get_on(&other, "/api/me", &token).await.0, StatusCode::OK);
    let (status, _) = app.post("/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/me", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    within_a_second("logout", async || {
        get_on(&other, "/api/me", &token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;

    // Disabling a profile ends its other sessions the same way.
    let second = app.login("cached@example.org", "password123").await;
    assert_eq!(get_on(&other, "/api/me", &second).await.0, StatusCode::OK);
    let (status, _) = app
        .patch(
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/api/me", Some(&second)).await.0,
        StatusCode::UNAUTHORIZED
    );
    within_a_second("disable", async || {
        get_on(&other, "/api/me", &second).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
}
