//! Cross-site request forgery on the API: requests signed in by the session cookie that
//! change state or spend are refused when the browser says another site sent them; JSON
//! bodies need a JSON media type; spending POSTs without a body need a bearer token.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use mitai_store::Backend;
use serde_json::Value;

/// A request signed in by the session cookie, with extra headers.
async fn by_cookie(
    app: &TestApp,
    method: Method,
    uri: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, format!("mitai_session={token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some((content_type, body)) => request
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_owned())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let (status, _, bytes) = app.send(request).await;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

async fn weights(app: &TestApp, token: &str) -> usize {
    let (_, list) = app.get("/api/weight", Some(token)).await;
    list["items"].as_array().unwrap().len()
}

async fn used(app: &TestApp, token: &str, feature: &str) -> i64 {
    let (_, access) = app
        .get(&format!("/api/me/access/{feature}"), Some(token))
        .await;
    access["used"].as_i64().unwrap()
}

const WEIGHT: (&str, &str) = (
    "application/json",
    r#"{"date": "2026-03-01", "weight_kg": 70.5}"#,
);

async fn cross_site_writes_by_cookie_are_refused(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _) = app.user("anna@example.org").await;
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
    ] {
        let (status, body) = by_cookie(
            &app,
            Method::POST,
            "/api/weight",
            &token,
            headers,
            Some(WEIGHT),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{headers:?}: {body}"
        );
    }
    assert_eq!(weights(&app, &token).await, 0, "nothing was written");
    assert_eq!(used(&app, &token, "weight").await, 0, "nothing was spent");

    // The same request from the app's own origin, or typed by the user, goes through.
    for headers in [
        &[("sec-fetch-site", "same-origin")][..],
        &[("sec-fetch-site", "none")],
        &[("origin", "http://127.0.0.1:8080")],
        &[
            ("origin", "http://mitai.lan:8080"),
            ("host", "mitai.lan:8080"),
        ],
        &[],
    ] {
        let (status, body) = by_cookie(
            &app,
            Method::POST,
            "/api/weight",
            &token,
            headers,
            Some(WEIGHT),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{headers:?}: {body}");
    }
    // A bearer token is never sent by a browser on its own: cross-site is fine with it.
    let request = Request::post("/api/weight")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("sec-fetch-site", "cross-site")
        .header(header::CONTENT_TYPE, WEIGHT.0)
        .body(Body::from(WEIGHT.1))
        .unwrap();
    assert_eq!(app.send(request).await.0, StatusCode::CREATED);
}

async fn cross_site_exports_by_cookie_spend_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _) = app.user("exporter@example.org").await;
    for path in ["/api/export/csv", "/api/export/json", "/api/export/zip"] {
        let (status, _) = by_cookie(
            &app,
            Method::GET,
            path,
            &token,
            &[("sec-fetch-site", "cross-site")],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    for feature in ["export_csv", "export_json", "export_zip"] {
        assert_eq!(used(&app, &token, feature).await, 0, "{feature}");
    }
    // Reading is not refused: the same cross-site request may read the entries.
    let (status, _) = by_cookie(
        &app,
        Method::GET,
        "/api/weight",
        &token,
        &[("sec-fetch-site", "cross-site")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn json_bodies_need_a_json_media_type(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _) = app.user("types@example.org").await;
    let send = |content_type: &'static str| {
        let request = Request::post("/api/me/access/activity/consume")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(r#"{"amount": 1}"#))
            .unwrap();
        let app = &app;
        async move { app.send(request).await.0 }
    };
    for refused in [
        "text/plain;x=+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
    ] {
        assert_eq!(
            send(refused).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{refused}"
        );
    }
    for accepted in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
    ] {
        assert_eq!(send(accepted).await, StatusCode::OK, "{accepted}");
    }
}

async fn spending_posts_without_a_body_need_a_bearer_token(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _) = app.user("empty@example.org").await;
    let (status, _) = by_cookie(
        &app,
        Method::POST,
        "/api/me/access/activity/consume",
        &token,
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(used(&app, &token, "activity").await, 0);
    let (status, body) = by_cookie(
        &app,
        Method::POST,
        "/api/me/access/activity/consume",
        &token,
        &[],
        Some(("application/json", "{}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // With a bearer token the body may be left out.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/me/access/activity/consume",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(used(&app, &token, "activity").await, 2);
}

on_both_backends!(
    cross_site_writes_by_cookie_are_refused,
    cross_site_exports_by_cookie_spend_nothing,
    json_bodies_need_a_json_media_type,
    spending_posts_without_a_body_need_a_bearer_token,
);
