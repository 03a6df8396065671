//! The mail outbox: messages enqueued with the change that causes them, sent by a job.
//!
//! A message is a row naming a template, a language and the template's data; the server
//! renders and sends it. The life of a row:
//!
//! ```text
//! pending ──claim──▶ sending ──mark_mail_sent──▶ sent
//!    ▲                  │ └──mark_mail_failed(None)──▶ failed (gave up)
//!    └─mark_mail_failed(Some(retry_at))─┘
//! ```
//!
//! A claim leases the row until `now + lease` (kept in `next_attempt_at`); when a sender
//! dies without answering, the lease runs out and the next claim takes the row again, so no
//! mail is lost. Every claim counts an attempt, and a mark answers one claim (its attempt
//! number): a sender whose lease ran out cannot overwrite the outcome of a later claim.
//!
//! Other store methods enqueue mail inside their own transaction with the backend's
//! internal `enqueue_mail_in`, so a change and its mail commit together or not at all.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::Result;

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Waiting to be sent at `next_attempt_at`.
    Pending,
    /// Claimed by a sender, leased until `next_attempt_at`.
    Sending,
    Sent,
    /// Gave up after too many attempts, or the message cannot be built.
    Failed,
}

impl MailStatus {
    pub const ALL: [MailStatus; 4] = [
        MailStatus::Pending,
        MailStatus::Sending,
        MailStatus::Sent,
        MailStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sending => "sending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<MailStatus> {
        MailStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A message to enqueue. `data` holds the template's placeholders (tokens included; the
/// store clears it once the message is sent or given up).
#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    pub id: Uuid,
    /// The recipient's address.
    pub to: String,
    /// The template's name, e.g. `verify_email`.
    pub template: String,
    /// `de` or `en`.
    pub language: String,
    pub data: Value,
    /// Also the first moment the message may be sent.
    pub created_at: DateTime<Utc>,
}

impl NewMail {
    /// A message with a fresh id.
    pub fn new(
        to: impl Into<String>,
        template: impl Into<String>,
        language: impl Into<String>,
        data: Value,
        now: DateTime<Utc>,
    ) -> NewMail {
        NewMail {
            id: Uuid::now_v7(),
            to: to.into(),
            template: template.into(),
            language: language.into(),
            data,
            created_at: now,
        }
    }
}

/// A row of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMail {
    pub id: Uuid,
    pub to: String,
    pub template: String,
    pub language: String,
    /// `{}` once the message is sent or failed.
    pub data: Value,
    pub status: MailStatus,
    /// Claims so far; a claim's own attempt number identifies it to `mark_mail_*`.
    pub attempts: i32,
    /// Pending: when it may be sent. Sending: when its lease runs out.
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// How many messages are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// The mail outbox: messages enqueued with the change that causes them, sent by a job.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Enqueues one message on its own. `Conflict("mail")` if the id is taken.
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<()>;

    /// Claims up to `limit` messages due at `now` (pending ones whose time has come, and
    /// claimed ones whose lease ran out), oldest due first, and leases them until
    /// `now + lease`. Each message goes to one claimer only, however many claim at once
    /// (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one `UPDATE … RETURNING` on the
    /// single writer). Every claim counts an attempt.
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        lease: TimeDelta,
    ) -> Result<Vec<OutboxMail>>;

    /// Records that the claim with attempt number `attempt` sent the message. `false` if
    /// that claim no longer holds it (its lease ran out and someone else claimed it).
    async fn mark_mail_sent(&self, id: Uuid, attempt: i32, now: DateTime<Utc>) -> Result<bool>;

    /// Records that the claim with attempt number `attempt` failed with `error`: the
    /// message waits until `retry_at`, or with `None` is given up (`failed`). `false` if
    /// that claim no longer holds it.
    async fn mark_mail_failed(
        &self,
        id: Uuid,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool>;

    /// Queues a given-up (`failed`) message again, due at `now`, its attempts counted
    /// afresh. `false` (and nothing changed) for any other message or none.
    async fn resend_mail(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool>;

    /// The outbox (optionally only one status), oldest first, after the id `after`.
    async fn outbox(
        &self,
        status: Option<MailStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OutboxMail>>;

    async fn mail_counts(&self) -> Result<MailCounts>;

    /// Removes sent and failed messages created before `before`; returns how many.
    async fn purge_mail(&self, before: DateTime<Utc>) -> Result<u64>;
}
