//! The send job: claims due mail from the outbox, renders and sends it, and records the
//! outcome. A failed attempt waits with exponential backoff; after [`MAX_ATTEMPTS`] the
//! message is given up. An SMTP outage therefore loses nothing: the mail stays in the
//! outbox and goes out on a later run.

use chrono::{DateTime, TimeDelta, Utc};
use mitai_store::{NewMail, OutboxMail};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::mail::templates::{self, RenderError};
use crate::mail::{Outgoing, SendError};
use crate::service::AppState;

/// Attempts before a message is given up (about 38 hours of retries in all).
pub const MAX_ATTEMPTS: i32 = 15;
/// The wait after the first failed attempt; it doubles with every further one.
pub const FIRST_RETRY: TimeDelta = TimeDelta::minutes(1);
/// The longest wait between two attempts.
pub const MAX_RETRY: TimeDelta = TimeDelta::hours(6);
/// How long a claimed message is reserved for its sender. A sender that dies without
/// answering loses the message to the next run only after this.
pub const LEASE: TimeDelta = TimeDelta::minutes(10);
/// Messages claimed at once (each is sent within the lease: SMTP commands time out after
/// 20 seconds).
const BATCH: i64 = 10;
/// Messages one run handles at most; the rest waits for the next run.
const PER_RUN: usize = 500;

/// What one run of the send job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MailReport {
    pub sent: u64,
    /// Failed attempts that will be retried.
    pub retrying: u64,
    /// Messages given up.
    pub failed: u64,
    /// Why the last failed attempt failed (for the notification; not reported).
    #[serde(skip)]
    pub last_error: Option<String>,
}

/// When to try again after attempt number `attempts` failed; `None`: give up.
pub fn retry_at(attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let wait = FIRST_RETRY
        .checked_mul(1 << doublings.min(20))
        .map_or(MAX_RETRY, |w| w.min(MAX_RETRY));
    Some(now + wait)
}

/// Enqueues one message on its own (for changes that have no transaction of their own in
/// the store; store methods enqueue inside theirs).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn enqueue(
    state: &AppState,
    to: &str,
    template: &str,
    language: &str,
    data: Value,
) -> mitai_store::Result<NewMail> {
    let mail = NewMail::new(to, template, language, data, state.now());
    state.store.enqueue_mail(&mail).await?;
    Ok(mail)
}

/// Sends what is due. Store failures end the run (the claimed mail is retried when its
/// lease runs out); failures of single messages are recorded on them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn send_due(state: &AppState) -> mitai_store::Result<MailReport> {
    let report = send_round(state).await?;
    // Mail that could not be sent: the admins hear of it (one notification an hour).
    if report.failed + report.retrying > 0 {
        let counts = state.store.mail_counts().await?;
        let error = report.last_error.clone().unwrap_or_default();
        crate::service::notifications::raise_now(
            state,
            "mail_failing",
            "mail".into(),
            serde_json::json!({
                "failed": counts.failed,
                "waiting": counts.pending + counts.sending,
                "error": error,
            }),
            "/admin/mail?status=failed".into(),
        )
        .await;
    }
    Ok(report)
}

async fn send_round(state: &AppState) -> mitai_store::Result<MailReport> {
    let mut report = MailReport::default();
    let mut handled = 0;
    while handled < PER_RUN {
        let claimed = state.store.claim_mail(state.now(), BATCH, LEASE).await?;
        let done = claimed.len() < usize::try_from(BATCH).unwrap_or(usize::MAX);
        for mail in claimed {
            handled += 1;
            send_one(state, &mail, &mut report).await?;
        }
        if done {
            break;
        }
    }
    Ok(report)
}

async fn send_one(
    state: &AppState,
    mail: &OutboxMail,
    report: &mut MailReport,
) -> mitai_store::Result<()> {
    // A notification's mail says how often it happened by the time it is sent.
    let with_count;
    let mail = if mail.template == "notification"
        && let Some(id) = mail.data["notification_id"]
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
    {
        let mut data = mail.data.clone();
        data["times"] = serde_json::json!(
            crate::service::notifications::times_text(state, id, &mail.language).await
        );
        with_count = OutboxMail {
            data,
            ..mail.clone()
        };
        &with_count
    } else {
        mail
    };
    let outcome = match render(state, mail) {
        Ok(outgoing) => state.mailer.send(&outgoing).await,
        Err(e) => Err(SendError::Permanent(e.to_string())),
    };
    let now = state.now();
    match outcome {
        Ok(()) => {
            state
                .store
                .mark_mail_sent(mail.id, mail.attempts, now)
                .await?;
            tracing::info!(id = %mail.id, template = %mail.template, "mail sent");
            report.sent += 1;
        }
        Err(e) => {
            let (why, retry) = match &e {
                SendError::Transient(why) => (why, retry_at(mail.attempts, now)),
                SendError::Permanent(why) => (why, None),
            };
            let why: String = why.chars().take(1000).collect();
            report.last_error = Some(why.chars().take(200).collect());
            state
                .store
                .mark_mail_failed(mail.id, mail.attempts, &why, retry)
                .await?;
            match retry {
                Some(at) => {
                    tracing::warn!(id = %mail.id, attempt = mail.attempts, retry_at = %at,
                        error = %why, "mail not sent; will retry");
                    report.retrying += 1;
                }
                None => {
                    tracing::error!(id = %mail.id, attempt = mail.attempts, error = %why,
                        "mail not sent; given up");
                    report.failed += 1;
                }
            }
        }
    }
    Ok(())
}

/// The message in its language, with the sender and link base of the settings.
fn render(state: &AppState, mail: &OutboxMail) -> Result<Outgoing, RenderError> {
    let registry = state.registry();
    let settings = &registry.settings;
    let base_url = settings
        .base_url
        .as_deref()
        .unwrap_or(&state.config.base_url);
    let rendered = templates::render(
        &mail.template,
        &mail.language,
        &mail.data,
        base_url,
        settings.usage_timezone,
    )?;
    Ok(Outgoing {
        id: mail.id,
        from: settings.mail_from.clone(),
        to: mail.to.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_gives_up() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let wait = |n| retry_at(n, now).map(|t| t - now);
        assert_eq!(wait(1), Some(TimeDelta::minutes(1)));
        assert_eq!(wait(2), Some(TimeDelta::minutes(2)));
        assert_eq!(wait(5), Some(TimeDelta::minutes(16)));
        assert_eq!(wait(9), Some(TimeDelta::minutes(256)));
        assert_eq!(wait(10), Some(TimeDelta::hours(6)));
        assert_eq!(wait(MAX_ATTEMPTS - 1), Some(TimeDelta::hours(6)));
        assert_eq!(wait(MAX_ATTEMPTS), None);
        let total: TimeDelta = (1..MAX_ATTEMPTS).filter_map(wait).sum();
        assert!(total > TimeDelta::hours(36), "{total}");
    }
}
