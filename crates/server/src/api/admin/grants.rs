//! Admin grants: give access, pause, resume, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::api::coupons::GrantList;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Result};
use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::admin::grants;
use crate::service::admin::grants::{NewGrantBody, PauseBody};
use crate::service::grants::GrantView;

/// A user's grants with their status now.
#[utoipa::path(get, path = "/users/{id}/grants", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = GrantList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<GrantList>> {
    Ok(Json(GrantList {
        items: grants::list(&state, id).await?,
    }))
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
) -> Result<(StatusCode, Json<GrantView>)> {
    let view = grants::create(&state, &admin.profile, ip, id, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
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
) -> Result<Json<GrantView>> {
    Ok(Json(
        grants::pause(&state, &admin.profile, ip, id, body).await?,
    ))
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
) -> Result<Json<GrantView>> {
    Ok(Json(grants::resume(&state, &admin.profile, ip, id).await?))
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
) -> Result<StatusCode> {
    grants::revoke(&state, &admin.profile, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
