//! Admin notifications (DESIGN §17): an event about a subject is one notification, raised
//! again (its `count` and `last_at`) while it is less than an hour old; each admin reads
//! them and chooses, per event, how to hear of them.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{NewMail, Result};

/// An event to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// The id a new notification gets (mails queued with it name it).
    pub id: Uuid,
    pub event: String,
    /// What it is about (a profile, a subscription, a job): the same event about the same
    /// subject within the window is one notification.
    pub subject: String,
    /// What the title and body name.
    pub data: Value,
    /// The page that shows it.
    pub link: String,
}

/// A notification as raised so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub event: String,
    pub subject: String,
    pub data: Value,
    pub link: String,
    pub count: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// When the admin who asked read it since it was last raised (`None`: unread).
    pub read_at: Option<DateTime<Utc>>,
}

/// What raising did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub id: Uuid,
    /// The count afterwards: 1 for a new notification.
    pub count: i64,
}

impl Raised {
    pub fn is_new(&self) -> bool {
        self.count == 1
    }
}

/// How an admin hears of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyMode {
    Off,
    Immediate,
    Digest,
}

impl NotifyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyMode::Off => "off",
            NotifyMode::Immediate => "immediate",
            NotifyMode::Digest => "digest",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyMode> {
        Some(match s {
            "off" => NotifyMode::Off,
            "immediate" => NotifyMode::Immediate,
            "digest" => NotifyMode::Digest,
            _ => return None,
        })
    }
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Raises `n` at `now`: the open notification of its event and subject when it is
    /// younger than `window` (its count grows, `last_at` and `data` move), else a new one
    /// (with `n.id`), queuing `mails` and a delivery to each of `webhooks` with it in the
    /// same transaction. Exact under
    /// concurrency: N raises at once count N, and the mails go out once.
    async fn raise_notification(
        &self,
        n: &NewNotification,
        window: TimeDelta,
        mails: &[NewMail],
        webhooks: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Raised>;
    /// One notification as it is now (`read_at` unset).
    async fn notification(&self, id: Uuid) -> Result<Option<Notification>>;
    /// The notifications as `admin` sees them: unread first, then the newest; only unread
    /// ones with `unread_only`; at most `limit`.
    async fn notifications_for(
        &self,
        admin: Uuid,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Notification>>;
    /// How many notifications `admin` has not read since they were last raised.
    async fn unread_notifications(&self, admin: Uuid) -> Result<i64>;
    /// `false` when there is no such notification.
    async fn mark_notification_read(
        &self,
        admin: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Every notification read by `admin`; how many were unread.
    async fn mark_all_notifications_read(&self, admin: Uuid, now: DateTime<Utc>) -> Result<u64>;
    /// The modes `admin` chose (events without a row have their default).
    async fn notification_preferences(&self, admin: Uuid) -> Result<Vec<(String, NotifyMode)>>;
    /// Sets the modes of the events named, in one transaction.
    async fn set_notification_preferences(
        &self,
        admin: Uuid,
        modes: &[(String, NotifyMode)],
    ) -> Result<()>;

    async fn create_webhook(&self, hook: &Webhook) -> Result<()>;
    /// Every webhook, oldest first.
    async fn webhooks(&self) -> Result<Vec<Webhook>>;
    async fn webhook(&self, id: Uuid) -> Result<Option<Webhook>>;
    /// `false` when there is no such webhook. Its waiting deliveries go with it.
    async fn delete_webhook(&self, id: Uuid) -> Result<bool>;
    /// Takes due deliveries (pending, or sending past their lease) for one attempt each:
    /// their attempts counted, leased until `lease_until`. One instance gets each.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// The attempt `attempts` of a delivery went through.
    async fn delivery_sent(&self, id: Uuid, attempts: i64, now: DateTime<Utc>) -> Result<()>;
    /// The attempt `attempts` failed: tried again at `retry_at`, or given up (`None`).
    async fn delivery_failed(
        &self,
        id: Uuid,
        attempts: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// The deliveries of a notification (for admins and tests).
    async fn deliveries_of(&self, notification: Uuid) -> Result<Vec<Delivery>>;
}

/// A webhook that wants admin notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    /// `json`, `slack` or `ntfy`.
    pub format: String,
    /// The key of its `Mitai-Signature`.
    pub secret: String,
    /// The language of its titles and bodies.
    pub language: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// One notification on its way to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub notification_id: Uuid,
    pub webhook_id: Uuid,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}
