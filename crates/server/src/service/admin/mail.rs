//! The mail outbox as admins see it (without the messages' data, which holds tokens).

use mitai_store::{MailStatus, OutboxMail};
use uuid::Uuid;

use crate::service::AppState;
use crate::service::{Error, Result};
use chrono::DateTime;
use chrono::Utc;
use serde::Deserialize;
use serde::Serialize;
use utoipa::IntoParams;
use utoipa::ToSchema;

/// The messages waiting to be sent (at most `max`, oldest first): the overview's mail health.
pub async fn waiting(state: &AppState, max: i64) -> Result<Vec<OutboxMail>> {
    Ok(state
        .store
        .outbox(Some(MailStatus::Pending), None, max)
        .await?)
}

/// A page of the outbox, oldest first, optionally of one status, and the next cursor.
/// Refuses an unknown status, then a limit outside 1–500, then a bad cursor (422).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    state: &AppState,
    params: &MailParams,
) -> Result<(Vec<MailView>, Option<String>)> {
    let (items, next) = page(state, params).await?;
    Ok((items.into_iter().map(MailView::from).collect(), next))
}

async fn page(state: &AppState, params: &MailParams) -> Result<(Vec<OutboxMail>, Option<String>)> {
    let status =
        match params.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(MailStatus::parse(s).ok_or_else(|| {
                Error::field("status", "must be pending, sending, sent or failed")
            })?),
        };
    let limit = match params.limit {
        None => 50,
        Some(n) if (1..=500).contains(&n) => n,
        Some(_) => return Err(Error::field("limit", "must be from 1 to 500")),
    };
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| Error::field("cursor", "is not a cursor of this list"))?,
        ),
    };
    let mut items = state.store.outbox(status, after, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or(0));
        items.last().map(|m| m.id.to_string())
    } else {
        None
    };
    Ok((items, next_cursor))
}

/// Sends a given-up message again (due now) and logs `mail_resent`. Refuses an unknown
/// message or one that is not given up (404: there is nothing to send again).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resend(
    state: &AppState,
    admin: &mitai_store::Profile,
    ip: Option<String>,
    id: Uuid,
) -> Result<()> {
    if !state.store.resend_mail(id, state.now()).await? {
        return Err(Error::NotFound);
    }
    let subject = serde_json::json!({ "mail_id": id });
    let (before, after) = (
        serde_json::json!({"status": "failed"}),
        serde_json::json!({"status": "pending"}),
    );
    let action = mitai_store::actions::MAIL_RESENT;
    crate::service::activity_log::audit(state, admin, ip, None, action, subject, before, after)
        .await;
    Ok(())
}

/// A page of the outbox as [`list`] gives it, each message with its subject and text as
/// an admin may read them (tokens hidden; a sent message's values are gone).
pub async fn list_read(
    state: &AppState,
    params: &MailParams,
) -> Result<(Vec<(MailView, Option<(String, String)>)>, Option<String>)> {
    let (items, next) = page(state, params).await?;
    let registry = state.registry();
    let settings = &registry.settings;
    let base = settings
        .base_url
        .as_deref()
        .unwrap_or(&state.config.base_url);
    let read = items
        .into_iter()
        .map(|m| {
            let text = crate::mail::templates::preview(
                &m.template,
                &m.language,
                &m.data,
                base,
                settings.usage_timezone,
            );
            (MailView::from(m), text)
        })
        .collect();
    Ok((read, next))
}

/// One message of the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailView {
    pub id: Uuid,
    pub to: String,
    /// `verify_email`, `invitation`, `password_reset`, `trial_ending`, `grant_expiring`,
    /// `coupon_redeemed` or `weigh_in_reminder`.
    pub template: String,
    pub language: String,
    /// `pending`, `sending`, `sent` or `failed` (given up).
    pub status: String,
    /// Sending attempts so far.
    pub attempts: i32,
    /// Pending: the next attempt. Sending: when the sender's lease runs out.
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxMail> for MailView {
    fn from(m: OutboxMail) -> MailView {
        MailView {
            id: m.id,
            to: m.to,
            template: m.template,
            language: m.language,
            status: m.status.as_str().to_owned(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MailParams {
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
