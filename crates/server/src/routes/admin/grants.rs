//! Admin grants: give access, pause, resume, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_instant, check_text};
use crate::api::{ErrorBody, GrantView};
use crate::auth::{AdminUser, CurrentUser};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult, ErrorCode, Json, Path};
use crate::routes::coupons::GrantList;
use crate::service::activity;
use crate::service::grants::{self, GrantRequest};
use crate::state::AppState;
use mitai_store::actions;
use mitai_store::coupons::GrantChange;
use serde_json::json;

/// A user's grants with their status now.
#[utoipa::path(get, path = "/users/{id}/grants", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = GrantList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<GrantList>> {
    let profile = state.store.profile(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(GrantList {
        items: grants::grant_views(&state, &profile).await?,
    }))
}

/// `{tier, days}` gives a duration grant; `{tier, starts_at, ends_at}` a fixed one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrantBody {
    pub tier: String,
    pub days: Option<i64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Give a user access.
#[utoipa::path(post, path = "/users/{id}/grants", tag = "admin", params(("id" = Uuid, Path)),
    request_body = NewGrantBody,
    responses((status = 201, body = GrantView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
    Json(body): Json<NewGrantBody>,
) -> ApiResult<(StatusCode, Json<GrantView>)> {
    let request = match (body.days, body.starts_at, body.ends_at) {
        (Some(days), None, None) => GrantRequest::Duration { days },
        (None, Some(starts_at), Some(ends_at)) => {
            check_instant("starts_at", starts_at)?;
            check_instant("ends_at", ends_at)?;
            GrantRequest::Fixed { starts_at, ends_at }
        }
        _ => {
            return Err(ApiError::field(
                "body",
                "give either days (duration grant) or starts_at and ends_at (fixed grant)",
            ));
        }
    };
    let view =
        grants::create_admin_grant(&state, admin.profile.id, id, &body.tier, request).await?;
    activity::record_admin(
        &state,
        admin.profile.id,
        Some(id),
        actions::GRANT_CREATED,
        json!({"grant_id": view.id, "tier": view.tier, "kind": view.kind}),
        ip,
    )
    .await;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    pub reason: String,
}

/// Pause a grant: a duration grant keeps its remaining time; a fixed one is not extended.
#[utoipa::path(post, path = "/grants/{id}/pause", tag = "admin", params(("id" = Uuid, Path)),
    request_body = PauseBody,
    responses((status = 200, body = GrantView), (status = 404, body = ErrorBody),
              (status = 409, description = "grant_already_paused or grant_revoked", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pause(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
    Json(body): Json<PauseBody>,
) -> ApiResult<Json<GrantView>> {
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::field("reason", "must not be empty"));
    }
    check_text("reason", reason, 500)?;
    let change = state
        .store
        .pause_grant(id, Some(admin.profile.id), reason, state.now())
        .await?;
    grants::change_result(change, ErrorCode::GrantAlreadyPaused)?;
    let view = grants::grant_view(&state, id).await?;
    log_change(
        &state,
        &admin,
        actions::GRANT_PAUSED,
        &view,
        Some(reason),
        ip,
    )
    .await?;
    Ok(Json(view))
}

/// Resume a paused grant.
#[utoipa::path(post, path = "/grants/{id}/resume", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = GrantView), (status = 404, body = ErrorBody),
              (status = 409, description = "grant_not_paused or grant_revoked", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<GrantView>> {
    let change = state
        .store
        .resume_grant(id, Some(admin.profile.id), state.now())
        .await?;
    grants::change_result(change, ErrorCode::GrantNotPaused)?;
    let view = grants::grant_view(&state, id).await?;
    log_change(&state, &admin, actions::GRANT_RESUMED, &view, None, ip).await?;
    Ok(Json(view))
}

/// Revoke a grant: it gives nothing from now on. Revoking twice is not an error.
#[utoipa::path(delete, path = "/grants/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    match state
        .store
        .revoke_grant(id, Some(admin.profile.id), state.now())
        .await?
    {
        GrantChange::NotFound => Err(ApiError::NotFound),
        GrantChange::Done => {
            let view = grants::grant_view(&state, id).await?;
            log_change(&state, &admin, actions::GRANT_REVOKED, &view, None, ip).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Logs an admin change of a grant, about the grant's profile.
async fn log_change(
    state: &AppState,
    admin: &CurrentUser,
    action: &str,
    view: &GrantView,
    reason: Option<&str>,
    ip: Option<String>,
) -> ApiResult<()> {
    let grant = state
        .store
        .grant(view.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    activity::record_admin(
        state,
        admin.profile.id,
        Some(grant.profile_id),
        action,
        json!({"grant_id": view.id, "tier": view.tier, "reason": reason}),
        ip,
    )
    .await;
    Ok(())
}
