//! The feature registry: list, add and change the limitable features.

use mitai_access::{Feature, FeatureKind, ResetPeriod};
use mitai_store::{Profile, StoreError, actions};
use serde_json::{Value, json};

use crate::service::activity_log;

use mitai_access::text::{Category, Description, Label, Unit};

use super::{check_limit, check_slug};
use crate::service::field;

use crate::service::AppState;
use crate::service::patch::double_option;
use crate::service::{Error, ErrorCode, Result};
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;

/// All features, in display order.
pub fn list(state: &AppState) -> Vec<FeatureView> {
    let registry = state.registry();
    registry.features().iter().map(FeatureView::from).collect()
}

/// One feature; 404 if there is none with this id.
pub fn get(state: &AppState, id: &str) -> Result<FeatureView> {
    let registry = state.registry();
    let feature = registry.feature_by_id(id).ok_or(Error::NotFound)?;
    Ok(FeatureView::from(feature))
}

/// Adds a feature and reloads the registry. Refuses a bad id, kind, period, limit or
/// text (422), and an id in use (409 `id_taken`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    body: NewFeatureBody,
) -> Result<FeatureView> {
    check_slug("id", &body.id)?;
    let mut feature = Feature {
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
    check_feature_text(&mut feature)?;
    match state.store.create_feature(&feature, state.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(Error::refused(
                ErrorCode::IdTaken,
                "a feature with this id exists",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state.registry_changed().await?;
    let view = FeatureView::from(&feature);
    let subject = json!({ "feature": view.id });
    let after = json!(view);
    let action = actions::FEATURE_CREATED;
    activity_log::audit(state, admin, ip, None, action, subject, Value::Null, after).await;
    Ok(view)
}

/// Changes a feature (absent fields stay as they are) and reloads the registry.
/// Refuses an unknown id (404) and bad values (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: &str,
    patch: FeaturePatch,
) -> Result<FeatureView> {
    let registry = state.registry();
    let mut f = registry.feature_by_id(id).ok_or(Error::NotFound)?.clone();
    let before = json!(FeatureView::from(&f));
    if let Some(name) = patch.name {
        f.name = name.trim().to_owned();
    }
    if let Some(description) = patch.description {
        f.description = description;
    }
    if let Some(category) = patch.category {
        f.category = category;
    }
    if let Some(kind) = patch.kind {
        f.kind = parse_kind(&kind)?;
    }
    if let Some(unit) = patch.unit {
        f.unit = unit;
    }
    if let Some(period) = patch.reset_period {
        f.reset_period = parse_period(&period)?;
    }
    if let Some(limit) = patch.default_limit {
        f.default_limit = check_limit("default_limit", limit)?;
    }
    if let Some(active) = patch.active {
        f.active = active;
    }
    if let Some(sort_order) = patch.sort_order {
        f.sort_order = sort_order;
    }
    check_feature_text(&mut f)?;
    if !state.store.update_feature(&f, state.now()).await? {
        return Err(Error::NotFound);
    }
    state.registry_changed().await?;
    let view = FeatureView::from(&f);
    let subject = json!({ "feature": view.id });
    let action = actions::FEATURE_UPDATED;
    activity_log::audit(state, admin, ip, None, action, subject, before, json!(view)).await;
    Ok(view)
}

fn parse_kind(s: &str) -> Result<FeatureKind> {
    FeatureKind::parse(s).ok_or_else(|| Error::field("kind", "must be count or boolean"))
}

fn parse_period(s: &str) -> Result<ResetPeriod> {
    ResetPeriod::parse(s).ok_or_else(|| {
        Error::field(
            "reset_period",
            "must be never, daily, weekly, monthly or yearly",
        )
    })
}

/// Checks the texts of a feature by their kinds, and keeps them as checked (trimmed).
fn check_feature_text(f: &mut Feature) -> Result<()> {
    f.name = field("name", Label::parse(&f.name))?.into();
    f.description = field("description", Description::parse_or_empty(&f.description))?.into();
    f.category = field("category", Category::parse_or_empty(&f.category))?.into();
    f.unit = match &f.unit {
        Some(unit) => field("unit", Unit::parse_optional(unit))?.map(String::from),
        None => None,
    };
    Ok(())
}

/// A feature of the registry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    /// `count` or `boolean`.
    pub kind: String,
    pub unit: Option<String>,
    pub reset_period: String,
    pub default_limit: Option<i64>,
    pub active: bool,
    pub sort_order: i32,
}

impl From<&Feature> for FeatureView {
    fn from(f: &Feature) -> FeatureView {
        FeatureView {
            id: f.id.clone(),
            name: f.name.clone(),
            description: f.description.clone(),
            category: f.category.clone(),
            kind: f.kind.as_str().to_owned(),
            unit: f.unit.clone(),
            reset_period: f.reset_period.as_str().to_owned(),
            default_limit: f.default_limit,
            active: f.active,
            sort_order: f.sort_order,
        }
    }
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
