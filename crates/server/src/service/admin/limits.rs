//! The tier × feature matrix.

use std::collections::BTreeMap;

use mitai_store::{Profile, actions};
use serde_json::{Value, json};

use super::check_limit;
use crate::service::activity_log;

use crate::service::AppState;
use crate::service::admin::features::FeatureView;
use crate::service::admin::tiers::TierView;
use crate::service::{Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

/// The whole matrix: every tier (with its set cells), every feature.
pub fn matrix(state: &AppState) -> Matrix {
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
    Matrix {
        tiers: registry.tiers().iter().map(TierView::from).collect(),
        features: registry.features().iter().map(FeatureView::from).collect(),
        limits,
    }
}

/// Checks that the cell exists: 404 unless both the tier and the feature do.
pub fn check_cell(state: &AppState, tier: &str, feature: &str) -> Result<()> {
    let registry = state.registry();
    if registry.tier_by_id(tier).is_none() || registry.feature_by_id(feature).is_none() {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// Sets one cell (`None` = unlimited) and reloads the registry. Refuses an unknown tier
/// or feature (404) and a limit out of range (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    tier: &str,
    feature: &str,
    limit: Option<i64>,
) -> Result<Cell> {
    check_cell(state, tier, feature)?;
    let limit = check_limit("limit", limit)?;
    let before = cell_value(state, tier, feature);
    state
        .store
        .set_tier_limit(tier, feature, limit, state.now())
        .await?;
    state.registry_changed().await?;
    let after = json!({ "limit": limit });
    if before != after {
        let subject = json!({ "tier": tier, "feature": feature });
        let action = actions::TIER_LIMIT_CHANGED;
        activity_log::audit(state, admin, ip, None, action, subject, before, after).await;
    }
    Ok(Cell {
        tier: tier.to_owned(),
        feature: feature.to_owned(),
        limit,
    })
}

/// Removes one cell, so the feature's default limit applies to the tier again, and
/// reloads the registry. Refuses an unknown tier or feature (404).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reset(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    tier: &str,
    feature: &str,
) -> Result<()> {
    check_cell(state, tier, feature)?;
    let before = cell_value(state, tier, feature);
    state.store.delete_tier_limit(tier, feature).await?;
    state.registry_changed().await?;
    if !before.is_null() {
        let subject = json!({ "tier": tier, "feature": feature });
        let action = actions::TIER_LIMIT_CHANGED;
        activity_log::audit(state, admin, ip, None, action, subject, before, Value::Null).await;
    }
    Ok(())
}

/// A cell as the audit trail keeps it: `{"limit": n}` (null = unlimited), or null when the
/// tier has no cell for the feature (its default limit applies).
fn cell_value(state: &AppState, tier: &str, feature: &str) -> Value {
    let registry = state.registry();
    let cell = registry
        .tier_idx(tier)
        .zip(registry.feature_idx(feature))
        .and_then(|(t, f)| registry.tier_limit(t, f));
    cell.map_or(Value::Null, |limit| json!({ "limit": limit }))
}

/// How many enabled profiles have `tier` as their effective tier now, and how many of
/// them keep a personal (unexpired) limit of `feature` that wins over any tier's limit.
pub async fn impact(state: &AppState, tier: &str, feature: &str) -> Result<(i64, i64)> {
    let now = state.now();
    let personal: std::collections::HashSet<uuid::Uuid> = state
        .store
        .restrictions_of_feature(feature)
        .await?
        .into_iter()
        .filter(|r| r.valid_until.is_none_or(|u| u > now))
        .map(|r| r.profile_id)
        .collect();
    let (mut on_tier, mut keep) = (0, 0);
    let mut after = None;
    loop {
        let page = state.store.list_profiles(None, after, 500).await?;
        let enabled: Vec<_> = page.iter().filter(|p| !p.disabled).cloned().collect();
        let tiers = crate::service::grants::effective_tiers(state, &enabled).await?;
        for (p, t) in enabled.iter().zip(tiers) {
            if t == tier {
                on_tier += 1;
                if personal.contains(&p.id) {
                    keep += 1;
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == 500 => after = Some(last.id),
            _ => break,
        }
    }
    Ok((on_tier, keep))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Matrix {
    pub tiers: Vec<TierView>,
    pub features: Vec<FeatureView>,
    /// `limits[tier][feature]`: `null` = unlimited. A missing cell falls back to the
    /// feature's default limit.
    #[schema(value_type = Object)]
    pub limits: BTreeMap<String, BTreeMap<String, Option<i64>>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cell {
    pub tier: String,
    pub feature: String,
    pub limit: Option<i64>,
}
