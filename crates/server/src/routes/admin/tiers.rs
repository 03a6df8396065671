//! Tiers.

use axum::extract::State;
use axum::http::StatusCode;
use mitai_access::Tier;
use mitai_store::StoreError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{check_slug, check_text};
use crate::api::{ErrorBody, Page, TierView};
use crate::error::{ApiError, ApiResult, ErrorCode, Json, Path};
use crate::state::AppState;

/// All tiers, in display order.
#[utoipa::path(get, path = "/tiers", tag = "admin",
    responses((status = 200, body = Page<TierView>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Json<Page<TierView>> {
    let registry = state.registry();
    Json(Page {
        items: registry.tiers().iter().map(TierView::from).collect(),
        next_cursor: None,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTierBody {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Higher rank = more access.
    pub rank: i32,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

fn check_tier(t: &Tier) -> ApiResult<()> {
    if t.name.is_empty() {
        return Err(ApiError::field("name", "must not be empty"));
    }
    check_text("name", &t.name, 100)?;
    check_text("description", &t.description, 1000)?;
    if !(-1_000_000..=1_000_000).contains(&t.rank) {
        return Err(ApiError::field("rank", "must be from -1000000 to 1000000"));
    }
    Ok(())
}

/// Add a tier. Its matrix cells start empty (features fall back to their defaults).
#[utoipa::path(post, path = "/tiers", tag = "admin", request_body = NewTierBody,
    responses((status = 201, body = TierView), (status = 409, description = "id_taken", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<NewTierBody>,
) -> ApiResult<(StatusCode, Json<TierView>)> {
    check_slug("id", &body.id)?;
    let tier = Tier {
        id: body.id,
        name: body.name.trim().to_owned(),
        description: body.description.unwrap_or_default(),
        rank: body.rank,
        active: body.active.unwrap_or(true),
        sort_order: body.sort_order.unwrap_or(0),
    };
    check_tier(&tier)?;
    match state.store.create_tier(&tier, state.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::refused(
                ErrorCode::IdTaken,
                "a tier with this id exists",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state.registry_changed().await?;
    Ok((StatusCode::CREATED, Json(TierView::from(&tier))))
}

/// One tier.
#[utoipa::path(get, path = "/tiers/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = TierView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TierView>> {
    let registry = state.registry();
    Ok(Json(TierView::from(
        registry.tier_by_id(&id).ok_or(ApiError::NotFound)?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub rank: Option<i32>,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

/// Change a tier; absent fields stay as they are.
#[utoipa::path(patch, path = "/tiers/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = TierPatch,
    responses((status = 200, body = TierView), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<TierPatch>,
) -> ApiResult<Json<TierView>> {
    let registry = state.registry();
    let mut t = registry.tier_by_id(&id).ok_or(ApiError::NotFound)?.clone();
    if let Some(name) = body.name {
        t.name = name.trim().to_owned();
    }
    if let Some(description) = body.description {
        t.description = description;
    }
    if let Some(rank) = body.rank {
        t.rank = rank;
    }
    if let Some(active) = body.active {
        let settings = &registry.settings;
        if !active && (settings.default_tier == t.id || settings.trial_tier == t.id) {
            return Err(ApiError::refused(
                ErrorCode::TierInUse,
                "this tier is the default or trial tier; change those settings first",
            ));
        }
        t.active = active;
    }
    if let Some(sort_order) = body.sort_order {
        t.sort_order = sort_order;
    }
    check_tier(&t)?;
    if !state.store.update_tier(&t, state.now()).await? {
        return Err(ApiError::NotFound);
    }
    state.registry_changed().await?;
    Ok(Json(TierView::from(&t)))
}
