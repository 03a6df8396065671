//! Admin notifications (DESIGN §17): events raised where they happen, one notification per
//! event and subject within an hour, read in the admin's language, with each admin's choice
//! per event (`off`, `immediate`, `digest`).
//!
//! Raising never slows the request that caused it: it runs in a task of its own.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use mitai_store::notifications::{NewNotification, Notification, NotifyMode};
use mitai_store::{NewMail, Profile, ProfileFilter, ProfileOrder, Role};

use super::{AppState, Error, Result};

/// The same event about the same subject within this long is one notification.
pub const WINDOW: TimeDelta = TimeDelta::hours(1);

/// Every event, with its default mode: failures and disputes at once, the rest in the digest.
pub const EVENTS: &[(&str, NotifyMode)] = &[
    ("user_registered", NotifyMode::Digest),
    ("subscription_started", NotifyMode::Digest),
    ("subscription_canceled", NotifyMode::Digest),
    ("payment_failed", NotifyMode::Immediate),
    ("payment_refunded", NotifyMode::Digest),
    ("dispute_opened", NotifyMode::Immediate),
    ("coupon_exhausted", NotifyMode::Digest),
    ("mail_failing", NotifyMode::Immediate),
    ("job_failed", NotifyMode::Immediate),
    ("webhook_failed", NotifyMode::Immediate),
    ("partner_joined", NotifyMode::Digest),
];

/// The title and body of each event in English and German; `{name}` is a value of the
/// notification's data.
const TEXTS: &[(&str, [&str; 4])] = &[
    (
        "user_registered",
        [
            "New person: {email}",
            "{email} signed up ({how}).",
            "Neue Person: {email}",
            "{email} hat sich registriert ({how}).",
        ],
    ),
    (
        "subscription_started",
        [
            "Subscription started: {email}",
            "{email} subscribed to {price}; paid until {period_end}.",
            "Abo begonnen: {email}",
            "{email} hat {price} abonniert; bezahlt bis {period_end}.",
        ],
    ),
    (
        "subscription_canceled",
        [
            "Subscription ends: {email}",
            "The subscription of {email} to {price} ends on {period_end}.",
            "Abo endet: {email}",
            "Das Abo von {email} für {price} endet am {period_end}.",
        ],
    ),
    (
        "payment_failed",
        [
            "Payment failed: {email}",
            "A payment of {amount} by {email} failed; Stripe tries again.",
            "Zahlung fehlgeschlagen: {email}",
            "Eine Zahlung über {amount} von {email} ist fehlgeschlagen; Stripe versucht es erneut.",
        ],
    ),
    (
        "payment_refunded",
        [
            "Payment refunded: {email}",
            "A payment of {amount} by {email} was refunded.",
            "Zahlung erstattet: {email}",
            "Eine Zahlung über {amount} von {email} wurde erstattet.",
        ],
    ),
    (
        "dispute_opened",
        [
            "Payment disputed: {email}",
            "{email} disputed a payment of {amount}; the pass is paused until it is decided.",
            "Zahlung angefochten: {email}",
            "{email} hat eine Zahlung über {amount} angefochten; der Pass ruht, bis entschieden ist.",
        ],
    ),
    (
        "coupon_exhausted",
        [
            "Coupon used up: {code}",
            "The coupon {code} ({campaign}) reached its cap of {cap} redemptions.",
            "Gutschein aufgebraucht: {code}",
            "Der Gutschein {code} ({campaign}) hat seine Grenze von {cap} Einlösungen erreicht.",
        ],
    ),
    (
        "mail_failing",
        [
            "Mail is failing",
            "{failed} messages were given up, {waiting} wait; last error: {error}",
            "E-Mail-Versand schlägt fehl",
            "{failed} Nachrichten aufgegeben, {waiting} warten; letzter Fehler: {error}",
        ],
    ),
    (
        "job_failed",
        [
            "A job failed: {job}",
            "The job {job} failed: {error}",
            "Ein Job ist fehlgeschlagen: {job}",
            "Der Job {job} ist fehlgeschlagen: {error}",
        ],
    ),
    (
        "webhook_failed",
        [
            "A Stripe event failed: {type}",
            "The event {event} could not be applied: {error}",
            "Ein Stripe-Ereignis ist fehlgeschlagen: {type}",
            "Das Ereignis {event} konnte nicht angewendet werden: {error}",
        ],
    ),
    (
        "partner_joined",
        [
            "New partner member: {partner}",
            "{partner} has {members} members now.",
            "Neues Partner-Mitglied: {partner}",
            "{partner} hat jetzt {members} Mitglieder.",
        ],
    ),
];

/// `text` with each `{name}` replaced by the data's value (a missing one as `–`).
fn fill(text: &str, data: &Value) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &rest[open + 1..open + close];
        match &data[name] {
            Value::String(s) => out.push_str(s),
            Value::Null => out.push('–'),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The title and body of a notification in `language` (`de`, else English).
pub fn words(event: &str, data: &Value, language: &str) -> (String, String) {
    let Some((_, texts)) = TEXTS.iter().find(|(e, _)| *e == event) else {
        return (event.replace('_', " "), String::new());
    };
    let (title, body) = if language == "de" {
        (texts[2], texts[3])
    } else {
        (texts[0], texts[1])
    };
    (fill(title, data), fill(body, data))
}

/// Raises `event` about `subject` (in a task: the caller never waits for it).
pub fn raise(state: &AppState, event: &'static str, subject: String, data: Value, link: String) {
    let state = state.clone();
    tokio::spawn(async move { raise_now(&state, event, subject, data, link).await });
}

/// Raises `event` about `subject` now; a failure is logged (a notification is never worth
/// failing the work that raised it).
pub async fn raise_now(
    state: &AppState,
    event: &'static str,
    subject: String,
    data: Value,
    link: String,
) {
    let n = NewNotification {
        id: Uuid::now_v7(),
        event: event.to_owned(),
        subject,
        data,
        link,
    };
    let now = state.now();
    let webhooks: Vec<Uuid> = match state.store.webhooks().await {
        Ok(hooks) => hooks
            .into_iter()
            .filter(|h| h.events.iter().any(|e| e == event))
            .map(|h| h.id)
            .collect(),
        Err(e) => {
            tracing::warn!(event, error = %e, "the webhooks to tell were not found");
            Vec::new()
        }
    };
    let mails = match immediate_mails(state, &n, now).await {
        Ok(mails) => mails,
        Err(e) => {
            tracing::warn!(event, error = %e, "the admins to mail at once were not found");
            Vec::new()
        }
    };
    if let Err(e) = state
        .store
        .raise_notification(&n, WINDOW, &mails, &webhooks, now)
        .await
    {
        tracing::warn!(event, error = %e, "a notification was not raised");
    }
}

/// The mail to each active admin who hears of `n`'s event at once, in their language (sent
/// only if `n` is new; its count is read when it is sent, so a notification raised again
/// while its mail waits is counted in it).
async fn immediate_mails(
    state: &AppState,
    n: &NewNotification,
    now: DateTime<Utc>,
) -> mitai_store::Result<Vec<NewMail>> {
    let filter = ProfileFilter {
        role: Some(Role::Admin),
        disabled: Some(false),
        ..ProfileFilter::default()
    };
    let admins = state
        .store
        .find_profiles(&filter, ProfileOrder::default(), None, 100)
        .await?;
    let default = EVENTS
        .iter()
        .find(|(e, _)| *e == n.event)
        .map_or(NotifyMode::Digest, |(_, m)| *m);
    let mut mails = Vec::new();
    for admin in admins {
        let mode = state
            .store
            .notification_preferences(admin.id)
            .await?
            .into_iter()
            .find(|(e, _)| *e == n.event)
            .map_or(default, |(_, m)| m);
        if mode != NotifyMode::Immediate {
            continue;
        }
        let (title, body) = words(&n.event, &n.data, &admin.language);
        mails.push(NewMail::new(
            admin.email.clone(),
            "notification",
            admin.language.clone(),
            serde_json::json!({
                "notification_id": n.id,
                "name": admin.name,
                "title": title,
                "body": body,
                "path": n.link,
            }),
            now,
        ));
    }
    Ok(mails)
}

/// The daily digest: for each active admin, once a day from `notification_digest_hour` (in
/// the usage time zone), one mail listing the notifications of their `digest` events since
/// their previous digest (the last 24 hours for the first) — never an empty one, never two
/// a day (a mark per admin and local day, across instances). Answers how many went out.
pub async fn send_digests(state: &AppState, now: DateTime<Utc>) -> mitai_store::Result<u64> {
    let registry = state.registry();
    let tz = registry.settings.usage_timezone;
    let local = now.with_timezone(&tz);
    if i64::from(chrono::Timelike::hour(&local)) < registry.settings.notification_digest_hour {
        return Ok(0);
    }
    let day = local.date_naive().to_string();
    let filter = ProfileFilter {
        role: Some(Role::Admin),
        disabled: Some(false),
        ..ProfileFilter::default()
    };
    let admins = state
        .store
        .find_profiles(&filter, ProfileOrder::default(), None, 100)
        .await?;
    let mut sent = 0;
    for admin in admins {
        let chosen = state.store.notification_preferences(admin.id).await?;
        let mode = |event: &str| {
            chosen
                .iter()
                .find(|(e, _)| e == event)
                .map(|(_, m)| *m)
                .or_else(|| EVENTS.iter().find(|(e, _)| *e == event).map(|(_, m)| *m))
        };
        let since = state
            .store
            .last_done("notification_digest", admin.id)
            .await?
            .unwrap_or(now - TimeDelta::days(1));
        let items: Vec<Notification> = state
            .store
            .notifications_for(admin.id, false, 500)
            .await?
            .into_iter()
            .filter(|n| n.last_at > since && mode(&n.event) == Some(NotifyMode::Digest))
            .collect();
        if items.is_empty() {
            continue;
        }
        let german = admin.language == "de";
        let lines: Vec<String> = items
            .iter()
            .map(|n| {
                let (title, body) = words(&n.event, &n.data, &admin.language);
                let times = match (german, n.count) {
                    (_, 1) => String::new(),
                    (true, c) => format!(" ({c}-mal)"),
                    (false, c) => format!(" ({c} times)"),
                };
                format!("• {title}{times}: {body}")
            })
            .collect();
        let mail = NewMail::new(
            admin.email.clone(),
            "notification_digest",
            admin.language.clone(),
            serde_json::json!({
                "name": admin.name,
                "count": items.len(),
                "items": lines.join("\n"),
                "path": "/admin/notifications",
            }),
            now,
        );
        if state
            .store
            .once(
                "notification_digest",
                admin.id,
                &day,
                now,
                Some(&mail),
                None,
            )
            .await?
        {
            sent += 1;
        }
    }
    Ok(sent)
}

/// What a notification mail says of how often it happened, read when it is sent.
pub async fn times_text(state: &AppState, id: Uuid, language: &str) -> String {
    let count = match state.store.notification(id).await {
        Ok(Some(n)) => n.count,
        _ => 1,
    };
    match (language == "de", count) {
        (true, 1) => "Einmal passiert.".to_owned(),
        (true, n) => format!("{n}-mal passiert innerhalb einer Stunde."),
        (false, 1) => "Happened once.".to_owned(),
        (false, n) => format!("Happened {n} times within an hour."),
    }
}

/// A notification as an admin reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    pub event: String,
    pub title: String,
    pub body: String,
    /// How often it happened (the same event about the same subject within an hour).
    pub count: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// When this admin read it since it last happened; `null`: unread.
    pub read_at: Option<DateTime<Utc>>,
    /// The page that shows it.
    pub link: String,
}

fn view(n: Notification, language: &str) -> NotificationView {
    let (title, body) = words(&n.event, &n.data, language);
    NotificationView {
        id: n.id,
        event: n.event,
        title,
        body,
        count: n.count,
        first_at: n.first_at,
        last_at: n.last_at,
        read_at: n.read_at,
        link: n.link,
    }
}

/// The notifications as `admin` sees them (unread first; only unread ones with
/// `unread_only`), and how many are unread.
pub async fn list(
    state: &AppState,
    admin: &Profile,
    unread_only: bool,
) -> Result<(Vec<NotificationView>, i64)> {
    let items = state
        .store
        .notifications_for(admin.id, unread_only, 200)
        .await?
        .into_iter()
        .map(|n| view(n, &admin.language))
        .collect();
    Ok((items, unread(state, admin.id).await?))
}

/// How many notifications `admin` has not read (the bell).
pub async fn unread(state: &AppState, admin: Uuid) -> Result<i64> {
    Ok(state.store.unread_notifications(admin).await?)
}

pub async fn mark_read(state: &AppState, admin: &Profile, id: Uuid) -> Result<()> {
    if state
        .store
        .mark_notification_read(admin.id, id, state.now())
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

pub async fn mark_all_read(state: &AppState, admin: &Profile) -> Result<u64> {
    Ok(state
        .store
        .mark_all_notifications_read(admin.id, state.now())
        .await?)
}

/// Every event with the mode `admin` hears of it in (its default unless chosen).
pub async fn preferences(state: &AppState, admin: Uuid) -> Result<BTreeMap<String, String>> {
    let chosen = state.store.notification_preferences(admin).await?;
    Ok(EVENTS
        .iter()
        .map(|(event, default)| {
            let mode = chosen
                .iter()
                .find(|(e, _)| e == event)
                .map_or(*default, |(_, m)| *m);
            ((*event).to_owned(), mode.as_str().to_owned())
        })
        .collect())
}

/// Sets the modes of the events named (422 naming an unknown event or mode); answers the
/// whole map.
pub async fn set_preferences(
    state: &AppState,
    admin: Uuid,
    modes: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut fields = BTreeMap::new();
    let mut parsed = Vec::new();
    for (event, mode) in modes {
        if !EVENTS.iter().any(|(e, _)| e == event) {
            fields.insert(event.clone(), "no such event".to_owned());
            continue;
        }
        match NotifyMode::parse(mode) {
            Some(m) => parsed.push((event.clone(), m)),
            None => {
                fields.insert(event.clone(), "must be off, immediate or digest".to_owned());
            }
        }
    }
    if !fields.is_empty() {
        return Err(Error::Invalid {
            message: "some preferences are not valid".into(),
            fields,
        });
    }
    state
        .store
        .set_notification_preferences(admin, &parsed)
        .await?;
    preferences(state, admin).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_words_in_both_languages() {
        for (event, _) in EVENTS {
            assert!(TEXTS.iter().any(|(e, _)| e == event), "{event}");
        }
        let data = serde_json::json!({"email": "a@example.org", "how": "open"});
        assert_eq!(
            words("user_registered", &data, "de"),
            (
                "Neue Person: a@example.org".to_owned(),
                "a@example.org hat sich registriert (open).".to_owned()
            )
        );
        assert_eq!(
            words("job_failed", &serde_json::json!({}), "en").1,
            "The job – failed: –"
        );
    }
}

// --- webhooks -----------------------------------------------------------------------------

pub use mitai_store::notifications::Webhook;

/// How long one webhook call may take.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A delivery is retried for this long after its notification was raised.
const DELIVERY_FOR: TimeDelta = TimeDelta::hours(25);

/// When to try a delivery again after attempt `attempts` failed: after 1, 5, 15 and 30
/// minutes (four attempts within the first hour), then every hour for a day; `None`: give
/// up.
pub fn retry_at(
    attempts: i64,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let wait = match attempts {
        1 => TimeDelta::minutes(1),
        2 => TimeDelta::minutes(5),
        3 => TimeDelta::minutes(15),
        4 => TimeDelta::minutes(30),
        _ => TimeDelta::hours(1),
    };
    let next = now + wait;
    (next <= created_at + DELIVERY_FOR).then_some(next)
}

/// A webhook as admins see it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    /// `json`, `slack` or `ntfy`.
    pub format: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Webhook> for WebhookView {
    fn from(h: &Webhook) -> Self {
        WebhookView {
            id: h.id,
            url: h.url.clone(),
            events: h.events.clone(),
            format: h.format.clone(),
            created_at: h.created_at,
        }
    }
}

/// A new webhook's id and secret (shown this once).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewWebhookView {
    pub id: Uuid,
    /// The key of the `Mitai-Signature` header: shown only now.
    pub secret: String,
}

pub async fn webhooks(state: &AppState) -> Result<Vec<WebhookView>> {
    Ok(state
        .store
        .webhooks()
        .await?
        .iter()
        .map(WebhookView::from)
        .collect())
}

/// Adds a webhook: any `http`/`https` URL (loopback too, for a local ntfy), the events it
/// wants (at least one), its format. 422 names what is wrong.
pub async fn create_webhook(
    state: &AppState,
    admin: &Profile,
    url: &str,
    events: &[String],
    format: &str,
) -> Result<NewWebhookView> {
    let url = url.trim();
    let mut fields = BTreeMap::new();
    let valid_url = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && url.len() > "https://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && reqwest::Url::parse(url).is_ok();
    if !valid_url {
        fields.insert(
            "url".to_owned(),
            "must be an http:// or https:// URL".to_owned(),
        );
    }
    if events.is_empty() || events.iter().any(|e| !EVENTS.iter().any(|(k, _)| k == e)) {
        fields.insert(
            "events".to_owned(),
            "must name at least one event, each of the list of events".to_owned(),
        );
    }
    if !["json", "slack", "ntfy"].contains(&format) {
        fields.insert(
            "format".to_owned(),
            "must be json, slack or ntfy".to_owned(),
        );
    }
    if !fields.is_empty() {
        return Err(Error::Invalid {
            message: "the webhook is not valid".into(),
            fields,
        });
    }
    let mut wanted: Vec<String> = events.to_vec();
    wanted.sort();
    wanted.dedup();
    let hook = Webhook {
        id: Uuid::now_v7(),
        url: url.to_owned(),
        events: wanted,
        format: format.to_owned(),
        secret: format!("mitai_{}", super::credentials::new_token()),
        language: admin.language.clone(),
        created_by: Some(admin.id),
        created_at: state.now(),
    };
    state.store.create_webhook(&hook).await?;
    Ok(NewWebhookView {
        id: hook.id,
        secret: hook.secret,
    })
}

pub async fn delete_webhook(state: &AppState, id: Uuid) -> Result<()> {
    if state.store.delete_webhook(id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// What one webhook call did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookTest {
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// Its status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// The body and headers of a notification in the webhook's format, signed with its secret.
fn request(state: &AppState, hook: &Webhook, n: &Notification) -> reqwest::RequestBuilder {
    let (title, body) = words(&n.event, &n.data, &hook.language);
    let base = state
        .registry()
        .settings
        .base_url
        .clone()
        .unwrap_or_else(|| state.config.base_url.clone());
    let link = format!("{}{}", base.trim_end_matches('/'), n.link);
    let (payload, content_type, extra): (Vec<u8>, &str, Vec<(&str, String)>) =
        match hook.format.as_str() {
            "slack" => (
                serde_json::json!({"text": format!("*{title}*\n{body}\n<{link}|Open in Mitai>")})
                    .to_string()
                    .into_bytes(),
                "application/json",
                Vec::new(),
            ),
            "ntfy" => (
                body.clone().into_bytes(),
                "text/plain; charset=utf-8",
                vec![
                    // ntfy reads headers as ASCII: a title beyond it is left out.
                    ("Title", title.chars().filter(char::is_ascii).collect()),
                    ("Click", link.clone()),
                    ("Tags", "bell".to_owned()),
                ],
            ),
            _ => (
                serde_json::json!({
                    "id": n.id, "event": n.event, "title": title, "body": body,
                    "count": n.count, "first_at": n.first_at, "last_at": n.last_at,
                    "link": link,
                })
                .to_string()
                .into_bytes(),
                "application/json",
                Vec::new(),
            ),
        };
    let signature = crate::stripe::sign(&payload, &hook.secret, state.now().timestamp());
    let mut request = http()
        .post(&hook.url)
        .header("Content-Type", content_type)
        .header("Mitai-Signature", signature)
        .header("Mitai-Event", n.event.clone());
    for (name, value) in extra {
        request = request.header(name, value);
    }
    request.body(payload)
}

async fn call(request: reqwest::RequestBuilder) -> WebhookTest {
    match request.send().await {
        Ok(response) if response.status().is_success() => WebhookTest {
            delivered: true,
            status: Some(response.status().as_u16()),
            error: None,
        },
        Ok(response) => WebhookTest {
            delivered: false,
            status: Some(response.status().as_u16()),
            error: Some(format!("answered {}", response.status())),
        },
        Err(e) => WebhookTest {
            delivered: false,
            status: None,
            error: Some(e.without_url().to_string()),
        },
    }
}

/// Sends a sample notification to a webhook now (the test button).
pub async fn test_webhook(state: &AppState, id: Uuid) -> Result<WebhookTest> {
    let hook = state.store.webhook(id).await?.ok_or(Error::NotFound)?;
    let now = state.now();
    let sample = Notification {
        id: Uuid::now_v7(),
        event: "job_failed".into(),
        subject: "test".into(),
        data: serde_json::json!({"job": "test", "error": "a test of this webhook: nothing failed"}),
        link: "/admin/notifications".into(),
        count: 1,
        first_at: now,
        last_at: now,
        read_at: None,
    };
    Ok(call(request(state, &hook, &sample)).await)
}

/// Delivers the due webhook calls (the job): each claimed by one instance for one attempt,
/// rendered from the notification as it is now (a count raised while it waited is in it).
/// Answers (sent, failed attempts).
pub async fn deliver_due(state: &AppState) -> mitai_store::Result<(u64, u64)> {
    let now = state.now();
    let lease = now + WEBHOOK_TIMEOUT * 3;
    let mut done = (0, 0);
    for delivery in state.store.claim_deliveries(now, lease, 100).await? {
        let notification = state.store.notification(delivery.notification_id).await?;
        let hook = state.store.webhook(delivery.webhook_id).await?;
        let (Some(notification), Some(hook)) = (notification, hook) else {
            // Its notification or webhook is gone: nothing to send.
            state
                .store
                .delivery_sent(delivery.id, delivery.attempts, now)
                .await?;
            continue;
        };
        let outcome = call(request(state, &hook, &notification)).await;
        if outcome.delivered {
            state
                .store
                .delivery_sent(delivery.id, delivery.attempts, state.now())
                .await?;
            done.0 += 1;
        } else {
            let error = outcome.error.unwrap_or_default();
            let retry = retry_at(delivery.attempts, delivery.created_at, state.now());
            tracing::warn!(url = %hook.url, attempt = delivery.attempts, error = %error,
                retry = ?retry, "a webhook delivery failed");
            state
                .store
                .delivery_failed(delivery.id, delivery.attempts, &error, retry)
                .await?;
            done.1 += 1;
        }
    }
    Ok(done)
}
