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
    done: Option<String>,
}

/// One message as listed.
pub struct MailRow {
    pub id: String,
    pub to: String,
    pub template: String,
    pub status: String,
    /// Given up: an admin may send it again.
    pub failed: bool,
    pub attempts: i32,
    pub created: String,
    /// When it went out, or when it is tried next.
    pub when: String,
    pub error: String,
    /// The message itself: subject and text (tokens hidden).
    pub subject: String,
    pub text: String,
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
    let (items, next) = mail::list_read(&state, &params)
        .await
        .or_else(|e| match e {
            Error::Invalid { .. } => Ok((Vec::new(), None)),
            e => Err(e),
        })?;
    let current = status.as_deref().unwrap_or("");
    render(&MailPage {
        ctx: admin.ctx(q.done.as_deref()),
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
            .map(|(m, read)| {
                let (subject, text) = read.unwrap_or_default();
                MailRow {
                    when: match (m.status.as_str(), m.sent_at) {
                        (_, Some(sent)) => {
                            lang.tf("admin.mail_sent_at", &[&lang.datetime(sent, tz)])
                        }
                        ("pending", _) => lang.tf(
                            "admin.mail_next_at",
                            &[&lang.datetime(m.next_attempt_at, tz)],
                        ),
                        _ => String::new(),
                    },
                    created: lang.datetime(m.created_at, tz),
                    id: m.id.to_string(),
                    failed: m.status == "failed",
                    to: m.to,
                    template: lang
                        .try_t(&format!("mail_template.{}", m.template))
                        .map_or_else(|| m.template.clone(), str::to_owned),
                    status: lang
                        .try_t(&format!("mail_status.{}", m.status))
                        .map_or_else(|| m.status.clone(), str::to_owned),
                    attempts: m.attempts,
                    error: m.last_error.unwrap_or_default(),
                    subject,
                    text,
                }
            })
            .collect(),
        next: next.map(|c| format!("/admin/mail?status={current}&cursor={c}")),
    })
}

/// `POST /admin/mail/{id}/resend`: a given-up message is queued again.
pub async fn resend(
    State(state): State<AppState>,
    admin: Admin,
    crate::http::client_ip::ClientIp(ip): crate::http::client_ip::ClientIp,
    axum::extract::Path(id): axum::extract::Path<String>,
    form: crate::ui::forms::FormData,
) -> UiResult {
    admin.check(&form)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| crate::ui::UiError::NotFound)?;
    match mail::resend(&state, admin.profile(), ip, id).await {
        Ok(()) | Err(Error::NotFound) => Ok(crate::ui::see_other("/admin/mail?done=mail_resent")),
        Err(e) => Err(e.into()),
    }
}
