//! Deleting an account over HTTP, on both backends (DESIGN §18): by the person with their
//! password (`DELETE /api/me`) and by an admin (`DELETE /api/admin/users/{id}`).

use std::sync::Arc;

use crate::common::{DataDir, TestApp, upload_png};
use axum::http::{Method, StatusCode};
use mitai_server::config::ServeArgs;
use mitai_store::Backend;
use serde_json::{Value, json};

async fn app(backend: Backend) -> (Arc<TestApp>, DataDir) {
    let dir = DataDir::new();
    let args = ServeArgs {
        test_clock: "1".into(),
        data_dir: dir.0.clone(),
        ..ServeArgs::default()
    };
    (Arc::new(TestApp::with_args(backend, args).await), dir)
}

async fn delete_me(app: &TestApp, token: &str, password: &str) -> (StatusCode, Value) {
    app.call(
        Method::DELETE,
        "/api/me",
        Some(token),
        Some(json!({ "password": password })),
    )
    .await
}

/// Something of everything a person keeps: a weight, a photo (file and thumbnail).
async fn some_data(app: &TestApp, token: &str) -> String {
    let (status, body) = app
        .post(
            "/api/weight",
            Some(token),
            json!({"date": "2026-01-01", "weight_kg": 80.5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let photo = upload_png(app, token).await;
    let id = photo["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .get(&format!("/api/photos/{id}/thumb"), Some(token))
        .await;
    assert!(status.is_success() || status == StatusCode::NOT_FOUND);
    id
}

async fn deleted_events(app: &TestApp, admin: &str) -> Vec<Value> {
    let (status, body) = app
        .get("/api/admin/activity?action=account_deleted", Some(admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// A wrong password changes nothing (403 `invalid_credentials`); the right one deletes the
/// account: the session ends, a sign-in is 401, the photo files are gone, the log keeps an
/// `account_deleted` about nobody, and another person's data stays.
async fn people_delete_their_own_account(backend: Backend) {
    let (app, dir) = app(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("leaving@example.org").await;
    let (other, other_id) = app.user("staying@example.org").await;
    some_data(&app, &token).await;
    some_data(&app, &other).await;
    assert_eq!(dir.photo_files(&id).len(), 1);

    let (status, body) = delete_me(&app, &token, "not-my-password").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let (status, _) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "a wrong password deletes nothing");
    let (status, body) = app
        .call(Method::DELETE, "/api/me", Some(&token), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = delete_me(&app, &token, "password123").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The log says it happened, not to whom.
    let events = deleted_events(&app, &admin).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["profile_id"], Value::Null);
    assert_eq!(events[0]["actor_id"], Value::Null);
    assert_eq!(events[0]["details"]["by"], "self");
    let (_, log) = app.get("/api/admin/activity?limit=500", Some(&admin)).await;
    let text = log.to_string();
    assert!(
        !text.contains("leaving@example.org"),
        "no e-mail left: {text}"
    );
    assert!(!text.contains(&id), "no id left");

    let (status, _) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "leaving@example.org", "password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(dir.photo_files(&id).is_empty(), "the photo files are gone");
    assert!(dir.thumb_files(&id).is_empty());
    assert!(!dir.0.join("photos").join(&id).exists());
    let (status, _) = app
        .get(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another person's data stays.
    assert_eq!(dir.photo_files(&other_id).len(), 1);
    let (_, weights) = app.get("/api/weight", Some(&other)).await;
    assert_eq!(weights["items"].as_array().unwrap().len(), 1);

    // The address can be registered again, as a new person.
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "leaving@example.org", "password": "password456", "name": "New"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_ne!(body["profile"]["id"], id.as_str());
}

/// An admin deletes an account (204, then 404); a person cannot use the admin path; the
/// last admin cannot be deleted, by the API or by themselves.
async fn admins_delete_accounts(backend: Backend) {
    let (app, dir) = app(backend).await;
    let admin = app.admin().await;
    let (token, id) = app.user("removed@example.org").await;
    let (other, _) = app.user("bystander@example.org").await;
    some_data(&app, &token).await;

    let (status, _) = app
        .delete(&format!("/api/admin/users/{id}"), Some(&other))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .delete(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(dir.photo_files(&id).is_empty());
    let (status, _) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .delete(&format!("/api/admin/users/{id}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    let events = deleted_events(&app, &admin).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["by"], "admin");
    assert!(events[0]["actor_id"].is_string(), "the admin who did it");

    let (_, me) = app.get("/api/me", Some(&admin)).await;
    let admin_id = me["profile"]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .delete(&format!("/api/admin/users/{admin_id}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "last_admin");
    let (status, body) = delete_me(&app, &admin, "adminpass1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = app.get("/api/me", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "the last admin stays");
}

on_both_backends!(people_delete_their_own_account, admins_delete_accounts);
