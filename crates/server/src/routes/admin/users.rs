//! Profiles, their access, and per-user restrictions.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mitai_store::{Profile, ProfilePatch, Restriction, Role, actions};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_instant, check_limit, check_text};
use crate::api::{
    AccessList, ErrorBody, ListParams, Page, ProfileView, RestrictionView, next_cursor, page_args,
};
use crate::auth::AdminUser;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult, Json, Path, Query, double_option};
use crate::service::{access, activity, grants};
use crate::state::AppState;

/// Profiles, optionally filtered by a text in e-mail or name.
#[utoipa::path(get, path = "/users", tag = "admin", params(ListParams),
    responses((status = 200, body = Page<ProfileView>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Page<ProfileView>>> {
    let (limit, after) = page_args(params.limit, params.cursor.as_deref())?;
    let query = params
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty());
    if let Some(q) = query {
        check_text("query", q, 200)?;
    }
    let mut profiles = state.store.list_profiles(query, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut profiles, limit, |p| p.id);
    let mut items = Vec::with_capacity(profiles.len());
    for p in &profiles {
        items.push(grants::profile_view(&state, p).await?);
    }
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    pub profile: ProfileView,
    pub restrictions: Vec<RestrictionView>,
}

async fn load(state: &AppState, id: Uuid) -> ApiResult<mitai_store::Profile> {
    state.store.profile(id).await?.ok_or(ApiError::NotFound)
}

/// One profile with its restrictions.
#[utoipa::path(get, path = "/users/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserDetail>> {
    let profile = load(&state, id).await?;
    let restrictions = state.store.restrictions(id).await?;
    Ok(Json(UserDetail {
        profile: grants::profile_view(&state, &profile).await?,
        restrictions: restrictions.iter().map(RestrictionView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// The base tier.
    pub tier: Option<String>,
    /// `user` or `admin`.
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// `null` ends the trial.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub trial_ends_at: Option<Option<DateTime<Utc>>>,
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
) -> ApiResult<Json<crate::api::ProfileEnvelope>> {
    let registry = state.registry();
    let profile = load(&state, id).await?;
    if let Some(Some(ends)) = body.trial_ends_at {
        check_instant("trial_ends_at", ends)?;
    }
    if let Some(tier) = &body.tier
        && registry.tier_by_id(tier).is_none()
    {
        return Err(ApiError::field("tier", "no such tier"));
    }
    let role = match body.role.as_deref() {
        None => None,
        Some(r) => {
            Some(Role::parse(r).ok_or_else(|| ApiError::field("role", "must be user or admin"))?)
        }
    };
    let patch = ProfilePatch {
        tier: body.tier,
        role,
        disabled: body.disabled,
        trial_ends_at: body.trial_ends_at,
        ..Default::default()
    };
    let updated = state
        .store
        .update_profile(id, &patch, state.now())
        .await?
        .ok_or(ApiError::NotFound)?;
    log_changes(&state, admin.profile.id, &profile, &updated, ip).await;
    Ok(Json(crate::api::ProfileEnvelope {
        profile: grants::profile_view(&state, &updated).await?,
    }))
}

/// Logs each change an admin made to a profile: `tier_changed`, `role_changed`,
/// `account_disabled` / `account_enabled`, `trial_changed`.
async fn log_changes(
    state: &AppState,
    admin: Uuid,
    before: &Profile,
    after: &Profile,
    ip: Option<String>,
) {
    let mut changes = Vec::new();
    if before.tier != after.tier {
        changes.push((
            actions::TIER_CHANGED,
            json!({"from": before.tier, "to": after.tier}),
        ));
    }
    if before.role != after.role {
        let (from, to) = (before.role.as_str(), after.role.as_str());
        changes.push(("role_changed", json!({"from": from, "to": to})));
    }
    if before.disabled != after.disabled {
        let action = if after.disabled {
            "account_disabled"
        } else {
            "account_enabled"
        };
        changes.push((action, json!({})));
    }
    if before.trial_ends_at != after.trial_ends_at {
        let (from, to) = (before.trial_ends_at, after.trial_ends_at);
        changes.push(("trial_changed", json!({"from": from, "to": to})));
    }
    for (action, details) in changes {
        activity::record_admin(state, admin, Some(after.id), action, details, ip.clone()).await;
    }
}

/// The user's access to every feature, as they see it.
#[utoipa::path(get, path = "/users/{id}/access", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccessList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn access(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AccessList>> {
    let profile = load(&state, id).await?;
    let (effective_tier, features) = access::access_list(&state, &profile).await?;
    Ok(Json(AccessList {
        effective_tier,
        features,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionBody {
    /// `null` = unlimited, 0 = disabled, N = uses per reset period. Required.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub limit: Option<Option<i64>>,
    pub reason: String,
    /// The override stops applying at this instant.
    pub valid_until: Option<DateTime<Utc>>,
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
) -> ApiResult<Json<RestrictionView>> {
    if state.registry().feature_by_id(&feature).is_none() {
        return Err(ApiError::NotFound);
    }
    load(&state, id).await?;
    let limit = body
        .limit
        .ok_or_else(|| ApiError::field("limit", "is required (null for unlimited)"))?;
    let limit = check_limit("limit", limit)?;
    check_text("reason", &body.reason, 500)?;
    let now = state.now();
    if let Some(until) = body.valid_until {
        if until <= now {
            return Err(ApiError::field("valid_until", "must be in the future"));
        }
        check_instant("valid_until", until)?;
    }
    let restriction = Restriction {
        profile_id: id,
        feature_id: feature,
        limit,
        reason: body.reason.trim().to_owned(),
        valid_until: body.valid_until,
        created_by: Some(admin.profile.id),
        created_at: now,
    };
    state.store.put_restriction(&restriction).await?;
    let details = json!({
        "feature": restriction.feature_id,
        "limit": restriction.limit,
        "reason": restriction.reason,
        "valid_until": restriction.valid_until,
    });
    let action = actions::RESTRICTION_SET;
    activity::record_admin(&state, admin.profile.id, Some(id), action, details, ip).await;
    Ok(Json(RestrictionView::from(&restriction)))
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
) -> ApiResult<StatusCode> {
    if state.registry().feature_by_id(&feature).is_none() {
        return Err(ApiError::NotFound);
    }
    if state.store.delete_restriction(id, &feature).await? {
        let details = json!({ "feature": feature });
        let action = actions::RESTRICTION_CLEARED;
        activity::record_admin(&state, admin.profile.id, Some(id), action, details, ip).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
