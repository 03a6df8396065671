//! Rate limits under a burst: attempts are counted before they are checked, so a hundred
//! guesses sent at the same instant get no more checks than the limit allows. A limit
//! that counted after the check would let every guess in flight through.

use std::sync::Arc;

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mitai_server::service::{accounts, coupons};
use mitai_store::Backend;
use serde_json::{Value, json};

/// Sends `n` POSTs of `body(i)` to `uri` at once (from one IP, with an optional token)
/// and returns the statuses.
async fn burst(
    app: &Arc<TestApp>,
    n: usize,
    uri: &'static str,
    token: Option<String>,
    body: impl Fn(usize) -> Value,
) -> Vec<StatusCode> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (app, barrier, token) = (Arc::clone(app), Arc::clone(&barrier), token.clone());
            let body = body(i).to_string();
            tokio::spawn(async move {
                let mut request = Request::post(uri)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("x-forwarded-for", "203.0.113.50");
                if let Some(token) = token {
                    request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                barrier.wait().await;
                let (status, _, _) = app.send(request.body(Body::from(body)).unwrap()).await;
                status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn failed_logins(app: &TestApp, email: &str) -> usize {
    let admin = app.login("admin@example.org", "adminpass1").await;
    let (_, log) = app
        .get(
            "/api/admin/activity?action=login_failed&limit=500",
            Some(&admin),
        )
        .await;
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["email"] == email)
        .count()
}

async fn parallel_wrong_passwords_pass_the_check_at_most_limit_times(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    app.admin().await;
    app.user("victim@example.org").await;
    let statuses = burst(
        &app,
        100,
        "/api/auth/login",
        None,
        |i| json!({"email": "victim@example.org", "password": format!("guess-{i:04}")}),
    )
    .await;
    let checked = count(&statuses, StatusCode::UNAUTHORIZED);
    let limited = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(checked + limited, 100, "{statuses:?}");
    assert_eq!(
        checked,
        usize::try_from(accounts::LOGIN_FAILURES_PER_ACCOUNT).unwrap(),
        "exactly the limit reach the password check: {statuses:?}"
    );
    assert_eq!(
        failed_logins(&app, "victim@example.org").await,
        checked,
        "only checked attempts are logged as failed logins"
    );
    // Locked now, even with the right password.
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "victim@example.org", "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

async fn parallel_right_passwords_are_refunded(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    app.user("busy@example.org").await;
    // Logins that succeed never count: afterwards the account still has its whole limit.
    for _ in 0..3 {
        let statuses = burst(
            &app,
            8,
            "/api/auth/login",
            None,
            |_| json!({"email": "busy@example.org", "password": "password123"}),
        )
        .await;
        assert_eq!(count(&statuses, StatusCode::OK), 8, "{statuses:?}");
    }
    let statuses = burst(
        &app,
        30,
        "/api/auth/login",
        None,
        |_| json!({"email": "busy@example.org", "password": "wrong-password"}),
    )
    .await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        usize::try_from(accounts::LOGIN_FAILURES_PER_ACCOUNT).unwrap()
    );
}

async fn parallel_wrong_codes_pass_the_lookup_at_most_limit_times(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    let (token, _) = app.user("guesser@example.org").await;
    let statuses = burst(
        &app,
        100,
        "/api/coupons/redeem",
        Some(token.clone()),
        |i| json!({"code": format!("GUESS-{i:04}-XXXX")}),
    )
    .await;
    let checked = count(&statuses, StatusCode::NOT_FOUND);
    let limited = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(checked + limited, 100, "{statuses:?}");
    assert_eq!(
        checked,
        usize::try_from(coupons::UNKNOWN_CODE_LIMIT_PER_PROFILE).unwrap(),
        "{statuses:?}"
    );
}

async fn registrations_are_limited_per_ip(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    let statuses = burst(
        &app,
        30,
        "/api/auth/register",
        None,
        |i| json!({"email": format!("new{i}@example.org"), "password": "password123"}),
    )
    .await;
    assert_eq!(
        count(&statuses, StatusCode::CREATED),
        usize::try_from(accounts::REGISTRATIONS_PER_IP).unwrap(),
        "{statuses:?}"
    );
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 10);
}

/// Clients on this machine (loopback) are not limited per IP: load tests on the host, and
/// everyone behind a local proxy that is not trusted, would share the address.
async fn loopback_registrations_are_not_limited_per_ip(backend: Backend) {
    let app = TestApp::new(backend).await;
    let limit = usize::try_from(accounts::REGISTRATIONS_PER_IP).unwrap();
    for i in 0..limit + 5 {
        let request = Request::post("/api/auth/register")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", "::1")
            .body(Body::from(
                json!({"email": format!("local{i}@example.org"), "password": "password123"})
                    .to_string(),
            ))
            .unwrap();
        let (status, _, body) = app.send(request).await;
        assert_eq!(status, StatusCode::CREATED, "registration {i}: {body:?}");
    }
}

on_both_backends!(
    loopback_registrations_are_not_limited_per_ip,
    parallel_wrong_passwords_pass_the_check_at_most_limit_times,
    parallel_right_passwords_are_refunded,
    parallel_wrong_codes_pass_the_lookup_at_most_limit_times,
    registrations_are_limited_per_ip,
);
