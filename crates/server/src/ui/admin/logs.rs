//! `/admin/activity` (filters and older pages), `/admin/settings` (typed fields: a bad value
//! keeps the old one and says why at its field) and `/admin/mail` (the outbox).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::Admin;
use crate::http::client_ip::ClientIp;
use crate::service::AppState;
use crate::service::Error;
use crate::service::admin::activity::ActivityParams;
use crate::service::admin::mail::MailParams;
use crate::service::admin::{activity, mail, settings};
use crate::ui::forms::{FieldErrors, FormData, Params, url_encode};
use crate::ui::{Ctx, UiResult, render, render_status, see_other};

#[derive(Debug, Default, serde::Deserialize)]
pub struct ActivityQuery {
    action: Option<String>,
    profile_id: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
}

/// One event as listed.
pub struct Event {
    pub when: String,
    pub action: String,
    pub profile: Option<String>,
    pub actor: String,
    pub details: String,
    pub ip: String,
}

#[derive(Template)]
#[template(path = "ui/admin/activity.html")]
struct ActivityPage {
    ctx: Ctx,
    action: String,
    profile_id: String,
    since: String,
    items: Vec<Event>,
    next: Option<String>,
    error: Option<String>,
}

pub async fn activity(
    State(state): State<AppState>,
    admin: Admin,
    Params(q): Params<ActivityQuery>,
) -> UiResult {
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let action = q.action.clone().unwrap_or_default();
    let profile_id = q.profile_id.clone().unwrap_or_default();
    let since = q.since.clone().unwrap_or_default();
    let params = ActivityParams {
        action: Some(action.clone()),
        profile_id: Some(profile_id.clone()),
        // A day from the date field: from its start (UTC), as the API reads instants.
        since: (!since.is_empty()).then(|| format!("{since}T00:00:00Z")),
        limit: Some("50".into()),
        cursor: q.cursor.clone(),
    };
    let (items, next, error, status) = match activity::list(&state, &params).await {
        Ok((items, next)) => (items, next, None, StatusCode::OK),
        Err(Error::Invalid { fields, .. }) => {
            let errors = FieldErrors::from_api(lang, &fields);
            let why = errors
                .0
                .iter()
                .map(|(f, w)| format!("{f}: {w}"))
                .collect::<Vec<_>>()
                .join("; ");
            (
                Vec::new(),
                None,
                Some(why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => return Err(e.into()),
    };
    let page = ActivityPage {
        ctx: admin.ctx(None),
        items: items
            .into_iter()
            .map(|e| Event {
                when: lang.datetime(e.created_at, tz),
                action: e.action,
                profile: e.profile_id.map(|p| p.to_string()),
                actor: e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                details: if e.details.is_null() || e.details == Value::Object(Default::default()) {
                    String::new()
                } else {
                    e.details.to_string()
                },
                ip: e.ip.unwrap_or_default(),
            })
            .collect(),
        next: next.map(|c| {
            format!(
                "/admin/activity?action={}&profile_id={}&since={}&cursor={c}",
                url_encode(&action),
                url_encode(&profile_id),
                url_encode(&since)
            )
        }),
        action,
        profile_id,
        since,
        error,
    };
    render_status(status, &page)
}

/// One setting as its form shows it.
pub struct SettingRow {
    pub key: String,
    pub label: String,
    pub value: String,
    pub choices: Vec<(String, bool)>,
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
fn choices_of(state: &AppState, key: &str, value: &Value) -> Vec<(String, bool)> {
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
    list.into_iter()
        .map(|v| {
            let selected = v == current;
            (v, selected)
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
                choices: choices_of(state, &s.key, &s.value),
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

#[derive(Debug, Default, serde::Deserialize)]
pub struct MailQuery {
    status: Option<String>,
    cursor: Option<String>,
}

/// One message as listed.
pub struct MailRow {
    pub to: String,
    pub template: String,
    pub status: String,
    pub attempts: i32,
    pub next: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "ui/admin/mail.html")]
struct MailPage {
    ctx: Ctx,
    statuses: Vec<(&'static str, &'static str, bool)>,
    items: Vec<MailRow>,
    next: Option<String>,
}

pub async fn mail(
    State(state): State<AppState>,
    admin: Admin,
    Params(q): Params<MailQuery>,
) -> UiResult {
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let status = q
        .status
        .clone()
        .filter(|s| ["pending", "sending", "sent", "failed"].contains(&s.as_str()));
    let params = MailParams {
        status: status.clone(),
        limit: Some(100),
        cursor: q.cursor.clone(),
    };
    let (items, next) = mail::list(&state, &params).await.or_else(|e| match e {
        Error::Invalid { .. } => Ok((Vec::new(), None)),
        e => Err(e),
    })?;
    let current = status.as_deref().unwrap_or("");
    render(&MailPage {
        ctx: admin.ctx(None),
        statuses: [
            ("", "admin.all"),
            ("pending", "admin.mail_queued"),
            ("sent", "admin.mail_sent"),
            ("failed", "admin.mail_failed"),
        ]
        .iter()
        .map(|(v, key)| (*v, lang.t(key), *v == current))
        .collect(),
        items: items
            .into_iter()
            .map(|m| MailRow {
                next: if m.status == "pending" {
                    lang.datetime(m.next_attempt_at, tz)
                } else {
                    String::new()
                },
                to: m.to,
                template: m.template,
                status: m.status,
                attempts: m.attempts,
                error: m.last_error.unwrap_or_default(),
            })
            .collect(),
        next: next.map(|c| format!("/admin/mail?status={current}&cursor={c}")),
    })
}
