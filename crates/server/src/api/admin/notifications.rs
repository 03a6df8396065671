//! Admin notifications: the list (unread first), reading them, and each admin's
//! preferences per event.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Query, Result};
use crate::http::auth::AdminUser;
use crate::service::AppState;
use crate::service::notifications::{self, NotificationView};

#[derive(Debug, Deserialize, IntoParams)]
pub struct NotificationParams {
    /// `true`: only the unread ones.
    pub unread: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
    /// How many are unread (the bell).
    pub unread: i64,
}

/// My notifications: unread first, then the newest (the latest 200).
#[utoipa::path(get, path = "/notifications", tag = "admin", params(NotificationParams),
    responses((status = 200, body = NotificationList)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(params): Query<NotificationParams>,
) -> Result<Json<NotificationList>> {
    let (items, unread) =
        notifications::list(&state, &admin.profile, params.unread.unwrap_or(false)).await?;
    Ok(Json(NotificationList { items, unread }))
}

/// Mark one notification read (for me).
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    notifications::mark_read(&state, &admin.profile, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark all my notifications read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "admin",
    responses((status = 204)),
    security(("bearer" = [])))]
pub async fn read_all(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> Result<StatusCode> {
    notifications::mark_all_read(&state, &admin.profile).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My choice per event: `off`, `immediate` or `digest`.
#[utoipa::path(get, path = "/notification-preferences", tag = "admin",
    responses((status = 200, body = BTreeMap<String, String>)),
    security(("bearer" = [])))]
pub async fn preferences(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> Result<Json<BTreeMap<String, String>>> {
    Ok(Json(
        notifications::preferences(&state, admin.profile.id).await?,
    ))
}

/// Change my choice for the events named (the others keep theirs); answers the whole map.
#[utoipa::path(put, path = "/notification-preferences", tag = "admin",
    request_body = BTreeMap<String, String>,
    responses((status = 200, body = BTreeMap<String, String>),
              (status = 422, description = "invalid_input (an unknown event or mode)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_preferences(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<BTreeMap<String, String>>,
) -> Result<Json<BTreeMap<String, String>>> {
    Ok(Json(
        notifications::set_preferences(&state, admin.profile.id, &body).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<notifications::WebhookView>,
}

/// The webhooks that want notifications (without their secrets).
#[utoipa::path(get, path = "/notification-webhooks", tag = "admin",
    responses((status = 200, body = WebhookList)),
    security(("bearer" = [])))]
pub async fn webhooks(State(state): State<AppState>) -> Result<Json<WebhookList>> {
    Ok(Json(WebhookList {
        items: notifications::webhooks(&state).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// Any `http` or `https` URL (loopback too).
    pub url: String,
    /// The events it wants.
    pub events: Vec<String>,
    /// `json`, `slack` or `ntfy`.
    pub format: String,
}

/// Add a webhook; its secret (the key of `Mitai-Signature`) is shown this once.
#[utoipa::path(post, path = "/notification-webhooks", tag = "admin", request_body = NewWebhookBody,
    responses((status = 201, body = notifications::NewWebhookView),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_webhook(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(body): Json<NewWebhookBody>,
) -> Result<(StatusCode, Json<notifications::NewWebhookView>)> {
    let made = notifications::create_webhook(
        &state,
        &admin.profile,
        &body.url,
        &body.events,
        &body.format,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Remove a webhook (its waiting deliveries with it).
#[utoipa::path(delete, path = "/notification-webhooks/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    notifications::delete_webhook(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a sample notification to a webhook now.
#[utoipa::path(post, path = "/notification-webhooks/{id}/test", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = notifications::WebhookTest), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn test_webhook(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<notifications::WebhookTest>> {
    Ok(Json(notifications::test_webhook(&state, id).await?))
}
