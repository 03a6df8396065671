//! `/admin/notifications`: the admin's notifications (unread first, mark read, mark all
//! read) and their preferences per event (`off`, `immediate`, `digest`).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};

use super::Admin;
use crate::service::AppState;
use crate::service::notifications;
use crate::ui::forms::{FormData, Params};
use crate::ui::{Ctx, UiError, UiResult, render, see_other};

#[derive(Debug, Default, serde::Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

pub struct NoticeRow {
    pub id: String,
    pub title: String,
    pub body: String,
    pub link: String,
    pub when: String,
    pub read: bool,
}

pub struct PreferenceRow {
    pub event: &'static str,
    pub label: &'static str,
    /// (mode, its words, chosen).
    pub modes: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "ui/admin/notifications.html")]
struct NoticesPage {
    ctx: Ctx,
    items: Vec<NoticeRow>,
    preferences: Vec<PreferenceRow>,
}

pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    Params(q): Params<NoticeQuery>,
) -> UiResult {
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let (items, _) = notifications::list(&state, admin.profile(), false).await?;
    let chosen = notifications::preferences(&state, admin.profile().id).await?;
    render(&NoticesPage {
        ctx: admin.ctx(q.done.as_deref()),
        items: items
            .into_iter()
            .map(|n| NoticeRow {
                id: n.id.to_string(),
                title: n.title,
                body: n.body,
                link: n.link,
                when: if n.count > 1 {
                    lang.tf(
                        "admin.notice_times",
                        &[
                            &lang.number(n.count as f64, 0),
                            &lang.datetime(n.first_at, tz),
                            &lang.datetime(n.last_at, tz),
                        ],
                    )
                } else {
                    lang.datetime(n.last_at, tz)
                },
                read: n.read_at.is_some(),
            })
            .collect(),
        preferences: notifications::EVENTS
            .iter()
            .map(|(event, _)| PreferenceRow {
                event,
                label: lang.t(&format!("notice_event.{event}")),
                modes: ["immediate", "digest", "off"]
                    .into_iter()
                    .map(|m| {
                        (
                            m,
                            lang.t(&format!("notice_mode.{m}")),
                            chosen.get(*event).map(String::as_str) == Some(m),
                        )
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// `POST /admin/notifications/{id}/read`.
pub async fn read(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    notifications::mark_read(&state, admin.profile(), id).await?;
    Ok(see_other("/admin/notifications"))
}

/// `POST /admin/notifications/read-all`.
pub async fn read_all(State(state): State<AppState>, admin: Admin, form: FormData) -> UiResult {
    admin.check(&form)?;
    notifications::mark_all_read(&state, admin.profile()).await?;
    Ok(see_other("/admin/notifications"))
}

/// `POST /admin/notifications/preferences`: a select per event.
pub async fn save_preferences(
    State(state): State<AppState>,
    admin: Admin,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let modes: BTreeMap<String, String> = notifications::EVENTS
        .iter()
        .filter_map(|(event, _)| {
            let value = form.get(event).trim();
            (!value.is_empty()).then(|| ((*event).to_owned(), value.to_owned()))
        })
        .collect();
    notifications::set_preferences(&state, admin.profile().id, &modes).await?;
    Ok(see_other("/admin/notifications?done=saved#preferences"))
}
