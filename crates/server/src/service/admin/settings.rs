//! Global settings: each key has a type; a bad value is refused and the old one kept.

use mitai_access::settings::{self, SettingError};
use mitai_store::{Profile, actions};
use serde_json::{Value, json};

use crate::service::AppState;
use crate::service::activity_log;
use crate::service::{Error, Result};
use chrono::DateTime;
use chrono::Utc;
use mitai_store::Setting;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// All known settings, in the order of their keys.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(state: &AppState) -> Result<Vec<SettingView>> {
    let snapshot = state.store.registry_snapshot().await?;
    let mut items: Vec<SettingView> = snapshot
        .settings
        .into_iter()
        .filter(|s| settings::KEYS.contains(&s.key.as_str()))
        .map(SettingView::from)
        .collect();
    items.sort_by_key(|s| settings::KEYS.iter().position(|k| *k == s.key));
    Ok(items)
}

/// Changes one setting, reloads the registry and logs `setting_changed`. Refuses an
/// unknown key (404), and a value that does not fit the key or holds control
/// characters (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set(
    state: &AppState,
    admin: &Profile,
    ip: Option<String>,
    key: &str,
    value: Value,
) -> Result<SettingView> {
    let registry = state.registry();
    let tier_exists = |id: &str| registry.tier_by_id(id).is_some_and(|t| t.active);
    let value = match settings::validate(key, &value, tier_exists) {
        // Settings end up in mail headers and links: no line breaks or other controls.
        Ok(Value::String(s)) if s.chars().any(char::is_control) => {
            return Err(Error::field("value", "must not contain control characters"));
        }
        Ok(value) => value,
        Err(SettingError::UnknownKey) => return Err(Error::NotFound),
        Err(SettingError::Invalid(why)) => return Err(Error::field("value", why)),
    };
    let now = state.now();
    let before = list(state)
        .await?
        .into_iter()
        .find(|s| s.key == key)
        .map_or(Value::Null, |s| s.value);
    if key == "usage_timezone" && before != value {
        // Counted usage must not disappear or reappear (DESIGN §18): the period running
        // now keeps its start, so remember when the zone changed and what it was.
        let history = settings::zone_history_with(&registry.settings, now);
        let history_key = settings::USAGE_TIMEZONE_HISTORY;
        state
            .store
            .set_setting(history_key, &history, Some(admin.id), now)
            .await?;
    }
    let stored = state
        .store
        .set_setting(key, &value, Some(admin.id), now)
        .await?;
    state.registry_changed().await?;
    if before != stored.value {
        let subject = json!({ "key": stored.key });
        let (before, after) = (json!({ "value": before }), json!({ "value": stored.value }));
        let action = actions::SETTING_CHANGED;
        activity_log::audit(state, admin, ip, None, action, subject, before, after).await;
    }
    Ok(SettingView::from(stored))
}

/// A global setting.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingView {
    pub key: String,
    /// A string, number or boolean, by the key (see the settings in the docs).
    pub value: serde_json::Value,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

impl From<Setting> for SettingView {
    fn from(s: Setting) -> SettingView {
        SettingView {
            key: s.key,
            value: s.value,
            updated_at: s.updated_at,
            updated_by: s.updated_by,
        }
    }
}
