//! `/admin/mail`: the outbox — recipient, template, status, attempts, next attempt, last
//! error.

use super::Admin;
use crate::service::AppState;
use crate::service::Error;
use crate::service::admin::mail;
use crate::service::admin::mail::MailParams;
use crate::ui::forms::Params;
use crate::ui::{Ctx, UiResult, render};
use askama::Template;
use axum::extract::State;

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
