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
    /// (with `n.id`), queuing `mails` with it in the same transaction. Exact under
    /// concurrency: N raises at once count N, and the mails go out once.
    async fn raise_notification(
        &self,
        n: &NewNotification,
        window: TimeDelta,
        mails: &[NewMail],
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
}
