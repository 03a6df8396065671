//! Tiers: list, add and change them.

use mitai_access::Tier;
use mitai_store::{Profile, StoreError, actions};
use serde_json::{Value, json};

use crate::service::activity_log;

use mitai_access::text::{Description, Label};

use super::check_slug;
use crate::service::field;

use crate::service::AppState;
use crate::service::{Error, ErrorCode, Result};
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;

/// All tiers, in display order.
pub fn list(state: &AppState) -> Vec<TierView> {
    let registry = state.registry();
    registry.tiers().iter().map(TierView::from).collect()
}

/// One tier; 404 if there is none with this id.
pub fn get(state: &AppState, id: &str) -> Result<TierView> {
    let registry = state.registry();
    Ok(TierView::from(
        registry.tier_by_id(id).ok_or(Error::NotFound)?,
    ))
}

/// Adds a tier (its matrix cells start empty) and reloads the registry. Refuses a bad
/// id, text or rank (422), and an id in use (409 `id_taken`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    body: NewTierBody,
) -> Result<TierView> {
    check_slug("id", &body.id)?;
    let mut tier = Tier {
        id: body.id,
        name: body.name.trim().to_owned(),
        description: body.description.unwrap_or_default(),
        rank: body.rank,
        active: body.active.unwrap_or(true),
        sort_order: body.sort_order.unwrap_or(0),
    };
    check_tier(&mut tier)?;
    match state.store.create_tier(&tier, state.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(Error::refused(
                ErrorCode::IdTaken,
                "a tier with this id exists",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state.registry_changed().await?;
    let view = TierView::from(&tier);
    let subject = json!({ "tier": view.id });
    let after = json!(view);
    let action = actions::TIER_CREATED;
    activity_log::audit(state, admin, ip, None, action, subject, Value::Null, after).await;
    Ok(view)
}

/// Changes a tier (absent fields stay as they are) and reloads the registry. Refuses an
/// unknown id (404), bad values (422), and deactivating the default or trial tier
/// (409 `tier_in_use`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    id: &str,
    patch: TierPatch,
) -> Result<TierView> {
    let registry = state.registry();
    let mut t = registry.tier_by_id(id).ok_or(Error::NotFound)?.clone();
    let before = json!(TierView::from(&t));
    if let Some(name) = patch.name {
        t.name = name.trim().to_owned();
    }
    if let Some(description) = patch.description {
        t.description = description;
    }
    if let Some(rank) = patch.rank {
        t.rank = rank;
    }
    if let Some(active) = patch.active {
        let settings = &registry.settings;
        if !active && (settings.default_tier == t.id || settings.trial_tier == t.id) {
            return Err(Error::refused(
                ErrorCode::TierInUse,
                "this tier is the default or trial tier; change those settings first",
            ));
        }
        t.active = active;
    }
    if let Some(sort_order) = patch.sort_order {
        t.sort_order = sort_order;
    }
    check_tier(&mut t)?;
    if !state.store.update_tier(&t, state.now()).await? {
        return Err(Error::NotFound);
    }
    state.registry_changed().await?;
    let view = TierView::from(&t);
    let subject = json!({ "tier": view.id });
    let action = actions::TIER_UPDATED;
    activity_log::audit(state, admin, ip, None, action, subject, before, json!(view)).await;
    Ok(view)
}

/// Checks a tier, and keeps its texts as checked (trimmed).
fn check_tier(t: &mut Tier) -> Result<()> {
    t.name = field("name", Label::parse(&t.name))?.into();
    t.description = field("description", Description::parse_or_empty(&t.description))?.into();
    if !(-1_000_000..=1_000_000).contains(&t.rank) {
        return Err(Error::field("rank", "must be from -1000000 to 1000000"));
    }
    Ok(())
}

/// A tier.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TierView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rank: i32,
    pub active: bool,
    pub sort_order: i32,
}

impl From<&Tier> for TierView {
    fn from(t: &Tier) -> TierView {
        TierView {
            id: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            rank: t.rank,
            active: t.active,
            sort_order: t.sort_order,
        }
    }
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub rank: Option<i32>,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
}
