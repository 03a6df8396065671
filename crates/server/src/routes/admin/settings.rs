//! Global settings: each key has a type; a bad value is refused and the old one kept.

use axum::extract::State;
use mitai_access::settings::{self, SettingError};
use mitai_store::actions;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::api::{ErrorBody, Page, SettingView};
use crate::auth::AdminUser;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult, Json, Path};
use crate::service::activity;
use crate::state::AppState;

/// All settings.
#[utoipa::path(get, path = "/settings", tag = "admin",
    responses((status = 200, body = Page<SettingView>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Page<SettingView>>> {
    let snapshot = state.store.registry_snapshot().await?;
    let mut items: Vec<SettingView> = snapshot
        .settings
        .into_iter()
        .filter(|s| settings::KEYS.contains(&s.key.as_str()))
        .map(SettingView::from)
        .collect();
    items.sort_by_key(|s| settings::KEYS.iter().position(|k| *k == s.key));
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingBody {
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// Change one setting.
#[utoipa::path(put, path = "/settings/{key}", tag = "admin", params(("key" = String, Path)),
    request_body = SettingBody,
    responses((status = 200, body = SettingView), (status = 404, body = ErrorBody),
              (status = 422, description = "the value does not fit the key", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(key): Path<String>,
    Json(body): Json<SettingBody>,
) -> ApiResult<Json<SettingView>> {
    let registry = state.registry();
    let tier_exists = |id: &str| registry.tier_by_id(id).is_some_and(|t| t.active);
    let value = match settings::validate(&key, &body.value, tier_exists) {
        // Settings end up in mail headers and links: no line breaks or other controls.
        Ok(Value::String(s)) if s.chars().any(char::is_control) => {
            return Err(ApiError::field(
                "value",
                "must not contain control characters",
            ));
        }
        Ok(value) => value,
        Err(SettingError::UnknownKey) => return Err(ApiError::NotFound),
        Err(SettingError::Invalid(why)) => return Err(ApiError::field("value", why)),
    };
    let stored = state
        .store
        .set_setting(&key, &value, Some(admin.profile.id), state.now())
        .await?;
    state.registry_changed().await?;
    let details = json!({ "key": stored.key, "value": stored.value });
    let action = actions::SETTING_CHANGED;
    activity::record_admin(&state, admin.profile.id, None, action, details, ip).await;
    Ok(Json(SettingView::from(stored)))
}
