//! The feature registry.

use axum::extract::State;
use axum::http::StatusCode;
use mitai_access::{Feature, FeatureKind, ResetPeriod};
use mitai_store::StoreError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{check_limit, check_slug, check_text};
use crate::api::{ErrorBody, FeatureView, Page};
use crate::error::{ApiError, ApiResult, ErrorCode, Json, Path, double_option};
use crate::state::AppState;

fn parse_kind(s: &str) -> ApiResult<FeatureKind> {
    FeatureKind::parse(s).ok_or_else(|| ApiError::field("kind", "must be count or boolean"))
}

fn parse_period(s: &str) -> ApiResult<ResetPeriod> {
    ResetPeriod::parse(s).ok_or_else(|| {
        ApiError::field(
            "reset_period",
            "must be never, daily, weekly, monthly or yearly",
        )
    })
}

/// All features, in display order.
#[utoipa::path(get, path = "/features", tag = "admin",
    responses((status = 200, body = Page<FeatureView>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Json<Page<FeatureView>> {
    let registry = state.registry();
    Json(Page {
        items: registry.features().iter().map(FeatureView::from).collect(),
        next_cursor: None,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeatureBody {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    /// `count` or `boolean`.
    pub kind: String,
    pub unit: Option<String>,
    /// `never`, `daily`, `weekly`, `monthly` or `yearly`.
    pub reset_period: String,
    /// Used when a tier has no limit for this feature: `null` = unlimited; absent = 0.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub default_limit: Option<Option<i64>>,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

/// Add a limitable feature (no schema change needed).
#[utoipa::path(post, path = "/features", tag = "admin", request_body = NewFeatureBody,
    responses((status = 201, body = FeatureView),
              (status = 409, description = "id_taken", body = ErrorBody),
              (status = 422, description = "invalid_input", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<NewFeatureBody>,
) -> ApiResult<(StatusCode, Json<FeatureView>)> {
    check_slug("id", &body.id)?;
    let feature = Feature {
        id: body.id,
        name: body.name.trim().to_owned(),
        description: body.description.unwrap_or_default(),
        category: body.category.unwrap_or_else(|| "data".into()),
        kind: parse_kind(&body.kind)?,
        unit: body.unit,
        reset_period: parse_period(&body.reset_period)?,
        default_limit: check_limit("default_limit", body.default_limit.unwrap_or(Some(0)))?,
        active: body.active.unwrap_or(true),
        sort_order: body.sort_order.unwrap_or(0),
    };
    check_feature_text(&feature)?;
    match state.store.create_feature(&feature, state.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::refused(
                ErrorCode::IdTaken,
                "a feature with this id exists",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state.registry_changed().await?;
    Ok((StatusCode::CREATED, Json(FeatureView::from(&feature))))
}

fn check_feature_text(f: &Feature) -> ApiResult<()> {
    if f.name.is_empty() {
        return Err(ApiError::field("name", "must not be empty"));
    }
    check_text("name", &f.name, 100)?;
    check_text("description", &f.description, 1000)?;
    check_text("category", &f.category, 50)?;
    if let Some(unit) = &f.unit {
        check_text("unit", unit, 50)?;
    }
    Ok(())
}

/// One feature.
#[utoipa::path(get, path = "/features/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, body = FeatureView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<FeatureView>> {
    let registry = state.registry();
    let feature = registry.feature_by_id(&id).ok_or(ApiError::NotFound)?;
    Ok(Json(FeatureView::from(feature)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeaturePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub unit: Option<Option<String>>,
    pub reset_period: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub default_limit: Option<Option<i64>>,
    /// `false` switches the feature off for everyone (kill switch).
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}

/// Change a feature; absent fields stay as they are.
#[utoipa::path(patch, path = "/features/{id}", tag = "admin",
    params(("id" = String, Path)), request_body = FeaturePatch,
    responses((status = 200, body = FeatureView), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<FeaturePatch>,
) -> ApiResult<Json<FeatureView>> {
    let registry = state.registry();
    let mut f = registry
        .feature_by_id(&id)
        .ok_or(ApiError::NotFound)?
        .clone();
    if let Some(name) = body.name {
        f.name = name.trim().to_owned();
    }
    if let Some(description) = body.description {
        f.description = description;
    }
    if let Some(category) = body.category {
        f.category = category;
    }
    if let Some(kind) = body.kind {
        f.kind = parse_kind(&kind)?;
    }
    if let Some(unit) = body.unit {
        f.unit = unit;
    }
    if let Some(period) = body.reset_period {
        f.reset_period = parse_period(&period)?;
    }
    if let Some(limit) = body.default_limit {
        f.default_limit = check_limit("default_limit", limit)?;
    }
    if let Some(active) = body.active {
        f.active = active;
    }
    if let Some(sort_order) = body.sort_order {
        f.sort_order = sort_order;
    }
    check_feature_text(&f)?;
    if !state.store.update_feature(&f, state.now()).await? {
        return Err(ApiError::NotFound);
    }
    state.registry_changed().await?;
    Ok(Json(FeatureView::from(&f)))
}
