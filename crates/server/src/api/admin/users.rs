//! Profiles, their access, and per-user restrictions.

use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Query, Result};
use crate::api::{ListParams, Page, ProfileEnvelope};
use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::access::AccessList;
use crate::service::accounts;
use crate::service::admin::users;
use crate::service::admin::users::RestrictionView;
use crate::service::admin::users::{RestrictionBody, UserDetail, UserPatch};
use crate::service::paging::page_args;
use crate::service::profiles::ProfileView;

/// Profiles, optionally filtered by a text in e-mail or name.
#[utoipa::path(get, path = "/users", tag = "admin", params(ListParams),
    responses((status = 200, body = Page<ProfileView>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<ProfileView>>> {
    let (limit, after) = page_args(params.limit, params.cursor.as_deref())?;
    let (items, next_cursor) = users::list(&state, params.query.as_deref(), limit, after).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// One profile with its restrictions.
#[utoipa::path(get, path = "/users/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<UserDetail>> {
    Ok(Json(users::detail(&state, id).await?))
}

/// Change a profile's base tier, role, disabled flag or trial.
#[utoipa::path(patch, path = "/users/{id}", tag = "admin", params(("id" = Uuid, Path)),
    request_body = UserPatch,
    responses((status = 200, body = crate::api::ProfileEnvelope), (status = 404, body = ErrorBody),
              (status = 409, description = "last_admin", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
    Json(body): Json<UserPatch>,
) -> Result<Json<ProfileEnvelope>> {
    let profile = users::update(&state, &admin.profile, ip, id, body).await?;
    Ok(Json(ProfileEnvelope { profile }))
}

/// Delete an account and its data (DESIGN §18): a later sign-in is 401, its photo files are
/// removed, the activity log keeps its events without the person.
#[utoipa::path(delete, path = "/users/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody),
              (status = 409, description = "last_admin", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    accounts::delete(&state, id, Some(admin.profile.id), ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user's access to every feature, as they see it.
#[utoipa::path(get, path = "/users/{id}/access", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccessList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn access(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<AccessList>> {
    Ok(Json(users::access(&state, id).await?))
}

/// Override one feature's limit for this user (replaces an earlier override).
#[utoipa::path(put, path = "/users/{id}/restrictions/{feature}", tag = "admin",
    params(("id" = Uuid, Path), ("feature" = String, Path)), request_body = RestrictionBody,
    responses((status = 200, body = RestrictionView), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_restriction(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path((id, feature)): Path<(Uuid, String)>,
    Json(body): Json<RestrictionBody>,
) -> Result<Json<RestrictionView>> {
    let view = users::set_restriction(&state, &admin.profile, ip, id, &feature, body).await?;
    Ok(Json(view))
}

/// Remove the override: the tier's limit applies again.
#[utoipa::path(delete, path = "/users/{id}/restrictions/{feature}", tag = "admin",
    params(("id" = Uuid, Path), ("feature" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_restriction(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path((id, feature)): Path<(Uuid, String)>,
) -> Result<StatusCode> {
    users::clear_restriction(&state, &admin.profile, ip, id, &feature).await?;
    Ok(StatusCode::NO_CONTENT)
}
