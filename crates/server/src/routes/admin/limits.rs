//! The tier × feature matrix.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::check_limit;
use crate::api::{ErrorBody, FeatureView, TierView};
use crate::error::{ApiError, ApiResult, Json, Path, double_option};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Matrix {
    pub tiers: Vec<TierView>,
    pub features: Vec<FeatureView>,
    /// `limits[tier][feature]`: `null` = unlimited. A missing cell falls back to the
    /// feature's default limit.
    #[schema(value_type = Object)]
    pub limits: BTreeMap<String, BTreeMap<String, Option<i64>>>,
}

/// The whole matrix.
#[utoipa::path(get, path = "/tier-limits", tag = "admin",
    responses((status = 200, body = Matrix)), security(("bearer" = [])))]
pub async fn matrix(State(state): State<AppState>) -> Json<Matrix> {
    let registry = state.registry();
    let mut limits: BTreeMap<String, BTreeMap<String, Option<i64>>> = registry
        .tiers()
        .iter()
        .map(|t| (t.id.clone(), BTreeMap::new()))
        .collect();
    for (tier, feature, limit) in registry.tier_limits() {
        limits
            .entry(tier.id.clone())
            .or_default()
            .insert(feature.id.clone(), limit);
    }
    Json(Matrix {
        tiers: registry.tiers().iter().map(TierView::from).collect(),
        features: registry.features().iter().map(FeatureView::from).collect(),
        limits,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitBody {
    /// `null` = unlimited, 0 = disabled, N = uses per reset period. Required.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub limit: Option<Option<i64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cell {
    pub tier: String,
    pub feature: String,
    pub limit: Option<i64>,
}

fn known(state: &AppState, tier: &str, feature: &str) -> ApiResult<()> {
    let registry = state.registry();
    if registry.tier_by_id(tier).is_none() || registry.feature_by_id(feature).is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

/// Set one cell.
#[utoipa::path(put, path = "/tier-limits/{tier}/{feature}", tag = "admin",
    params(("tier" = String, Path), ("feature" = String, Path)), request_body = LimitBody,
    responses((status = 200, body = Cell), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    Path((tier, feature)): Path<(String, String)>,
    Json(body): Json<LimitBody>,
) -> ApiResult<Json<Cell>> {
    known(&state, &tier, &feature)?;
    let limit = body
        .limit
        .ok_or_else(|| ApiError::field("limit", "is required (null for unlimited)"))?;
    let limit = check_limit("limit", limit)?;
    state
        .store
        .set_tier_limit(&tier, &feature, limit, state.now())
        .await?;
    state.registry_changed().await?;
    Ok(Json(Cell {
        tier,
        feature,
        limit,
    }))
}

/// Remove one cell: the feature's default limit applies to the tier again.
#[utoipa::path(delete, path = "/tier-limits/{tier}/{feature}", tag = "admin",
    params(("tier" = String, Path), ("feature" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Path((tier, feature)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    known(&state, &tier, &feature)?;
    state.store.delete_tier_limit(&tier, &feature).await?;
    state.registry_changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
