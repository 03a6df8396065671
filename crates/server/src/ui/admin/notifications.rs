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

pub struct HookRow {
    pub id: String,
    pub url: String,
    pub format: String,
    pub events: String,
}

#[derive(Template)]
#[template(path = "ui/admin/notifications.html")]
struct NoticesPage {
    ctx: Ctx,
    items: Vec<NoticeRow>,
    preferences: Vec<PreferenceRow>,
    hooks: Vec<HookRow>,
    /// The events a new webhook may want: (event, words).
    events: Vec<(&'static str, &'static str)>,
    /// A new webhook's secret, shown this once.
    secret: Option<String>,
    /// What a test or a new webhook's form said.
    notice: Option<String>,
    hook_form: super::FormState,
}

pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    Params(q): Params<NoticeQuery>,
) -> UiResult {
    render(
        &page_of(
            &state,
            &admin,
            q.done.as_deref(),
            super::FormState::default(),
        )
        .await?,
    )
}

async fn page_of(
    state: &AppState,
    admin: &Admin,
    done: Option<&str>,
    hook_form: super::FormState,
) -> Result<NoticesPage, UiError> {
    let state = state.clone();
    let lang = admin.lang();
    let tz = state.registry().settings.usage_timezone;
    let (items, _) = notifications::list(&state, admin.profile(), false).await?;
    let chosen = notifications::preferences(&state, admin.profile().id).await?;
    let hooks = notifications::webhooks(&state)
        .await?
        .into_iter()
        .map(|h| HookRow {
            id: h.id.to_string(),
            url: h.url,
            format: h.format,
            events: h
                .events
                .iter()
                .map(|e| lang.t(&format!("notice_event.{e}")))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    Ok(NoticesPage {
        hooks,
        events: notifications::EVENTS
            .iter()
            .map(|(e, _)| (*e, lang.t(&format!("notice_event.{e}"))))
            .collect(),
        secret: None,
        notice: None,
        hook_form,
        ctx: admin.ctx(done),
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

/// `POST /admin/notifications/webhooks` (`url`, `format`, `events` checked): the new
/// webhook's secret shown once.
pub async fn add_webhook(State(state): State<AppState>, admin: Admin, form: FormData) -> UiResult {
    admin.check(&form)?;
    let mut typed = super::FormState::from_form(&form);
    let events: Vec<String> = notifications::EVENTS
        .iter()
        .filter(|(e, _)| !form.get(&format!("event_{e}")).is_empty())
        .map(|(e, _)| (*e).to_owned())
        .collect();
    match notifications::create_webhook(
        &state,
        admin.profile(),
        typed.value("url"),
        &events,
        typed.value("format"),
    )
    .await
    {
        Ok(made) => {
            let mut page = page_of(&state, &admin, None, super::FormState::default()).await?;
            page.secret = Some(made.secret);
            render(&page)
        }
        Err(e) => {
            let status = crate::ui::status_of(&e);
            typed.refused(admin.lang(), e)?;
            let page = page_of(&state, &admin, None, typed).await?;
            crate::ui::render_status(status, &page)
        }
    }
}

/// `POST /admin/notifications/webhooks/{id}/delete`.
pub async fn delete_webhook(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    notifications::delete_webhook(&state, id).await?;
    Ok(see_other("/admin/notifications?done=saved#webhooks"))
}

/// `POST /admin/notifications/webhooks/{id}/test`: a sample sent now; the outcome shown.
pub async fn test_webhook(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    form: FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| UiError::NotFound)?;
    let outcome = notifications::test_webhook(&state, id).await?;
    let lang = admin.lang();
    let mut page = page_of(&state, &admin, None, super::FormState::default()).await?;
    page.notice = Some(if outcome.delivered {
        lang.t("admin.webhook_test_ok").to_owned()
    } else {
        lang.tf(
            "admin.webhook_test_failed",
            &[&outcome.error.unwrap_or_default()],
        )
    });
    render(&page)
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
