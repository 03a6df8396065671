//! Global settings: each key has a type; a bad value is refused and the old one kept.

use axum::extract::State;

use crate::api::Page;
use crate::api::error::ErrorBody;
use crate::api::error::{Json, Path, Result};
use crate::http::auth::AdminUser;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::admin::settings;
use crate::service::admin::settings::SettingView;
use serde::Deserialize;
use utoipa::ToSchema;

/// All settings.
#[utoipa::path(get, path = "/settings", tag = "admin",
    responses((status = 200, body = Page<SettingView>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Page<SettingView>>> {
    Ok(Json(Page {
        items: settings::list(&state).await?,
        next_cursor: None,
    }))
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
) -> Result<Json<SettingView>> {
    let setting = settings::set(&state, &admin.profile, ip, &key, body.value).await?;
    Ok(Json(setting))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingBody {
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}
