//! `/admin/activity`: the activity log — every change and event with who made it —
//! filtered by action, profile and time, newest first, with older pages.

use super::Admin;
use crate::service::AppState;
use crate::service::Error;
use crate::service::admin::activity_log;
use crate::service::admin::activity_log::ActivityParams;
use crate::ui::forms::{FieldErrors, Params, url_encode};
use crate::ui::{Ctx, UiResult, render_status};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::ui::Lang;
use crate::ui::plan::{feature_name, tier_name};
use mitai_access::Registry;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ActivityQuery {
    action: Option<String>,
    profile_id: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
}

/// One event as listed: names and words, not ids and JSON.
pub struct Event {
    pub when: String,
    /// The action in words.
    pub action: String,
    /// The action's name, for the filter link.
    pub code: String,
    pub profile: Option<Person>,
    pub actor: Option<Person>,
    /// What the event is about (`feature: Weight`) and other details.
    pub facts: Vec<(String, String)>,
    /// What changed: field, before (absent for a creation), after (absent for a removal).
    pub changes: Vec<Change>,
    pub ip: String,
}

/// A profile as the log shows it: a name and an e-mail, linked.
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
}

pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Every action the server logs, for the filter's choice.
const ACTIONS: &[&str] = &[
    "register",
    "login",
    "login_failed",
    "logout",
    "email_verified",
    "password_changed",
    "password_reset_requested",
    "invitation_created",
    "account_disabled",
    "account_enabled",
    "account_deleted",
    "feature_used",
    "limit_reached",
    "coupon_redeemed",
    "coupon_failed",
    "tier_changed",
    "role_changed",
    "trial_changed",
    "restriction_set",
    "restriction_cleared",
    "setting_changed",
    "grant_created",
    "grant_paused",
    "grant_resumed",
    "grant_expired",
    "grant_revoked",
    "export_downloaded",
    "feature_created",
    "feature_updated",
    "tier_created",
    "tier_updated",
    "tier_limit_changed",
    "coupon_created",
    "coupon_updated",
    "coupons_generated",
    "mail_resent",
    "price_created",
    "price_updated",
];

/// An action in words; an action without a message reads as its name with spaces.
pub fn action_words(lang: Lang, action: &str) -> String {
    lang.try_t(&format!("event.{action}"))
        .map_or_else(|| action.replace('_', " "), str::to_owned)
}

/// Reads the details of an entry: facts (what it is about) and changes (before → after).
fn describe(
    lang: Lang,
    registry: &Registry,
    tz: chrono_tz::Tz,
    details: &Value,
) -> (Vec<(String, String)>, Vec<Change>) {
    let Some(fields) = details.as_object() else {
        return (Vec::new(), Vec::new());
    };
    let word = |key: &str| {
        lang.try_t(&format!("detail.{key}"))
            .map_or_else(|| key.replace('_', " "), str::to_owned)
    };
    let show = |key: &str, v: &Value| value_text(lang, registry, tz, key, v);
    let facts = fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "before" | "after"))
        .map(|(k, v)| (word(k), show(k, v)))
        .collect();
    let (before, after) = (fields.get("before"), fields.get("after"));
    let mut changes = Vec::new();
    if before.is_some() || after.is_some() {
        let empty = serde_json::Map::new();
        let as_map = |v: Option<&Value>| -> Option<serde_json::Map<String, Value>> {
            match v {
                Some(Value::Object(m)) => Some(m.clone()),
                Some(Value::Null) | None => None,
                Some(other) => Some([("value".to_owned(), other.clone())].into_iter().collect()),
            }
        };
        let (b, a) = (as_map(before), as_map(after));
        let keys: std::collections::BTreeSet<&String> = b
            .as_ref()
            .unwrap_or(&empty)
            .keys()
            .chain(a.as_ref().unwrap_or(&empty).keys())
            .collect();
        for key in keys {
            let side = |m: &Option<serde_json::Map<String, Value>>| {
                m.as_ref()
                    .map(|m| show(key, m.get(key.as_str()).unwrap_or(&Value::Null)))
            };
            changes.push(Change {
                field: word(key),
                before: side(&b),
                after: side(&a),
            });
        }
    }
    (facts, changes)
}

/// The details of an entry in one line of words: `Plan: Free → Basic; reason: …`.
pub fn summary(lang: Lang, registry: &Registry, tz: chrono_tz::Tz, details: &Value) -> String {
    let (facts, changes) = describe(lang, registry, tz, details);
    let none = |s: Option<String>, key: &str| s.unwrap_or_else(|| lang.t(key).to_owned());
    facts
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .chain(changes.into_iter().map(|c| {
            let before = none(c.before, "admin.new");
            format!("{}: {before} → {}", c.field, none(c.after, "admin.removed"))
        }))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A value in words: names for tiers and features, dates for instants, "unlimited" for a
/// null limit, on/off for switches.
fn value_text(lang: Lang, registry: &Registry, tz: chrono_tz::Tz, key: &str, v: &Value) -> String {
    match v {
        Value::Null if key.contains("limit") => lang.t("admin.unlimited").to_owned(),
        Value::Null => "—".to_owned(),
        Value::Bool(b) => lang.t(if *b { "admin.on" } else { "admin.off" }).to_owned(),
        Value::String(s) if matches!(key, "tier" | "default_tier" | "trial_tier") => {
            tier_name(lang, registry, s)
        }
        Value::String(s) if key == "feature" => feature_name(lang, registry, s),
        Value::String(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => lang.datetime(t.with_timezone(&chrono::Utc), tz),
            Err(_) => lang
                .try_t(&format!("value.{s}"))
                .map_or_else(|| s.clone(), str::to_owned),
        },
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "ui/admin/activity.html")]
struct ActivityPage {
    ctx: Ctx,
    action: String,
    actions: Vec<(&'static str, String)>,
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
    let mut profile_id = q.profile_id.clone().unwrap_or_default();
    // The profile filter takes an e-mail too: people are known by their addresses.
    if profile_id.contains('@')
        && let Some(id) = activity_log::profile_of_email(&state, profile_id.trim()).await?
    {
        profile_id = id.to_string();
    }
    let since = q.since.clone().unwrap_or_default();
    let params = ActivityParams {
        action: Some(action.clone()),
        profile_id: Some(profile_id.clone()),
        // A day from the date field: from its start (UTC), as the API reads instants.
        since: (!since.is_empty()).then(|| format!("{since}T00:00:00Z")),
        limit: Some("50".into()),
        cursor: q.cursor.clone(),
    };
    let (items, next, error, status) = match activity_log::list(&state, &params).await {
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
    let registry = state.registry();
    let ids: Vec<Uuid> = items
        .iter()
        .flat_map(|e| [e.profile_id, e.actor_id])
        .flatten()
        .collect();
    let named = activity_log::people(&state, ids).await?;
    let person = |id: Option<Uuid>| -> Option<Person> {
        let id = id?;
        named.get(&id).map(|(name, email)| Person {
            id: id.to_string(),
            name: name.clone(),
            email: email.clone(),
        })
    };
    let items = items
        .into_iter()
        .map(|e| {
            let (facts, changes) = describe(lang, &registry, tz, &e.details);
            Event {
                when: lang.datetime(e.created_at, tz),
                action: action_words(lang, &e.action),
                profile: person(e.profile_id),
                actor: person(e.actor_id),
                code: e.action,
                facts,
                changes,
                ip: e.ip.unwrap_or_default(),
            }
        })
        .collect();
    let page = ActivityPage {
        ctx: admin.ctx(None),
        actions: ACTIONS
            .iter()
            .map(|a| (*a, action_words(lang, a)))
            .collect(),
        items,
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
