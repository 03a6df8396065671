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
