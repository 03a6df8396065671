//! `/admin/settings`: every setting as a typed field; a bad value keeps the old one and
//! says why at its field.

use super::Admin;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::Error;
use crate::service::admin::settings;
use crate::ui::forms::{FieldErrors, FormData, Params, url_encode};
use crate::ui::{Ctx, UiResult, render, render_status, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// One setting as its form shows it.
pub struct SettingRow {
    pub key: String,
    pub label: String,
    pub value: String,
    /// For a fixed list of values: each value, its words, whether it is the current one.
    pub choices: Vec<(String, String, bool)>,
    /// What a change does, before it is saved.
    pub help: Option<&'static str>,
    pub error: Option<String>,
    pub saved: bool,
}

#[derive(Template)]
#[template(path = "ui/admin/settings.html")]
struct SettingsPage {
    ctx: Ctx,
    items: Vec<SettingRow>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SettingsQuery {
    saved: Option<String>,
}

/// The choices of a setting whose values are a fixed list (a select instead of text).
fn choices_of(
    state: &AppState,
    lang: crate::ui::Lang,
    key: &str,
    value: &Value,
) -> Vec<(String, String, bool)> {
    let current = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let list: Vec<String> = match key {
        "registration_mode" => ["open", "invite_only", "closed"].map(String::from).to_vec(),
        "require_email_verification" | "users_can_invite" => {
            ["true", "false"].map(String::from).to_vec()
        }
        "default_tier" | "trial_tier" => state
            .registry()
            .tiers()
            .iter()
            .filter(|t| t.active)
            .map(|t| t.id.clone())
            .collect(),
        _ => return Vec::new(),
    };
    let registry = state.registry();
    list.into_iter()
        .map(|v| {
            let selected = v == current;
            let words = match v.as_str() {
                "true" => lang.t("admin.on").to_owned(),
                "false" => lang.t("admin.off").to_owned(),
                _ if key.ends_with("_tier") => crate::ui::plan::tier_name(lang, &registry, &v),
                other => lang
                    .try_t(&format!("value.{other}"))
                    .map_or_else(|| other.to_owned(), str::to_owned),
            };
            (v, words, selected)
        })
        .collect()
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn settings_page(
    state: &AppState,
    admin: &Admin,
    failed: Option<(&str, String, String)>,
    saved: Option<&str>,
) -> UiResult<SettingsPage> {
    let lang = admin.lang();
    let items = settings::list(state)
        .await?
        .into_iter()
        .map(|s| {
            let error = failed
                .as_ref()
                .filter(|(k, _, _)| *k == s.key)
                .map(|(_, why, _)| why.clone());
            // A refused value is shown as typed, beside its message; the old one is kept.
            let value = failed
                .as_ref()
                .filter(|(k, _, _)| *k == s.key)
                .map_or_else(|| text_of(&s.value), |(_, _, typed)| typed.clone());
            SettingRow {
                label: lang
                    .try_t(&format!("setting.{}", s.key))
                    .map_or_else(|| s.key.clone(), str::to_owned),
                choices: choices_of(state, lang, &s.key, &s.value),
                help: lang.try_t(&format!("setting_help.{}", s.key)),
                saved: saved == Some(s.key.as_str()),
                key: s.key,
                value,
                error,
            }
        })
        .collect();
    Ok(SettingsPage {
        ctx: admin.ctx(None),
        items,
    })
}

pub async fn settings(
    State(state): State<AppState>,
    admin: Admin,
    Params(q): Params<SettingsQuery>,
) -> UiResult {
    render(&settings_page(&state, &admin, None, q.saved.as_deref()).await?)
}

/// The JSON value a typed setting stands for: numbers, `true`/`false`, `null` for an
/// empty optional text, else the text.
fn typed_value(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "" => Value::Null,
        t => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(t.to_owned())),
    }
}

/// `POST /admin/settings/{key}` with the field named by the key.
pub async fn set_setting(
    State(state): State<AppState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path(key): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let lang = admin.lang();
    let typed = form.raw(&key).trim().to_owned();
    match settings::set(&state, admin.profile(), ip, &key, typed_value(&typed)).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/settings?saved={}#s-{key}",
            url_encode(&key)
        ))),
        Err(Error::Invalid { fields, .. }) => {
            let errors = FieldErrors::from_api(lang, &fields);
            let why = errors.0.values().next().cloned().unwrap_or_default();
            let page = settings_page(&state, &admin, Some((&key, why, typed)), None).await?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}
